// Two policies side by side (simulate_compare.hpp).
#include "simulate_compare.hpp"

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <ostream>
#include <set>
#include <sstream>
#include <tuple>

#include "output.hpp"

namespace bihuan::cli::sim {
namespace {

namespace fs = std::filesystem;

double number(const json& v) { return v.is_number() ? v.get<double>() : NAN; }

std::string shown(double v, bool rate) {
  if (std::isnan(v)) return "-";
  char b[32];
  if (rate)
    std::snprintf(b, sizeof b, "%.1f%%", v * 100);
  else if (v == std::floor(v) && std::fabs(v) < 1e15)
    std::snprintf(b, sizeof b, "%.0f", v);
  else
    std::snprintf(b, sizeof b, "%.2f", v);
  return b;
}

}  // namespace

std::string check_policy(const json& policy, const std::string& file) {
  if (!policy.is_object()) return file + ": expected a JSON object (a policy)";
  for (const auto& [k, v] : policy.items()) {
    if (k == "name") {
      if (!v.is_string()) return file + ": /name: expected a string";
    } else if (k == "behaviour") {
      if (!v.is_object()) return file + ": /behaviour: expected an object of behaviour members";
      Behaviour probe;
      if (auto e = from_json(v, probe); !e.empty()) return file + ": /behaviour: " + e;
    } else if (k == "plan") {
      if (auto e = check_plan(v, file); !e.empty()) return e;
    } else if (k == "definitions") {
      if (!v.is_object()) return file + ": /definitions: expected {definition id: [patch]}";
      for (const auto& [id, patch] : v.items())
        if (!patch.is_array())
          return file + ": /definitions/" + id + ": expected an array of JSON Patch operations";
    } else {
      return file + ": /" + k + ": unknown member (expected name, definitions, behaviour, plan)";
    }
  }
  return {};
}

std::string patched_workflows(const std::string& from, const json& policy, const std::string& to,
                              const std::string& file) {
  std::error_code ec;
  fs::create_directories(to, ec);
  if (ec) return "cannot create " + to + ": " + ec.message();
  const json patches = policy.value("definitions", json::object());
  std::set<std::string> applied;
  for (const auto& e : fs::directory_iterator(from, ec)) {
    if (e.path().extension() != ".json") continue;
    Problems problems(e.path().string());
    auto loaded = load_json_file(e.path().string(), problems);
    if (!loaded)
      return problems.items().empty() ? e.path().string() + ": not readable"
                                      : problems.items()[0].to_string();
    json doc = std::move(*loaded);
    std::string id = doc.is_object() ? doc.value("id", "") : "";
    if (!id.empty() && patches.contains(id)) {
      const json& ops = patches[id];
      for (std::size_t i = 0; i < ops.size(); ++i) try {
          doc = doc.patch(json::array({ops[i]}));
        } catch (const std::exception& x) {
          return file + ": /definitions/" + id + "/" + std::to_string(i) +
                 ": the operation does not apply to " + e.path().string() + " (" + x.what() + ")";
        }
      applied.insert(id);
    }
    std::ofstream(fs::path(to) / e.path().filename(), std::ios::binary | std::ios::trunc)
        << doc.dump(1) << "\n";
  }
  if (ec) return "cannot read " + from + ": " + ec.message();
  for (const auto& [id, ops] : patches.items())
    if (!applied.count(id))
      return file + ": /definitions/" + id + ": no definition with that id in " + from;
  return {};
}

json compare(const json& baseline, const RunReport& base_report, const json& variant,
             const RunReport& variant_report) {
  struct Metric {
    const char* key;
    const char* zh;
    const char* en;
    bool rate;
  };
  static const Metric kYear[] = {
      {"coverage", "督导覆盖率", "supervision coverage", true},
      {"supervisionOnTime", "按时督导率", "visits on time", true},
      {"problemsFound", "发现问题", "problems found", false},
      {"problemsClosed", "已销号", "problems closed", false},
      {"onTimeRectificationRate", "按期整改率", "rectified on time", true},
      {"overdueRectifications", "超期整改", "past the rectification deadline", false},
      {"meanDaysToClose", "平均销号天数", "mean days to close", false},
      {"problemsReopened", "复查重开", "reopened", false},
      {"problemsEscalated", "逾期上报", "escalated", false},
  };
  json rows = json::array();
  auto add = [&](const std::string& key, const std::string& zh, const std::string& en, double b,
                 double v, bool rate) {
    rows.push_back({{"key", key},
                    {"zh", zh},
                    {"en", en},
                    {"baseline", std::isnan(b) ? json() : json(b)},
                    {"variant", std::isnan(v) ? json() : json(v)},
                    {"difference", std::isnan(b) || std::isnan(v) ? json() : json(v - b)},
                    {"rate", rate}});
  };
  const json& by = baseline["city"]["byPeriod"]["year"]["all"];
  const json& vy = variant["city"]["byPeriod"]["year"]["all"];
  for (const auto& m : kYear) add(m.key, m.zh, m.en, number(by[m.key]), number(vy[m.key]), m.rate);
  // Visits: all of them, by the business's grade (a plan can visit a grade more often), and
  // per serving cadre (the cadres' workload in visits).
  double cadres_b = number(baseline["headline"]["cadres"]["serving"]),
         cadres_v = number(variant["headline"]["cadres"]["serving"]);
  double visits_b = number(by["businessesVisited"]), visits_v = number(vy["businessesVisited"]);
  add("visits", "督导走访次数", "supervision visits", visits_b, visits_v, false);
  std::set<std::string> grades;
  for (const json* st : {&baseline, &variant}) {
    const json by_grade = st->value("supervisionByGrade", json::object());  // kept: items()
    for (const auto& [g, c] : by_grade.items()) grades.insert(g);
  }
  for (const auto& g : grades) {
    auto of = [&](const json& st, const char* k) {
      const json& all = st.value("supervisionByGrade", json::object());
      return all.contains(g) ? number(all[g][k]) : 0.0;
    };
    add("visits/" + g, g + " 级主体走访次数", "visits to grade " + g + " businesses",
        of(baseline, "businessesVisited"), of(variant, "businessesVisited"), false);
    add("coverage/" + g, g + " 级主体督导覆盖率", "coverage of grade " + g + " businesses",
        of(baseline, "coverage"), of(variant, "coverage"), true);
  }
  add("visitsPerCadre", "每名在岗干部的走访次数", "visits per serving cadre",
      cadres_b > 0 ? visits_b / cadres_b : NAN, cadres_v > 0 ? visits_v / cadres_v : NAN, false);
  for (const auto& [level, zh] : {std::pair{"prefecture", "州级"}, std::pair{"city", "市级"},
                                  std::pair{"township", "乡镇"}, std::pair{"village", "村级"}}) {
    auto per_cadre = [&](const json& st) {
      double n = number(st["headline"]["cadres"]["servingByLevel"][level]);
      return n > 0 ? number(st["city"]["byPeriod"]["year"][level]["businessesVisited"]) / n : NAN;
    };
    add(std::string("visitsPerCadre/") + level, std::string("每名在岗") + zh + "干部的走访次数",
        std::string("visits per serving ") + level + " cadre", per_cadre(baseline),
        per_cadre(variant), false);
  }
  // Workload: steps applied per person of each role, and per serving cadre.
  auto per = [](const RunReport& r, const char* role, double people) {
    auto it = r.steps_by_role.find(role);
    return people > 0 ? double(it == r.steps_by_role.end() ? 0 : it->second) / people : NAN;
  };
  add("cadreSteps", "每名在岗干部的操作步数", "steps per serving cadre",
      per(base_report, "CADRE", cadres_b), per(variant_report, "CADRE", cadres_v), false);
  for (const auto& [role, zh, en] :
       {std::tuple{"ADMIN", "办公室操作步数", "office steps"},
        std::tuple{"REGULATOR", "监管所操作步数", "regulator station steps"},
        std::tuple{"INSPECTOR", "检查员操作步数", "inspector steps"}})
    add(std::string("steps/") + role, zh, en, per(base_report, role, 1),
        per(variant_report, role, 1), false);
  return rows;
}

void print_compare(const json& rows, const std::string& name, std::ostream& out) {
  out << "政策对比 Policy comparison: " << name << " (same city, seed and behaviour)\n";
  Table t({"", "基线 baseline", "政策 variant", "差值 difference"});
  for (const auto& r : rows) {
    bool rate = r.value("rate", false);
    double d = number(r["difference"]);
    std::string diff = shown(d, rate);
    if (!std::isnan(d) && d > 0) diff = "+" + diff;
    t.add({r["zh"].get<std::string>() + " " + r["en"].get<std::string>(),
           shown(number(r["baseline"]), rate), shown(number(r["variant"]), rate), diff});
  }
  t.print(out);
}

}  // namespace bihuan::cli::sim
