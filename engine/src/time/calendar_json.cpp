// Calendar documents (workflows/calendars/README.md): validated in full, every problem
// reported with the JSON Pointer of the element at fault.
#include <algorithm>
#include <array>
#include <map>

#include "time/civil.hpp"

namespace bihuan {
namespace {

constexpr std::array<const char*, 7> kWeekdays{"monday", "tuesday",  "wednesday", "thursday",
                                               "friday", "saturday", "sunday"};
constexpr std::size_t kMaxIdLength = 64;

bool is_valid_id(const std::string& id) {
  return !id.empty() && id.size() <= kMaxIdLength && std::all_of(id.begin(), id.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '_' || c == '.';
  });
}

// Which list a date came from, and where, to name both ends of a conflict.
using Origins = std::map<LocalDate, std::string>;

class Reader {
 public:
  Reader(Problems& problems, const std::set<unsigned>& weekend, std::set<LocalDate>& holidays,
         std::set<LocalDate>& workdays)
      : problems_(problems), weekend_(weekend), holidays_(holidays), workdays_(workdays) {}

  void read_years(const json& years) {
    if (!years.is_object()) {
      problems_.error("/years", "bad-type",
                      "'years' must be an object keyed by year, e.g. \"2023\"");
      return;
    }
    for (const auto& [key, value] : years.items()) read_year(key, value);
  }

  std::set<std::int32_t> covered;

 private:
  void read_year(const std::string& key, const json& value) {
    const std::string at = "/years/" + pointer_escape(key);
    unsigned year = 0;
    if (key.size() != 4 || !time_detail::parse_fixed_digits(key, 0, 4, year)) {
      problems_.error(at, "bad-year",
                      "year keys are four digits, e.g. \"2023\"; got '" + key + "'");
      return;
    }
    if (!value.is_object()) {
      problems_.error(at, "bad-type", "a year is an object with holidays, workdays and source");
      return;
    }
    covered.insert(static_cast<std::int32_t>(year));
    for (const auto& [name, v] : value.items()) {
      const std::string here = at + "/" + pointer_escape(name);
      if (name == "holidays" || name == "workdays") {
        read_dates(here, static_cast<std::int32_t>(year), v, name == "holidays");
      } else if (name == "source") {
        if (!v.is_string()) problems_.error(here, "bad-type", "'source' must be a string");
      } else {
        problems_.error(here, "unknown-key",
                        "unknown key '" + name + "' (expected holidays, workdays or source)");
      }
    }
  }

  void read_dates(const std::string& at, std::int32_t year, const json& list, bool holiday) {
    if (!list.is_array()) {
      problems_.error(at, "bad-type",
                      "expected an array of dates (\"2023-10-01\") and ranges "
                      "(\"2023-10-01/2023-10-07\")");
      return;
    }
    for (std::size_t i = 0; i < list.size(); ++i) {
      const std::string here = at + "/" + std::to_string(i);
      if (!list[i].is_string()) {
        problems_.error(here, "bad-date", "expected a date string such as \"2023-10-01\"");
        continue;
      }
      const std::string& text = list[i].get_ref<const std::string&>();
      LocalDate from, to;
      if (!parse_entry(here, text, year, from, to)) continue;
      for (LocalDate d = from; d <= to; d = time_detail::add_days(d, 1)) add(here, d, holiday);
    }
  }

  // "YYYY-MM-DD" or an inclusive range "YYYY-MM-DD/YYYY-MM-DD", inside `year`.
  bool parse_entry(const std::string& at, const std::string& text, std::int32_t year,
                   LocalDate& from, LocalDate& to) {
    const auto slash = text.find('/');
    const auto a = parse_local_date(std::string_view(text).substr(0, slash));
    const auto b =
        slash == std::string::npos ? a : parse_local_date(std::string_view(text).substr(slash + 1));
    if (!a || !b) {
      problems_.error(
          at, slash == std::string::npos ? "bad-date" : "bad-range",
          "'" + text + "' is not a valid date (YYYY-MM-DD) or range (YYYY-MM-DD/YYYY-MM-DD)");
      return false;
    }
    if (*b < *a) {
      problems_.error(at, "bad-range", "range '" + text + "' ends before it starts");
      return false;
    }
    if (a->year != year || b->year != year) {
      problems_.error(
          at, "date-outside-year",
          "'" + text + "' is not in " + std::to_string(year) + "; list it under its own year");
      return false;
    }
    from = *a;
    to = *b;
    return true;
  }

