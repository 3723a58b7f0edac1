// Time in Bihuan: instants, ISO 8601 durations, time zones and working-day calendars.
//
// An instant is a TimePoint: milliseconds since the Unix epoch, UTC. Everything a person
// sees is ISO 8601 text with an offset ("2023-04-03T09:00:00+08:00"). Calendar arithmetic
// ("P3M", "P15D") happens in local time of a TimeZone read from the system tz database
// (/usr/share/zoneinfo, TZif). A Calendar adds working days: weekends, public holidays
// and the make-up working days that China moves onto weekends, from a JSON data file.
// Thread-safety: all types are immutable after construction and safe to share, except
// the record of uncovered years a Calendars keeps (note_use), which locks itself.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "bihuan/json.hpp"
#include "bihuan/problem.hpp"

namespace bihuan {

using Millis = std::chrono::milliseconds;
using TimePoint = std::chrono::sys_time<Millis>;

// An ISO 8601 duration: PnYnMnWnDTnHnMnS (fractions only on seconds), optionally with a
// leading '-' (used for reminders before a deadline). Years/months/weeks/days are
// calendar units applied in local time; hours/minutes/seconds are exact.
struct Duration {
  bool negative = false;
  std::int32_t years = 0, months = 0, weeks = 0, days = 0;
  std::int64_t millis = 0;  // the T part, exact

  bool is_zero() const;
  std::string to_string() const;  // canonical ISO text, e.g. "P1Y2M10DT2H30M"
};

// Parses ISO 8601 duration text. Returns nullopt (and sets *why if given) on malformed
// input: empty designators ("P", "PT"), unknown letters, out-of-order parts, overflow.
std::optional<Duration> parse_duration(std::string_view text, std::string* why = nullptr);

// A civil (local) date.
struct LocalDate {
  std::int32_t year = 1970;
  std::uint32_t month = 1, day = 1;
  auto operator<=>(const LocalDate&) const = default;
  std::string to_string() const;  // "2023-01-28"
};
std::optional<LocalDate> parse_local_date(std::string_view text);  // "YYYY-MM-DD"
// ISO weekday: 1 = Monday ... 7 = Sunday.
unsigned iso_weekday(const LocalDate& d);

class TimeZone {
 public:
  // Loads a zone by IANA name ("Asia/Shanghai", "UTC") from the tz database directory
  // (default /usr/share/zoneinfo). Returns nullptr and adds an error for unknown names.
  static std::shared_ptr<const TimeZone> load(const std::string& name, Problems* problems = nullptr,
                                              const std::string& tzdir = "/usr/share/zoneinfo");
  static std::shared_ptr<const TimeZone> utc();

  const std::string& name() const { return name_; }
  // UTC offset in seconds in force at instant t.
  std::int32_t offset_at(TimePoint t) const;
  // Local wall time <-> instant. For a wall time in a gap or overlap (DST), the earlier
  // offset in force is used.
  TimePoint from_local(const LocalDate& d, std::int64_t millis_of_day) const;
  void to_local(TimePoint t, LocalDate& d, std::int64_t& millis_of_day) const;

  struct Transition {
    std::int64_t at_seconds;
    std::int32_t offset;
  };
  TimeZone(std::string name, std::vector<Transition> transitions, std::int32_t initial_offset);

 private:
  std::string name_;
  std::vector<Transition> transitions_;  // sorted by at_seconds
  std::int32_t initial_offset_;
};

// "2023-04-03T09:00:00+08:00", "2023-04-03T01:00:00Z", "2023-04-03T09:00:00.250+08:00".
// A date alone ("2023-04-03") means local midnight in `tz` (UTC if null); so does a
// date-time without offset ("2023-04-03T09:00[:00]") mean that wall time in `tz`.
// Offsets: "Z", "+08:00", "+0800" (and "+08:05:43", which format_time prints for local
// mean time before 1901). Up to 9 fraction digits are accepted and truncated to
// milliseconds. Anything else, including impossible dates and times ("2023-02-30",
// "24:00"), returns nullopt.
std::optional<TimePoint> parse_time(std::string_view text, const TimeZone* tz = nullptr);
// Formats in the zone's local time with its offset; milliseconds only when non-zero.
// The zones named "UTC" and "Etc/UTC" print "Z"; every other zone prints its numeric
// offset, "+00:00" included.
std::string format_time(TimePoint t, const TimeZone& tz);

// A working-day calendar (see docs/definition-language.md, "Calendars").
class Calendar {
 public:
  // Parses a calendar document. Returns nullptr and adds errors (with pointers) on bad
  // input: unknown keys, malformed dates/ranges, a day both holiday and workday, an
  // unknown time zone.
  static std::shared_ptr<const Calendar> from_json(
      const json& doc, Problems& problems, const std::string& tzdir = "/usr/share/zoneinfo");

