// Plain calendar arithmetic in a zone: the date parts move the wall-clock date, the
// T part moves the instant.
#include "time/civil.hpp"

namespace bihuan {

TimePoint add_duration(TimePoint t, const Duration& d, const TimeZone& tz) {
  const std::int64_t sign = d.negative ? -1 : 1;
  const std::int64_t months = sign * (std::int64_t{d.years} * 12 + d.months);
  const std::int64_t days = sign * (std::int64_t{d.weeks} * 7 + d.days);
  if (months != 0 || days != 0) {
    // Only a date move goes through wall time: an instant in the second occurrence of
    // an overlapping hour must not be moved by "PT1H" to the first one.
    LocalDate date;
    std::int64_t millis_of_day = 0;
    tz.to_local(t, date, millis_of_day);
    date = time_detail::add_days(time_detail::add_months(date, months), days);
    t = tz.from_local(date, millis_of_day);
  }
  return t + Millis(sign * d.millis);
}

}  // namespace bihuan