  void add(const std::string& at, const LocalDate& d, bool holiday) {
    Origins& same = holiday ? holiday_at_ : workday_at_;
    Origins& other = holiday ? workday_at_ : holiday_at_;
    if (auto it = other.find(d); it != other.end()) {
      problems_.error(at, "holiday-and-workday",
                      d.to_string() +
                          " is listed both as a holiday and as a working day (also at " +
                          it->second + ")");
      return;
    }
    if (auto it = same.find(d); it != same.end()) {
      problems_.warning(at, "duplicate-date",
                        d.to_string() + " is already listed at " + it->second);
      return;
    }
    same.emplace(d, at);
    (holiday ? holidays_ : workdays_).insert(d);
    // Make-up working days replace a weekend day; one on a weekday is probably a typo.
    if (!holiday && !weekend_.count(iso_weekday(d))) {
      problems_.warning(at, "workday-not-weekend",
                        d.to_string() + " is listed as a working day but is not a weekend day");
    }
  }

  Problems& problems_;
  const std::set<unsigned>& weekend_;
  std::set<LocalDate>& holidays_;
  std::set<LocalDate>& workdays_;
  Origins holiday_at_, workday_at_;
};

std::set<unsigned> read_weekend(const json& doc, Problems& problems) {
  std::set<unsigned> weekend{6, 7};
  const auto it = doc.find("weekend");
  if (it == doc.end()) return weekend;
  weekend.clear();
  if (!it->is_array()) {
    problems.error("/weekend", "bad-type", "'weekend' must be an array of weekday names");
    return weekend;
  }
  for (std::size_t i = 0; i < it->size(); ++i) {
    const std::string at = "/weekend/" + std::to_string(i);
    const json& v = (*it)[i];
    const auto found = v.is_string() ? std::find(kWeekdays.begin(), kWeekdays.end(),
                                                 v.get_ref<const std::string&>())
                                     : kWeekdays.end();
    if (found == kWeekdays.end()) {
      problems.error(at, "bad-weekday",
                     "expected a lowercase English weekday: monday, tuesday, ... sunday");
      continue;
    }
    if (!weekend.insert(static_cast<unsigned>(found - kWeekdays.begin()) + 1).second) {
      problems.error(at, "duplicate-weekday", std::string("'") + *found + "' is listed twice");
    }
  }
  if (weekend.size() == 7) {
    problems.error("/weekend", "no-working-weekday", "a weekend cannot be the whole week");
  }
  return weekend;
}

}  // namespace

std::shared_ptr<const Calendar> Calendar::from_json(const json& doc, Problems& problems,
                                                    const std::string& tzdir) {
  const std::size_t errors_before = problems.error_count();
  if (!doc.is_object()) {
    problems.error("", "bad-type", "a calendar document is a JSON object");
    return nullptr;
  }
  for (const auto& [key, value] : doc.items()) {
    if (key != "id" && key != "title" && key != "timezone" && key != "weekend" && key != "years") {
      problems.error("/" + pointer_escape(key), "unknown-key",
                     "unknown key '" + key + "' (expected id, title, timezone, weekend, years)");
    }
  }

  std::string id;
  if (const auto it = doc.find("id"); it == doc.end()) {
    problems.error("", "missing-key", "a calendar needs an 'id'");
  } else if (!it->is_string() || !is_valid_id(it->get_ref<const std::string&>())) {
    problems.error("/id", "bad-id",
                   "'id' must be a string of letters, digits, '-', '_' or '.' "
                   "(at most 64), e.g. \"cn-mainland\"");
  } else {
    id = it->get<std::string>();
  }

  if (const auto it = doc.find("title"); it != doc.end() && !it->is_string()) {
    problems.error("/title", "bad-type", "'title' must be a string");
  }

  std::shared_ptr<const TimeZone> zone;
  if (const auto it = doc.find("timezone"); it == doc.end()) {
    problems.error("", "missing-key", "a calendar needs a 'timezone', e.g. \"Asia/Shanghai\"");
  } else if (!it->is_string()) {
    problems.error("/timezone", "bad-type", "'timezone' must be an IANA zone name string");
  } else {
    const std::string& name = it->get_ref<const std::string&>();
    zone = TimeZone::load(name, nullptr, tzdir);
    if (!zone) {
      problems.error(
          "/timezone", "unknown-timezone",
          "unknown time zone '" + name + "' (expected an IANA name such as Asia/Shanghai)");
    }
  }

  std::set<unsigned> weekend = read_weekend(doc, problems);

  std::set<LocalDate> holidays, workdays;
  Reader reader(problems, weekend, holidays, workdays);
  if (const auto it = doc.find("years"); it == doc.end()) {
    problems.error("", "missing-key", "a calendar needs 'years' (an object, may be empty)");
  } else {
    reader.read_years(*it);
  }

  if (problems.error_count() != errors_before) return nullptr;
  return std::make_shared<const Calendar>(std::move(id), std::move(zone), std::move(weekend),
                                          std::move(holidays), std::move(workdays),
                                          std::move(reader.covered));
}

}  // namespace bihuan
