// bihuan archive run | verify FILE | restore FILE (docs/retention.md).
#include <iostream>

#include "bihuan/retention.hpp"
#include "commands.hpp"
#include "engine_session.hpp"
#include "output.hpp"

namespace bihuan::cli {
namespace {

struct ArchiveOptions {
  SessionOptions session;
  std::string retention;  // overrides every definition's
  std::string default_retention;
  std::size_t batch = 500;
  std::string dir;
  std::string file;
};

void run_archive(const ArchiveOptions& o) {
  RetentionRun run;
  run.options.batch = o.batch;
  run.options.archive_dir = o.dir;
  for (auto [text, target, name] :
       {std::tuple{&o.retention, &run.retention, "--retention"},
        std::tuple{&o.default_retention, &run.options.default_retention, "--default-retention"}}) {
    if (text->empty()) continue;
    std::string why;
    *target = parse_duration(*text, &why);
    if (!*target) {
      fail(o.session, std::string(name) + ": not an ISO 8601 duration: " + *text +
                          (why.empty() ? "" : " (" + why + ")"));
      return;
    }
  }
  auto engine = open_engine(o.session, false);
  if (!engine) return;
  RetentionReport rep = run_retention(*engine, run);
  engine->close();
  json j = {{"scanned", rep.scanned}, {"expired", rep.expired},     {"removed", rep.removed},
            {"held", rep.held},       {"recovered", rep.recovered}, {"archives", rep.archives}};
  if (!rep.error.empty()) j["error"] = rep.error;
  if (o.session.json()) {
    print_json(j);
  } else {
    for (const auto& a : rep.archives) std::cout << "archive " << a << "\n";
    std::cout << rep.removed << " removed (" << rep.expired << " expired, " << rep.held << " held, "
              << rep.scanned << " scanned";
    if (rep.recovered) std::cout << ", " << rep.recovered << " unfinished archive(s) finished";
    std::cout << ")\n";
  }
  if (!rep.error.empty()) fail(o.session, rep.error);
}

void run_verify_archive(const ArchiveOptions& o) {
  ArchiveCheck c = verify_archive(o.file);
  if (o.session.json()) {
    print_json({{"file", o.file},
                {"ok", c.ok()},
                {"instances", c.instances},
                {"entries", c.entries},
                {"sha256", c.sha256},
                {"problems", c.problems}});
  } else {
    for (const auto& p : c.problems) std::cout << p << "\n";
    std::cout << o.file << ": " << (c.ok() ? "ok" : "BROKEN") << ", " << c.instances
              << " instances with intact chains, " << c.entries << " entries\n";
  }
  if (!c.ok()) exit_code = 1;
}

void run_restore(const ArchiveOptions& o) {
  auto engine = open_engine(o.session, false);
  if (!engine) return;
  RestoreReport rep = restore_archive(*engine, o.file);
  engine->close();
  if (!rep.error.empty()) {
    fail(o.session, o.file + ": " + rep.error);
    return;
  }
  if (o.session.json())
    print_json({{"file", o.file}, {"restored", rep.restored}, {"present", rep.present}});
  else
    std::cout << rep.restored << " restored, " << rep.present << " already present\n";
}

}  // namespace

void add_archive_commands(CLI::App& app) {
  auto* archive = app.add_subcommand("archive",
                                     "Retention: archive and remove finished instances, check "
                                     "and restore archives");
  archive->require_subcommand(1);
  {
    auto o = std::make_shared<ArchiveOptions>();
    auto* cmd = archive->add_subcommand("run", "Archive and remove the expired instances now");
    add_session_options(cmd, o->session);
    cmd->add_option("--retention", o->retention,
                    "Instead of every definition's retention (PT0S: every finished instance)");
    cmd->add_option("--default-retention", o->default_retention,
                    "For definitions without retention (default: keep them)");
    cmd->add_option("--batch", o->batch, "Instances per archive file and transaction")
        ->check(CLI::Range(1, 100000))
        ->capture_default_str();
    cmd->add_option("--archive-dir", o->dir, "Where archives go (default: <data dir>/archives)");
    cmd->callback([o] { guarded(o->session, [&] { run_archive(*o); }); });
  }
  {
    auto o = std::make_shared<ArchiveOptions>();
    auto* cmd = archive->add_subcommand(
        "verify", "Check an archive file: every instance's hash chain and the batch hash");
    cmd->add_option("file", o->file, "The archive (.jsonl.zst)")->required();
    cmd->add_option("--format", o->session.format, "text or json")
        ->check(CLI::IsMember({"text", "json"}));
    o->session.command = "archive verify";
    cmd->callback([o] { guarded(o->session, [&] { run_verify_archive(*o); }); });
  }
  {
    auto o = std::make_shared<ArchiveOptions>();
    auto* cmd = archive->add_subcommand("restore", "Bring an archive's instances back");
    add_session_options(cmd, o->session);
    cmd->add_option("file", o->file, "The archive (.jsonl.zst)")->required();
    cmd->callback([o] { guarded(o->session, [&] { run_restore(*o); }); });
  }
}

}  // namespace bihuan::cli
