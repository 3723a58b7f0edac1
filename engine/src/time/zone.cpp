// TimeZone: offsets from a TZif file, and the two conversions every timer computation
// makes (instant -> wall time, wall time -> instant), each one binary search.
#include <algorithm>
#include <filesystem>
#include <fstream>
#include <limits>
#include <sstream>

#include "time/civil.hpp"
#include "time/tzif.hpp"

namespace bihuan {
namespace {

using time_detail::floor_div;
using time_detail::kMillisPerDay;
using time_detail::kMillisPerSecond;

constexpr std::size_t kMaxNameLength = 255;
constexpr std::uintmax_t kMaxFileSize = 1u << 20;
// Rules from a TZif footer are expanded into explicit transitions up to this year.
constexpr std::int32_t kRuleExpansionLastYear = 2200;

bool is_valid_zone_name(const std::string& name) {
  if (name.empty() || name.size() > kMaxNameLength || name.front() == '/' ||
      name.find("..") != std::string::npos || name.find("//") != std::string::npos) {
    return false;
  }
  return std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' ||
           c == '+' || c == '-' || c == '/';
  });
}

void report(Problems* problems, const std::string& message) {
  if (problems) problems->error("", "unknown-timezone", message);
}

// Reads the file, or returns nullopt with *why set.
std::optional<std::string> read_small_file(const std::filesystem::path& path, std::string* why) {
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec)) {
    *why = "no such zone in the time zone database";
    return std::nullopt;
  }
  const auto size = std::filesystem::file_size(path, ec);
  if (ec || size > kMaxFileSize) {
    *why = "zone file is unreadable or too large";
    return std::nullopt;
  }
  std::ifstream in(path, std::ios::binary);
  std::ostringstream buf;
  buf << in.rdbuf();
  if (!in) {
    *why = "zone file is unreadable";
    return std::nullopt;
  }
  return std::move(buf).str();
}

}  // namespace

TimeZone::TimeZone(std::string name, std::vector<Transition> transitions,
                   std::int32_t initial_offset)
    : name_(std::move(name)), initial_offset_(initial_offset) {
  std::stable_sort(
      transitions.begin(), transitions.end(),
      [](const Transition& a, const Transition& b) { return a.at_seconds < b.at_seconds; });
  // Keep only real changes of offset: abbreviation- or isdst-only changes do not matter
  // here, and from_local relies on every transition changing the offset.
  std::int32_t current = initial_offset_;
  for (const Transition& t : transitions) {
    if (!transitions_.empty() && transitions_.back().at_seconds == t.at_seconds) {
      transitions_.pop_back();  // the later entry for the same instant wins
      current = transitions_.empty() ? initial_offset_ : transitions_.back().offset;
    }
    if (t.offset == current) continue;
    transitions_.push_back(t);
    current = t.offset;
  }
}

std::shared_ptr<const TimeZone> TimeZone::utc() {
  static const std::shared_ptr<const TimeZone> zone =
      std::make_shared<const TimeZone>("UTC", std::vector<Transition>{}, 0);
  return zone;
}

std::shared_ptr<const TimeZone> TimeZone::load(const std::string& name, Problems* problems,
                                               const std::string& tzdir) {
  if (!is_valid_zone_name(name)) {
    report(problems, "'" + name +
                         "' is not a time zone name (expected an IANA name such as "
                         "Asia/Shanghai)");
    return nullptr;
  }
  std::string why;
  auto bytes = read_small_file(std::filesystem::path(tzdir) / name, &why);
  if (!bytes) {
    if (name == "UTC" || name == "Etc/UTC") return utc();
    report(problems, "unknown time zone '" + name + "': " + why + " (" + tzdir + ")");
    return nullptr;
  }
  auto data = time_detail::parse_tzif(*bytes, &why);
  if (!data) {
    report(problems, "time zone '" + name + "' cannot be read: " + why);
    return nullptr;
  }
  // A footer we cannot read only loses the far future; the stored table still holds.
  if (!data->footer.empty()) {
    time_detail::extend_with_posix_rule(data->footer, data->transitions, kRuleExpansionLastYear);
  }
  return std::make_shared<const TimeZone>(name, std::move(data->transitions), data->initial_offset);
}

std::int32_t TimeZone::offset_at(TimePoint t) const {
  const std::int64_t seconds = floor_div(t.time_since_epoch().count(), kMillisPerSecond);
  auto it =
      std::upper_bound(transitions_.begin(), transitions_.end(), seconds,
                       [](std::int64_t s, const Transition& tr) { return s < tr.at_seconds; });
  return it == transitions_.begin() ? initial_offset_ : std::prev(it)->offset;
}

void TimeZone::to_local(TimePoint t, LocalDate& d, std::int64_t& millis_of_day) const {
  const std::int64_t local =
      t.time_since_epoch().count() + std::int64_t{offset_at(t)} * kMillisPerSecond;
  const std::int64_t days = floor_div(local, kMillisPerDay);
  d = time_detail::civil_from_days(days);
  millis_of_day = local - days * kMillisPerDay;
}

TimePoint TimeZone::from_local(const LocalDate& d, std::int64_t millis_of_day) const {
  const std::int64_t local = time_detail::days_from_civil(d) * kMillisPerDay + millis_of_day;
  if (transitions_.empty()) return TimePoint(Millis(local - initial_offset_ * kMillisPerSecond));

  // Offsets stay within +-26h, so only the periods overlapping local +- 2 days can hold
  // the answer. Period k runs from transition k to k+1; period -1 precedes them all.
  const auto period_at = [this](std::int64_t ms) {
    const std::int64_t seconds = floor_div(ms, kMillisPerSecond);
    auto it =
        std::upper_bound(transitions_.begin(), transitions_.end(), seconds,
                         [](std::int64_t s, const Transition& tr) { return s < tr.at_seconds; });
    return static_cast<std::ptrdiff_t>(it - transitions_.begin()) - 1;
  };
  const auto offset_of = [this](std::ptrdiff_t k) -> std::int64_t {
    return (k < 0 ? initial_offset_ : transitions_[static_cast<std::size_t>(k)].offset) *
           kMillisPerSecond;
  };
  const auto start_of = [this](std::ptrdiff_t k) {
    return k < 0 ? std::numeric_limits<std::int64_t>::min()
                 : transitions_[static_cast<std::size_t>(k)].at_seconds * kMillisPerSecond;
  };
  const auto n = static_cast<std::ptrdiff_t>(transitions_.size());
  const std::ptrdiff_t lo = period_at(local - 2 * kMillisPerDay);
  const std::ptrdiff_t hi = period_at(local + 2 * kMillisPerDay);

  // The first period (in time) whose offset maps `local` inside it: in an overlap this
  // is the earlier of the two instants.
  for (std::ptrdiff_t k = lo; k <= hi; ++k) {
    const std::int64_t t = local - offset_of(k);
    const bool before_end = k + 1 >= n || t < start_of(k + 1);
    if (t >= start_of(k) && before_end) return TimePoint(Millis(t));
  }
  // A gap: the wall time was skipped. Use the offset in force before the transition
  // (02:30 in a 02:00->03:00 spring-forward gap becomes 03:30).
  for (std::ptrdiff_t k = std::max<std::ptrdiff_t>(lo + 1, 0); k <= hi; ++k) {
    const std::int64_t before = offset_of(k - 1), after = offset_of(k);
    const std::int64_t at = start_of(k);
    if (local >= at + before && local < at + after) return TimePoint(Millis(local - before));
  }
  return TimePoint(Millis(local - offset_of(lo)));  // unreachable for consistent data
}

}  // namespace bihuan
