// bihuan validate FILE... [--config ENGINE.json]: every problem in every file, text or
// JSON. With --config, notifier and task-handler names must be configured there.
#include <iostream>

#include "commands.hpp"
#include "config_names.hpp"
#include "definitions_io.hpp"
#include "output.hpp"

namespace bihuan::cli {
namespace {

struct ValidateOptions {
  std::vector<std::string> files;
  std::vector<std::string> calendars;
  std::string format = "text";
  std::string config;
  bool strict = false;
};

void run_validate(const ValidateOptions& o) {
  Problems cal_problems;
  Calendars calendars = find_calendars(o.calendars, o.files.empty() ? "." : o.files.front(), cal_problems);
  // Definitions validated together may spawn each other: their ids form the known set.
  std::set<std::string> ids;
  if (o.files.size() > 1)
    for (const auto& f : o.files) {
      Problems scratch;
      if (auto doc = load_json_file(f, scratch); doc && doc->is_object() && (*doc)["id"].is_string())
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
  json report = {{"files", json::array()}};
  for (const auto& p : cal_problems.items()) {
    if (o.format == "text") std::cout << p.to_string() << "\n";
  }
  if (!cal_problems.items().empty()) {
    report["problems"] = json::array();  // calendars and --config: not tied to one file
    for (const auto& p : cal_problems.items()) report["problems"].push_back(problem_json(p));
  }
  for (const auto& f : o.files) {
    auto loaded = load_definition_file(f, ctx);
    errors += loaded.problems.error_count();
    warnings += loaded.problems.warning_count();
    json fj = {{"file", f}, {"ok", !loaded.problems.has_errors()}, {"problems", json::array()}};
    if (loaded.def) fj["id"] = loaded.def->id, fj["version"] = loaded.def->version;
    for (const auto& p : loaded.problems.items()) {
      fj["problems"].push_back(problem_json(p));
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
  cmd->add_option("--calendars", o->calendars,
                  "Calendar directories (default: nearest calendars/ or workflows/calendars/)");
  cmd->add_option("--format", o->format, "Output format")->check(CLI::IsMember({"text", "json"}));
  cmd->add_flag("--strict", o->strict, "Treat warnings as errors");
  cmd->add_option("--config", o->config,
                  "Engine configuration: notifiers and task handlers used must be configured in it");
  cmd->callback([o] { run_validate(*o); });
}

}  // namespace bihuan::cli
