// The set of calendars a deployment knows, loaded from a directory of JSON documents.
#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>

#include "bihuan/clock.hpp"

#include "bihuan/time.hpp"

#include "bihuan/log.hpp"

namespace bihuan {
namespace {

// Adds line:column to the problems of a file that parsed but failed validation.
void attach_file_positions(const std::string& path, Problems& problems) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return;
  std::ostringstream text;
  text << in.rdbuf();
  attach_positions(text.str(), problems);
}

}  // namespace

Calendars Calendars::load_dir(const std::string& dir, Problems& problems) {
  Calendars out;
  std::map<std::string, std::string> file_of;  // id -> file that defined it
  std::vector<std::string> files;
  std::error_code ec;
  for (std::filesystem::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    std::error_code type_ec;
    if (it->path().extension() == ".json" && it->is_regular_file(type_ec)) {
      files.push_back(it->path().string());
    }
  }
  if (ec) {
    Problems here(dir);
    here.error("", "calendar-dir-unreadable",
               "cannot read the calendar directory: " + ec.message());
    problems.append(here);
    return out;
  }
  std::sort(files.begin(), files.end());  // deterministic order, and so which duplicate wins

  for (const std::string& file : files) {
    Problems here(file);
    auto doc = load_json_file(file, here);
    std::shared_ptr<const Calendar> calendar;
    if (doc) calendar = Calendar::from_json(*doc, here);
    if (calendar) {
      auto [seen, inserted] = file_of.emplace(calendar->id(), file);
      if (inserted) {
        out.add(calendar);
      } else {
        here.error("/id", "duplicate-calendar",
                   "calendar '" + calendar->id() + "' is already defined in " + seen->second);
      }
    }
    if (doc && here.has_errors()) attach_file_positions(file, here);
    problems.append(here);
  }
  return out;
}

void Calendars::add(std::shared_ptr<const Calendar> c) {
  if (c) by_id_[c->id()] = std::move(c);
}

std::shared_ptr<const Calendar> Calendars::find(const std::string& id) const {
  const auto it = by_id_.find(id);
  return it == by_id_.end() ? nullptr : it->second;
}

void Calendars::note_use(const Calendar& c, TimePoint a, TimePoint b) const {
  if (a == TimePoint::max() || a == TimePoint::min() || b == TimePoint::max() ||
      b == TimePoint::min())
    return;
  std::vector<std::int32_t> missing = c.uncovered_years(a, b);
  if (missing.empty()) return;
  std::vector<std::int32_t> fresh;
  {
    std::lock_guard lock(gaps_->mu);
    for (std::int32_t y : missing)
      if (gaps_->seen.insert({c.id(), y}).second) fresh.push_back(y);
  }
  for (std::int32_t y : fresh) {
    const auto& years = c.years();
    std::string covered =
        years.empty() ? std::string("no year")
                      : std::to_string(*years.begin()) + "-" + std::to_string(*years.rbegin());
    log_event(
        "warn",
        "calendar " + c.id() + " has no holiday data for " + std::to_string(y) + " (it covers " +
            covered +
            "): working days there count weekends only; add the year's data (docs/operations.md)",
        {{"calendar", c.id()}, {"year", y}});
  }
}

std::vector<CalendarGap> Calendars::gaps() const {
  std::lock_guard lock(gaps_->mu);
  return {gaps_->seen.begin(), gaps_->seen.end()};
}

std::vector<std::string> Calendars::ids() const {
  std::vector<std::string> out;
  out.reserve(by_id_.size());
  for (const auto& [id, calendar] : by_id_) out.push_back(id);
  return out;
}

}  // namespace bihuan