  const std::string& id() const { return id_; }
  const TimeZone& zone() const { return *zone_; }
  std::shared_ptr<const TimeZone> zone_ptr() const { return zone_; }

  bool is_working_day(const LocalDate& d) const;
  // Whether the calendar has explicit holiday data for that year (outside it only the
  // weekend rule applies; the engine logs a warning when it computes there).
  bool covers_year(std::int32_t year) const;
  // The covered years, ascending (may be empty).
  const std::set<std::int32_t>& years() const { return years_; }
  // The years from a's local date to b's (either order) that are not covered; at most 100
  // (a computation spanning centuries is reported by its first uncovered years).
  std::vector<std::int32_t> uncovered_years(TimePoint a, TimePoint b) const;

  // Adds `d` to `t`: Y/M/W/D in local time, then the T-part exactly. With working_days,
  // days + 5*weeks are counted in working days: each unit moves to the next working day
  // (the time of day is kept); years/months stay calendar units. Negative durations move
  // backwards the same way. So n working days after t is the n-th working day strictly
  // after t's local date (whether or not that date is a working day), at t's time of day.
  // Returns TimePoint::max()/min() only if no such day exists (a weekend of all seven
  // days, which from_json rejects).
  TimePoint add(TimePoint t, const Duration& d, bool working_days) const;
  // Number of working days in (from, to] by local date; negative if to < from.
  std::int64_t working_days_between(TimePoint from, TimePoint to) const;

  Calendar(std::string id, std::shared_ptr<const TimeZone> zone, std::set<unsigned> weekend,
           std::set<LocalDate> holidays, std::set<LocalDate> workdays,
           std::set<std::int32_t> years);

 private:
  std::string id_;
  std::shared_ptr<const TimeZone> zone_;
  std::set<unsigned> weekend_;  // ISO weekdays
  std::set<LocalDate> holidays_, workdays_;
  std::set<std::int32_t> years_;
};

// Adds a duration in plain calendar time (no working days) in zone `tz`.
TimePoint add_duration(TimePoint t, const Duration& d, const TimeZone& tz);

// A year that a working-day computation needed and its calendar has no holiday data for:
// there only the weekend rule applied.
struct CalendarGap {
  std::string calendar;
  std::int32_t year = 0;
  bool operator<(const CalendarGap& o) const {
    return calendar != o.calendar ? calendar < o.calendar : year < o.year;
  }
};

// Calendars by id, loaded from a directory of *.json files.
class Calendars {
 public:
  // Loads every *.json in `dir`; problems name each file. Duplicate ids are errors.
  static Calendars load_dir(const std::string& dir, Problems& problems);
  void add(std::shared_ptr<const Calendar> c);
  std::shared_ptr<const Calendar> find(const std::string& id) const;
  std::vector<std::string> ids() const;

  // Records that working days of `c` were computed from `a` to `b` (the engine calls it
  // for every working-day timer, deadline, time_add and time_diff). Each year outside the
  // calendar's covered years is remembered (gaps()) and, the first time only, logged as
  // one JSON line on stderr ({"level":"warn","msg":...,"calendar":...,"year":...}).
  // Cheap when every year is covered (no lock). Thread-safe; copies share the record.
  void note_use(const Calendar& c, TimePoint a, TimePoint b) const;
  // Every (calendar, year) note_use found uncovered so far, sorted.
  std::vector<CalendarGap> gaps() const;

 private:
  struct GapRecord {
    std::mutex mu;
    std::set<CalendarGap> seen;
  };
  std::map<std::string, std::shared_ptr<const Calendar>> by_id_;
  std::shared_ptr<GapRecord> gaps_ = std::make_shared<GapRecord>();
};

}  // namespace bihuan
