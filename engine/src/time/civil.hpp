// Private civil-calendar arithmetic shared by the time area: proleptic Gregorian dates
// as day counts since 1970-01-01, month arithmetic with end-of-month clamping, and the
// millisecond/day split used by every local-time conversion.
#pragma once

#include <cstdint>

#include "bihuan/time.hpp"

namespace bihuan::time_detail {

inline constexpr std::int64_t kMillisPerSecond = 1000;
inline constexpr std::int64_t kMillisPerDay = 86'400'000;

// Floor division and the matching non-negative remainder (b > 0).
constexpr std::int64_t floor_div(std::int64_t a, std::int64_t b) {
  std::int64_t q = a / b;
  return (a % b != 0 && a < 0) ? q - 1 : q;
}
constexpr std::int64_t floor_mod(std::int64_t a, std::int64_t b) { return a - floor_div(a, b) * b; }

constexpr bool is_leap_year(std::int64_t y) { return y % 4 == 0 && (y % 100 != 0 || y % 400 == 0); }

// 28..31; 0 for a month outside 1..12.
constexpr unsigned days_in_month(std::int64_t y, unsigned m) {
  constexpr unsigned kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  if (m < 1 || m > 12) return 0;
  return (m == 2 && is_leap_year(y)) ? 29u : kDays[m - 1];
}

constexpr bool is_valid_date(const LocalDate& d) {
  return d.month >= 1 && d.month <= 12 && d.day >= 1 && d.day <= days_in_month(d.year, d.month);
}

// Days since 1970-01-01 of a valid date (eras of 400 years; March-based years put the
// leap day last so the day-of-year formula needs no table).
std::int64_t days_from_civil(const LocalDate& d);
// The inverse of days_from_civil, for any day count whose year fits in int32.
LocalDate civil_from_days(std::int64_t days);

// d + n days.
LocalDate add_days(const LocalDate& d, std::int64_t n);
// d + n months; the day is clamped to the end of the target month (Jan 31 + 1 = Feb 28/29).
LocalDate add_months(const LocalDate& d, std::int64_t n);

// Parses exactly `width` ASCII digits at text[pos..]; false if any is not a digit.
bool parse_fixed_digits(std::string_view text, std::size_t pos, std::size_t width, unsigned& out);

}  // namespace bihuan::time_detail
