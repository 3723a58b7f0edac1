// Civil dates: the day-count algorithms every other part of the time area builds on.
#include "time/civil.hpp"

#include <cstdio>

namespace bihuan {
namespace time_detail {

std::int64_t days_from_civil(const LocalDate& d) {
  // Shift to a year that starts on March 1st, so February (and its leap day) is last.
  const std::int64_t m = d.month;
  const std::int64_t y = static_cast<std::int64_t>(d.year) - (m <= 2 ? 1 : 0);
  const std::int64_t era = floor_div(y, 400);
  const std::int64_t yoe = y - era * 400;                          // [0, 399]
  const std::int64_t mp = (m + 9) % 12;                            // March = 0
  const std::int64_t doy = (153 * mp + 2) / 5 + d.day - 1;         // [0, 365]
  const std::int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;  // [0, 146096]
  return era * 146097 + doe - 719468;  // 719468 = days from 0000-03-01 to 1970-01-01
}

LocalDate civil_from_days(std::int64_t days) {
  const std::int64_t z = days + 719468;
  const std::int64_t era = floor_div(z, 146097);
  const std::int64_t doe = z - era * 146097;                                       // [0, 146096]
  const std::int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;  // [0, 399]
  const std::int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);                // [0, 365]
  const std::int64_t mp = (5 * doy + 2) / 153;                                     // [0, 11]
  const std::int64_t day = doy - (153 * mp + 2) / 5 + 1;                           // [1, 31]
  const std::int64_t month = mp < 10 ? mp + 3 : mp - 9;                            // [1, 12]
  const std::int64_t year = yoe + era * 400 + (month <= 2 ? 1 : 0);
  return LocalDate{static_cast<std::int32_t>(year), static_cast<std::uint32_t>(month),
                   static_cast<std::uint32_t>(day)};
}

LocalDate add_days(const LocalDate& d, std::int64_t n) {
  return n == 0 ? d : civil_from_days(days_from_civil(d) + n);
}

LocalDate add_months(const LocalDate& d, std::int64_t n) {
  if (n == 0) return d;
  const std::int64_t index = static_cast<std::int64_t>(d.year) * 12 + (d.month - 1) + n;
  LocalDate out;
  out.year = static_cast<std::int32_t>(floor_div(index, 12));
  out.month = static_cast<std::uint32_t>(floor_mod(index, 12) + 1);
  const unsigned last = days_in_month(out.year, out.month);
  out.day = d.day > last ? last : d.day;
  return out;
}

bool parse_fixed_digits(std::string_view text, std::size_t pos, std::size_t width, unsigned& out) {
  if (pos > text.size() || text.size() - pos < width) return false;
  unsigned v = 0;
  for (std::size_t i = pos; i < pos + width; ++i) {
    const char c = text[i];
    if (c < '0' || c > '9') return false;
    v = v * 10 + static_cast<unsigned>(c - '0');
  }
  out = v;
  return true;
}

}  // namespace time_detail

std::string LocalDate::to_string() const {
  char buf[32];
  if (year >= 0 && year <= 9999) {
    std::snprintf(buf, sizeof buf, "%04d-%02u-%02u", static_cast<int>(year), month, day);
  } else {
    std::snprintf(buf, sizeof buf, "%+05d-%02u-%02u", static_cast<int>(year), month, day);
  }
  return buf;
}

std::optional<LocalDate> parse_local_date(std::string_view text) {
  using time_detail::parse_fixed_digits;
  unsigned y = 0, m = 0, d = 0;
  if (text.size() != 10 || text[4] != '-' || text[7] != '-') return std::nullopt;
  if (!parse_fixed_digits(text, 0, 4, y) || !parse_fixed_digits(text, 5, 2, m) ||
      !parse_fixed_digits(text, 8, 2, d)) {
    return std::nullopt;
  }
  LocalDate out{static_cast<std::int32_t>(y), m, d};
  if (!time_detail::is_valid_date(out)) return std::nullopt;
  return out;
}

unsigned iso_weekday(const LocalDate& d) {
  // 1970-01-01 was a Thursday (ISO 4).
  return static_cast<unsigned>(time_detail::floor_mod(time_detail::days_from_civil(d) + 3, 7) + 1);
}

}  // namespace bihuan
