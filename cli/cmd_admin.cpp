// Administration: bihuan verify (pages, records, chains, indexes), backup (online compacted copy)
// and timers.
#include <filesystem>
#include <iostream>

#include "bihuan/verify_report.hpp"
#include "commands.hpp"
#include "engine_session.hpp"
#include "output.hpp"

namespace bihuan::cli {
namespace {

void run_verify(const SessionOptions& o) {
  auto engine = open_engine(o, false);  // a store found damaged at open is refused there (exit 1)
  if (!engine) return;
  VerifyReport r = engine->verify();
  engine->close();
  if (o.json()) {
    print_json(verify_report_json(r));
  } else {
    auto n = [](std::uint64_t v, const char* one, const char* many) {
      return std::to_string(v) + " " + (v == 1 ? one : many);
    };
    for (const auto& b : r.broken) std::cout << b << "\n";
    if (!o.store.empty() && o.store != "lmdb")  // the server keeps its own pages
      std::cout << r.file << " (no page walk)";
    else
      std::cout << "walked " << n(r.databases, "database", "databases") << " ("
                << n(r.pages, "page", "pages") << ")";
    if (r.structure_ok)
      std::cout << "; checked " << n(r.instances, "instance", "instances") << ", "
                << n(r.entries, "history entry", "history entries") << ", "
                << n(r.index_entries, "index entry", "index entries");
    else
      std::cout << "; the structure is damaged, so records and indexes were not checked (restore a "
                   "backup: docs/operations.md)";
    std::cout << ": "
              << (r.ok() ? std::string("all intact") : n(r.broken.size(), "problem", "problems"))
              << "\n";
  }
  if (!r.ok()) exit_code = 1;
}

struct BackupOptions {
  SessionOptions session;
  std::string dir;
};

void run_backup(const BackupOptions& o) {
  auto engine = open_engine(o.session, false);
  if (!engine) return;
  std::string error;
  bool ok = engine->backup(o.dir, &error);
  engine->close();
  if (!ok) {
    fail(o.session, error.empty() ? "backup to " + o.dir + " failed" : error);
    return;
  }
  std::error_code ec;
  std::string where = std::filesystem::absolute(o.dir, ec).lexically_normal().string();
  if (o.session.json())
    print_json({{"backup", where}});
  else
    std::cout << "backup written to " << where << " (open it with --data " << o.dir << ")\n";
}

void run_timers(const SessionOptions& o) {
  auto engine = open_engine(o, false);
  if (!engine) return;
  std::size_t pending = engine->pending_timers();
  auto next = engine->next_timer_due();
  engine->close();
  const TimeZone& utc = *TimeZone::utc();
  if (o.json()) {
    json j = {{"pending", pending}, {"nextDue", nullptr}};
    if (next) j["nextDue"] = format_time(*next, utc);
    print_json(j);
  } else {
    std::cout << pending << (pending == 1 ? " pending timer" : " pending timers");
    if (next) std::cout << "; next due " << format_time(*next, utc);
    std::cout << "\n";
  }
}

}  // namespace

void add_admin_commands(CLI::App& app) {
  {
    auto o = std::make_shared<SessionOptions>();
    auto* cmd = app.add_subcommand("verify",
                                   "Check the store: every page, record, history chain and index");
    add_session_options(cmd, *o);
    cmd->callback([o] { guarded(*o, [&] { run_verify(*o); }); });
  }
  {
    auto o = std::make_shared<BackupOptions>();
    auto* cmd =
        app.add_subcommand("backup", "Write an online, compacted copy of the data directory");
    cmd->add_option("dir", o->dir, "Target directory (created; must be empty)")->required();
    add_session_options(cmd, o->session);
    cmd->callback([o] { guarded(o->session, [&] { run_backup(*o); }); });
  }
  {
    auto o = std::make_shared<SessionOptions>();
    auto* cmd = app.add_subcommand("timers", "Pending timers and the next one due");
    add_session_options(cmd, *o);
    cmd->callback([o] { guarded(*o, [&] { run_timers(*o); }); });
  }
}

}  // namespace bihuan::cli
