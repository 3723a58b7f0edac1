// The POSIX TZ string of a TZif footer ("EST5EDT,M3.2.0,M11.1.0", "<+08>-8"), used to
// extend a zone's transitions past the last one stored in the file. Slim TZif files
// stop in 2007 for New York; fat ones in 2037. We expand the rule into explicit
// transitions so that lookups stay one binary search.
#include <algorithm>
#include <limits>

#include "time/civil.hpp"
#include "time/tzif.hpp"

namespace bihuan::time_detail {
namespace {

struct Cursor {
  std::string_view s;
  std::size_t pos = 0;
  bool done() const { return pos >= s.size(); }
  char peek() const { return done() ? '\0' : s[pos]; }
  bool eat(char c) {
    if (peek() != c) return false;
    ++pos;
    return true;
  }
};

bool is_digit(char c) { return c >= '0' && c <= '9'; }
bool is_alpha(char c) { return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z'); }

bool read_number(Cursor& c, int max_digits, int& out) {
  int v = 0, n = 0;
  while (n < max_digits && is_digit(c.peek())) {
    v = v * 10 + (c.s[c.pos++] - '0');
    ++n;
  }
  out = v;
  return n > 0;
}

// A zone abbreviation: "EST" or "<+08>".
bool read_name(Cursor& c) {
  if (c.eat('<')) {
    while (!c.done() && c.peek() != '>') ++c.pos;
    return c.eat('>');
  }
  std::size_t n = 0;
  while (is_alpha(c.peek())) {
    ++c.pos;
    ++n;
  }
  return n >= 3;
}

// [+-]hh[:mm[:ss]] in seconds; hours up to `max_hours`.
bool read_hms(Cursor& c, int max_hours, std::int32_t& out) {
  int sign = 1;
  if (c.eat('-')) {
    sign = -1;
  } else {
    c.eat('+');
  }
  int h = 0, m = 0, sec = 0;
  if (!read_number(c, 3, h) || h > max_hours) return false;
  if (c.eat(':') && (!read_number(c, 2, m) || m > 59)) return false;
  if (c.eat(':') && (!read_number(c, 2, sec) || sec > 59)) return false;
  out = sign * (h * 3600 + m * 60 + sec);
  return true;
}

struct DateRule {
  char kind = 'M';  // 'M' month.week.weekday, 'J' julian 1..365 without Feb 29, 'N' 0..365
  int month = 0, week = 0, weekday = 0, day = 0;
  std::int32_t time = 2 * 3600;  // local time of day, seconds (may exceed 24h or be < 0)
};

bool read_rule(Cursor& c, DateRule& r) {
  if (c.eat('M')) {
    r.kind = 'M';
    if (!read_number(c, 2, r.month) || r.month < 1 || r.month > 12 || !c.eat('.')) return false;
    if (!read_number(c, 1, r.week) || r.week < 1 || r.week > 5 || !c.eat('.')) return false;
    if (!read_number(c, 1, r.weekday) || r.weekday > 6) return false;
  } else if (c.eat('J')) {
    r.kind = 'J';
    if (!read_number(c, 3, r.day) || r.day < 1 || r.day > 365) return false;
  } else {
    r.kind = 'N';
    if (!read_number(c, 3, r.day) || r.day > 365) return false;
  }
  if (c.eat('/')) return read_hms(c, 167, r.time);  // RFC 8536 allows -167..167 hours
  return true;
}

// Days since the epoch of the rule's date in `year`.
std::int64_t rule_day(const DateRule& r, std::int32_t year) {
  const std::int64_t jan1 = days_from_civil(LocalDate{year, 1, 1});
  switch (r.kind) {
    case 'J':
      return jan1 + r.day - 1 + ((is_leap_year(year) && r.day >= 60) ? 1 : 0);
    case 'N':
      return jan1 + r.day;
    default:
      break;
  }
  const auto month = static_cast<std::uint32_t>(r.month);
  const std::int64_t first = days_from_civil(LocalDate{year, month, 1});
  // POSIX weekday: 0 = Sunday; 1970-01-01 was a Thursday (4).
  const std::int64_t first_wd = floor_mod(first + 4, 7);
  std::int64_t day = first + floor_mod(r.weekday - first_wd, 7) + 7 * std::int64_t{r.week - 1};
  const std::int64_t last = first + days_in_month(year, month) - 1;
  while (day > last) day -= 7;  // week 5 means "the last"
  return day;
}

}  // namespace

bool extend_with_posix_rule(std::string_view spec, std::vector<TimeZone::Transition>& transitions,
                            std::int32_t last_year) {
  Cursor c{spec};
  std::int32_t std_posix = 0;
  if (!read_name(c) || !read_hms(c, 24, std_posix)) return false;
  if (c.done()) return true;  // no DST: the last stored offset stays in force
  if (!read_name(c)) return false;
  const std::int32_t std_off = -std_posix;  // POSIX offsets are west-positive
  std::int32_t dst_off = std_off + 3600;
  if (!c.done() && c.peek() != ',') {
    std::int32_t dst_posix = 0;
    if (!read_hms(c, 24, dst_posix)) return false;
    dst_off = -dst_posix;
  }
  DateRule start, end;
  if (!c.eat(',') || !read_rule(c, start) || !c.eat(',') || !read_rule(c, end) || !c.done()) {
    return false;
  }
  const std::int64_t after = transitions.empty() ? std::numeric_limits<std::int64_t>::min()
                                                 : transitions.back().at_seconds;
  const std::int32_t first_year =
      transitions.empty() ? 1970
                          : civil_from_days(floor_div(transitions.back().at_seconds, 86400)).year;
  std::vector<TimeZone::Transition> extra;
  for (std::int32_t y = first_year; y <= last_year; ++y) {
    // The start rule is in standard time, the end rule in daylight time.
    const std::int64_t s = rule_day(start, y) * 86400 + start.time - std_off;
    const std::int64_t e = rule_day(end, y) * 86400 + end.time - dst_off;
    if (s <= e) {
      extra.push_back({s, dst_off});
      extra.push_back({e, std_off});
    } else {  // southern hemisphere: DST spans the new year
      extra.push_back({e, std_off});
      extra.push_back({s, dst_off});
    }
  }
  // Equal instants (all-year DST written as "J1/0,J365/25") keep the later entry.
  std::stable_sort(extra.begin(), extra.end(),
                   [](const auto& a, const auto& b) { return a.at_seconds < b.at_seconds; });
  for (std::size_t i = 0; i < extra.size(); ++i) {
    if (extra[i].at_seconds <= after) continue;
    if (i + 1 < extra.size() && extra[i + 1].at_seconds == extra[i].at_seconds) continue;
    transitions.push_back(extra[i]);
  }
  return true;
}

}  // namespace bihuan::time_detail
