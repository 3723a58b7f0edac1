// bihuan deploy FILE...: store definitions as immutable versions in the data directory.
// Each file is compiled from its text first, so problems carry line:column, then deployed.
#include <iostream>

#include "commands.hpp"
#include "definitions_io.hpp"
#include "engine_session.hpp"
#include "output.hpp"

namespace bihuan::cli {
namespace {

struct DeployOptions {
  SessionOptions session;
  std::vector<std::string> files;
};

// Deploys one file; returns its report entry and prints problems in text mode.
json deploy_file(Engine& engine, const std::string& file, bool text) {
  DefinitionContext ctx;
  ctx.calendars = engine.options().calendars.get();
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
    fj["problems"].push_back(problem_json(p));
    if (text) std::cout << p.to_string() << "\n";
  }
  if (text && fj["ok"] == true)
    std::cout << fj["id"].get<std::string>() << " v" << fj["version"].get<std::int64_t>() << ": "
              << fj["result"].get<std::string>() << "\n";
  return fj;
}

void run_deploy(const DeployOptions& o) {
  auto engine = open_engine(o.session, true, o.files);
  if (!engine) return;
  json report = {{"files", json::array()}};
  std::size_t failed = 0;
  for (const auto& f : o.files) {
    json fj = deploy_file(*engine, f, !o.session.json());
    failed += fj["ok"] != true;
    report["files"].push_back(std::move(fj));
  }
  engine->close();
  report["failed"] = failed;
  if (o.session.json()) print_json(report);
  else if (failed) std::cout << failed << " of " << o.files.size() << " files not deployed\n";
  if (failed) exit_code = 1;
}

}  // namespace

void add_deploy(CLI::App& app) {
  auto o = std::make_shared<DeployOptions>();
  auto* cmd = app.add_subcommand("deploy", "Deploy definitions into the data directory");
  cmd->add_option("files", o->files, "Definition files")->required();
  add_session_options(cmd, o->session);
  cmd->callback([o] { guarded(o->session, [&] { run_deploy(*o); }); });
}

}  // namespace bihuan::cli
