// Behaviour presets and the JSON behaviour file (simulate_behaviour.hpp).
#include "simulate_behaviour.hpp"

#include <algorithm>
#include <vector>

namespace bihuan::cli::sim {
namespace {

// Every member by its JSON name, so from_json and to_json cannot drift apart.
std::vector<std::pair<std::string, double*>> members(Behaviour& b) {
  return {{"signingOnTime", &b.signing.on_time},
          {"signingLate", &b.signing.late},
          {"inspectionOnTime", &b.inspection.on_time},
          {"inspectionLate", &b.inspection.late},
          {"listingOnTime", &b.listing.on_time},
          {"listingLate", &b.listing.late},
          {"claimOnTime", &b.claiming.on_time},
          {"claimLate", &b.claiming.late},
          {"letterReturn", &b.letter_return},
          {"visitReturn", &b.visit_return},
          {"adminReview", &b.admin_review},
          {"problemsPerVisit", &b.problems_per_visit},
          {"severityGeneral", &b.severity_general},
          {"severitySerious", &b.severity_serious},
          {"severityIllegal", &b.severity_illegal},
          {"rectifyMedianDays", &b.rectify_median_days},
          {"rectifySigma", &b.rectify_sigma},
          {"reopen", &b.reopen},
          {"dailyOnTime", &b.daily_on_time},
          {"dailyLate", &b.daily_late},
          {"dailySloppyShare", &b.daily_sloppy_share},
          {"promptDays", &b.prompt_days},
          {"rectifyWithinDeadline", &b.rectify_within_deadline}};
}

}  // namespace

Behaviour defaults() { return {}; }

Behaviour compliant() {
  Behaviour b;
  b.signing = b.inspection = b.listing = b.claiming = {1.0, 0.0};
  b.letter_return = b.visit_return = b.reopen = 0;
  b.severity_illegal = 0;
  b.daily_on_time = 1.0;
  b.daily_late = 0;
  b.prompt_days = 0;
  b.rectify_within_deadline = 1;
  return b;
}

std::string from_json(const json& doc, Behaviour& b) {
  if (!doc.is_object()) return "the behaviour file must hold a JSON object";
  auto list = members(b);
  for (const auto& [key, value] : doc.items()) {
    if (key == "$comment") continue;
    auto it = std::find_if(list.begin(), list.end(), [&](const auto& m) { return m.first == key; });
    if (it == list.end()) {
      std::string known;
      for (const auto& m : list) known += (known.empty() ? "" : ", ") + m.first;
      return "unknown behaviour \"" + key + "\" (known: " + known + ")";
    }
    if (!value.is_number() || value.get<double>() < 0)
      return "\"" + key + "\" must be a number >= 0";
    *it->second = value.get<double>();
  }
  for (const Rates* r : {&b.signing, &b.inspection, &b.listing, &b.claiming})
    if (r->on_time + r->late > 1.0 + 1e-9) return "an on-time rate plus its late rate exceeds 1";
  if (b.daily_on_time + b.daily_late > 1.0 + 1e-9) return "dailyOnTime + dailyLate exceeds 1";
  return {};
}

json to_json(const Behaviour& b) {
  Behaviour copy = b;
  json out = json::object();
  for (const auto& [key, value] : members(copy)) out[key] = *value;
  return out;
}

}  // namespace bihuan::cli::sim
