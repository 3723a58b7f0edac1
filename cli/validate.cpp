// bihuan validate FILE... [--config ENGINE.json]: every problem in every file, text or
// JSON. With --config, notifier and task-handler names must be configured there. The
// calendars used are listed with their covered years; a definition that counts working
// days of a calendar whose data ends before next year gets a warning.
#include <iostream>

#include "bihuan/clock.hpp"
#include "commands.hpp"
#include "config_names.hpp"
#include "definitions_io.hpp"
#include "output.hpp"

namespace bihuan::cli {
namespace {

// "2022-2026", "2023", or "no year".
std::string year_span(const std::set<std::int32_t>& years) {
  if (years.empty()) return "no year";
  std::string first = std::to_string(*years.begin()), last = std::to_string(*years.rbegin());
  return first == last ? first : first + "-" + last;
}

// Warns at each place `def` names a calendar whose holiday data ends before next year
// (by today's date in the calendar's zone): working days after it count weekends only.
void check_coverage(const Definition& def, const Calendars& calendars, Problems& problems) {
  std::vector<std::pair<std::string, std::string>> uses;  // calendar, pointer
  if (!def.calendar.empty()) uses.emplace_back(def.calendar, "/calendar");
  for (const auto& st : def.states) {
    if (st.deadline && !st.deadline->calendar.empty())
      uses.emplace_back(st.deadline->calendar, st.deadline->pointer);
    for (const auto& t : st.timers)
      if (!t.calendar.empty()) uses.emplace_back(t.calendar, t.pointer);
  }
  std::set<std::string> warned;
  for (const auto& [id, pointer] : uses) {
    auto cal = calendars.find(id);
    if (!cal || warned.count(id)) continue;
    LocalDate today;
    std::int64_t ms = 0;
    cal->zone().to_local(SystemClock().now(), today, ms);
    const std::int32_t next = today.year + 1;
    if (!cal->years().empty() && *cal->years().rbegin() >= next) continue;
    warned.insert(id);
    std::string last = cal->years().empty() ? "" : std::to_string(*cal->years().rbegin());
    problems.warning(pointer, "calendar-coverage",
                     "calendar " + id + " has holiday data for " + year_span(cal->years()) +
                         " only: working days " +
                         (last.empty() ? std::string("count weekends only")
                                       : "after " + last + "-12-31 count weekends only") +
                         " (add " +
                         std::to_string(last.empty() ? today.year : std::stoi(last) + 1) +
                         " once it is published: docs/operations.md, \"Working-day calendars\")");
  }
}

struct ValidateOptions {
  std::vector<std::string> files;
  std::vector<std::string> calendars;
  std::string format = "text";
  std::string config;
  bool strict = false;
};

void run_validate(const ValidateOptions& o) {
  Problems cal_problems;
  std::vector<std::string> cal_dirs;
  Calendars calendars =
      find_calendars(o.calendars, o.files.empty() ? "." : o.files.front(), cal_problems, &cal_dirs);
  // Definitions validated together may spawn each other: their ids form the known set.
  std::set<std::string> ids;
  if (o.files.size() > 1)
    for (const auto& f : o.files) {
      Problems scratch;
      if (auto doc = load_json_file(f, scratch);
          doc && doc->is_object() && (*doc)["id"].is_string())
        ids.insert((*doc)["id"].get<std::string>());
    }
  DefinitionContext ctx;
  ctx.calendars = &calendars;
  if (o.files.size() > 1) ctx.definitions = &ids;
  std::optional<ConfiguredNames> names;
  if (!o.config.empty()) {
    names = load_configured_names(o.config, cal_problems);
    if (names) ctx.notifiers = &names->notifiers, ctx.task_handlers = &names->task_handlers;
  }

  std::size_t errors = cal_problems.error_count(), warnings = cal_problems.warning_count();
  json report = {{"files", json::array()}, {"calendars", json::array()}};
  for (const auto& id : calendars.ids()) {
    auto cal = calendars.find(id);
    report["calendars"].push_back({{"id", id}, {"years", cal->years()}});
    if (o.format == "text")
      std::cout << "calendar " << id << ": holiday data for " << year_span(cal->years()) << "\n";
  }
  report["calendarDirs"] = cal_dirs;
  if (o.format == "text" && calendars.ids().empty())
    std::cout << "no calendars found (give --calendars DIR or set BIHUAN_CALENDARS)\n";
  for (const auto& p : cal_problems.items()) {
    if (o.format == "text") std::cout << p.to_string() << "\n";
  }
  if (!cal_problems.items().empty()) {
    report["problems"] = json::array();  // calendars and --config: not tied to one file
    for (const auto& p : cal_problems.items()) report["problems"].push_back(problem_json(p, true));
  }
  for (const auto& f : o.files) {
    auto loaded = load_definition_file(f, ctx);
    if (loaded.def) check_coverage(*loaded.def, calendars, loaded.problems);
    errors += loaded.problems.error_count();
    warnings += loaded.problems.warning_count();
    json fj = {{"file", f}, {"ok", !loaded.problems.has_errors()}, {"problems", json::array()}};
    if (loaded.def) fj["id"] = loaded.def->id, fj["version"] = loaded.def->version;
    for (const auto& p : loaded.problems.items()) {
      fj["problems"].push_back(problem_json(p, true));
      if (o.format == "text") std::cout << p.to_string() << "\n";
    }
    report["files"].push_back(fj);
  }
  report["errors"] = errors;
  report["warnings"] = warnings;
  if (o.format == "json") {
    std::cout << report.dump(2) << "\n";
  } else {
    std::cout << o.files.size() << (o.files.size() == 1 ? " file: " : " files: ") << errors
              << (errors == 1 ? " error, " : " errors, ") << warnings
              << (warnings == 1 ? " warning" : " warnings") << "\n";
  }
  exit_code = (errors > 0 || (o.strict && warnings > 0)) ? 1 : 0;
}

}  // namespace

void add_validate(CLI::App& app) {
  auto o = std::make_shared<ValidateOptions>();
  auto* cmd = app.add_subcommand("validate", "Check workflow definitions; report every problem");
  cmd->add_option("files", o->files, "Definition files")->required();
  cmd->add_option(
      "--calendars", o->calendars,
      "Calendar directories (default: $BIHUAN_CALENDARS, else the nearest calendars/ or "
      "workflows/calendars/, else the bundled ones)");
  cmd->add_option("--format", o->format, "Output format")->check(CLI::IsMember({"text", "json"}));
  cmd->add_flag("--strict", o->strict, "Treat warnings as errors");
  cmd->add_option(
      "--config", o->config,
      "Engine configuration: notifiers and task handlers used must be configured in it");
  cmd->callback([o] { run_validate(*o); });
}

}  // namespace bihuan::cli
