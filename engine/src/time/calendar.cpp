// Working-day arithmetic over a Calendar: weekends, holidays and make-up working days.
#include <optional>

#include "time/civil.hpp"

namespace bihuan {
namespace {

using time_detail::add_days;
using time_detail::days_from_civil;

// Working weekdays per week (weekend entries outside 1..7 are ignored).
std::int64_t working_per_week(const std::set<unsigned>& weekend) {
  std::int64_t n = 7;
  for (unsigned wd : weekend) n -= (wd >= 1 && wd <= 7) ? 1 : 0;
  return n;
}

// Moves `date` to the n-th working day strictly after it (before it for n < 0). Explicit
// holidays/workdays lie within [first, last]; beyond that every 7 days hold exactly
// `per_week` working days, so whole weeks are skipped at once. Returns false if there is
// no such day: a calendar whose weekend is the whole week runs out after its last
// explicit working day.
bool step_working_days(const Calendar& cal, std::int64_t per_week,
                       const std::optional<LocalDate>& first, const std::optional<LocalDate>& last,
                       LocalDate& date, std::int64_t n) {
  const int dir = n > 0 ? 1 : -1;
  std::int64_t left = n > 0 ? n : -n;
  while (left > 0) {
    const bool plain = dir > 0 ? (!last || date >= *last) : (!first || date <= *first);
    if (plain) {
      if (per_week <= 0) return false;
      if (left > per_week) {
        const std::int64_t weeks = (left - 1) / per_week;
        date = add_days(date, std::int64_t{dir} * 7 * weeks);
        left -= weeks * per_week;
        continue;
      }
    }
    date = add_days(date, dir);
    if (cal.is_working_day(date)) --left;
  }
  return true;
}

}  // namespace

Calendar::Calendar(std::string id, std::shared_ptr<const TimeZone> zone, std::set<unsigned> weekend,
                   std::set<LocalDate> holidays, std::set<LocalDate> workdays,
                   std::set<std::int32_t> years)
    : id_(std::move(id)),
      zone_(zone ? std::move(zone) : TimeZone::utc()),
      weekend_(std::move(weekend)),
      holidays_(std::move(holidays)),
      workdays_(std::move(workdays)),
      years_(std::move(years)) {}

bool Calendar::is_working_day(const LocalDate& d) const {
  if (holidays_.count(d)) return false;
  if (workdays_.count(d)) return true;
  return !weekend_.count(iso_weekday(d));
}

bool Calendar::covers_year(std::int32_t year) const { return years_.count(year) != 0; }

std::vector<std::int32_t> Calendar::uncovered_years(TimePoint a, TimePoint b) const {
  LocalDate da, db;
  std::int64_t ignored = 0;
  zone_->to_local(a, da, ignored);
  zone_->to_local(b, db, ignored);
  std::int32_t from = std::min(da.year, db.year), to = std::max(da.year, db.year);
  std::vector<std::int32_t> out;
  for (std::int32_t y = from; y <= to && out.size() < 100; ++y)
    if (!years_.count(y)) out.push_back(y);
  return out;
}

TimePoint Calendar::add(TimePoint t, const Duration& d, bool working_days) const {
  if (!working_days) return add_duration(t, d, *zone_);
  const std::int64_t sign = d.negative ? -1 : 1;
  const std::int64_t months = sign * (std::int64_t{d.years} * 12 + d.months);
  const std::int64_t units = sign * (std::int64_t{d.days} + 5 * std::int64_t{d.weeks});
  if (months != 0 || units != 0) {
    LocalDate date;
    std::int64_t millis_of_day = 0;
    zone_->to_local(t, date, millis_of_day);
    date = time_detail::add_months(date, months);
    std::optional<LocalDate> first, last;
    for (const auto* dates : {&holidays_, &workdays_}) {
      if (dates->empty()) continue;
      if (!first || *dates->begin() < *first) first = *dates->begin();
      if (!last || *dates->rbegin() > *last) last = *dates->rbegin();
    }
    if (units != 0 &&
        !step_working_days(*this, working_per_week(weekend_), first, last, date, units)) {
      return units > 0 ? TimePoint::max() : TimePoint::min();
    }
    t = zone_->from_local(date, millis_of_day);
  }
  return t + Millis(sign * d.millis);
}

std::int64_t Calendar::working_days_between(TimePoint from, TimePoint to) const {
  LocalDate a, b;
  std::int64_t ignored = 0;
  zone_->to_local(from, a, ignored);
  zone_->to_local(to, b, ignored);
  const bool reversed = b < a;
  if (reversed) std::swap(a, b);
  // Days in (a, b] whose weekday is not weekend: whole weeks, then the remainder...
  const std::int64_t span = days_from_civil(b) - days_from_civil(a);
  std::int64_t count = span / 7 * working_per_week(weekend_);
  unsigned wd = iso_weekday(a);
  for (std::int64_t i = 0; i < span % 7; ++i) {
    wd = wd % 7 + 1;
    if (!weekend_.count(wd)) ++count;
  }
  // ...corrected for explicit dates in (a, b]: holidays on weekdays, workdays on weekends.
  for (auto it = holidays_.upper_bound(a); it != holidays_.end() && *it <= b; ++it) {
    if (!weekend_.count(iso_weekday(*it))) --count;
  }
  for (auto it = workdays_.upper_bound(a); it != workdays_.end() && *it <= b; ++it) {
    if (weekend_.count(iso_weekday(*it)) && !holidays_.count(*it)) ++count;
  }
  return reversed ? -count : count;
}

}  // namespace bihuan
