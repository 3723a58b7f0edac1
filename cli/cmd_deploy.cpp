// bihuan deploy FILE... [--config ENGINE.json]: store definitions as immutable versions in
// the data directory. Each file is compiled from its text first, so problems carry
// line:column, then deployed. With --config, a definition naming a notifier or task
// handler that the configuration lacks is refused (and the data directory and calendars
// come from the configuration unless given).
#include <cstdlib>
#include <iostream>
#include <optional>

#include "commands.hpp"
#include "config_names.hpp"
#include "definitions_io.hpp"
#include "engine_session.hpp"
#include "output.hpp"

namespace bihuan::cli {
namespace {

struct DeployOptions {
  SessionOptions session;
  std::vector<std::string> files;
  std::string config;
};

// Deploys one file; returns its report entry and prints problems in text mode.
json deploy_file(Engine& engine, const std::string& file, bool text, const ConfiguredNames* names) {
  DefinitionContext ctx;
  ctx.calendars = engine.options().calendars.get();
  if (names) ctx.notifiers = &names->notifiers, ctx.task_handlers = &names->task_handlers;
  auto loaded = load_definition_file(file, ctx);
  Problems problems = loaded.problems;
  json fj = {{"file", file}, {"ok", false}};
  if (loaded.def) {
    Problems scratch(file);
    auto doc = load_json(loaded.text, scratch);
    DeployResult r = engine.deploy(*doc, file);
    attach_positions(loaded.text, r.problems);
    for (const auto& p : r.problems.items())
      if (p.severity == Severity::error) problems.add(p);
    fj["id"] = loaded.def->id;
    fj["version"] = loaded.def->version;
    if (r.ok) {
      fj["ok"] = true;
      fj["result"] = r.unchanged ? "unchanged" : "deployed";
    }
  }
  fj["problems"] = json::array();
  for (const auto& p : problems.items()) {
    fj["problems"].push_back(problem_json(p, true));
    if (text) std::cout << p.to_string() << "\n";
  }
  if (text && fj["ok"] == true)
    std::cout << fj["id"].get<std::string>() << " v" << fj["version"].get<std::int64_t>() << ": "
              << fj["result"].get<std::string>() << "\n";
  return fj;
}

void run_deploy(const DeployOptions& o, bool data_dir_given) {
  SessionOptions session = o.session;
  std::optional<ConfiguredNames> names;
  if (!o.config.empty()) {
    Problems problems;
    names = load_configured_names(o.config, problems);
    for (const auto& p : problems.items()) std::cerr << p.to_string() << "\n";
    if (!names) return fail(o.session, "the configuration " + o.config + " has errors");
    if (!data_dir_given && !names->config.data_dir.empty())
      session.data_dir = names->config.data_dir;
    if (session.calendars.empty()) session.calendars = names->config.calendar_dirs;
  }
  auto engine = open_engine(session, true, o.files);
  if (!engine) return;
  json report = {{"files", json::array()}};
  std::size_t failed = 0;
  for (const auto& f : o.files) {
    json fj = deploy_file(*engine, f, !o.session.json(), names ? &*names : nullptr);
    failed += fj["ok"] != true;
    report["files"].push_back(std::move(fj));
  }
  engine->close();
  report["failed"] = failed;
  if (o.session.json())
    print_json(report);
  else if (failed)
    std::cout << failed << " of " << o.files.size() << " files not deployed\n";
  if (failed) exit_code = 1;
}

}  // namespace

void add_deploy(CLI::App& app) {
  auto o = std::make_shared<DeployOptions>();
  auto* cmd = app.add_subcommand("deploy", "Deploy definitions into the data directory");
  cmd->add_option("files", o->files, "Definition files")->required();
  cmd->add_option(
      "--config", o->config,
      "Engine configuration: notifiers and task handlers used must be configured in it");
  add_session_options(cmd, o->session);
  cmd->callback([o, cmd] {
    bool given = cmd->count("--data-dir") > 0 || std::getenv("BIHUAN_DATA") != nullptr;
    guarded(o->session, [&] { run_deploy(*o, given); });
  });
}

}  // namespace bihuan::cli
