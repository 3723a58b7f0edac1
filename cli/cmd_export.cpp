// bihuan export: the change feed (Engine::changes) as JSON lines on stdout, one committed
// step per line in commit order; each line's "cursor" resumes after it (--since).
#include <atomic>
#include <chrono>
#include <csignal>
#include <iostream>
#include <thread>

#include "bihuan/changes.hpp"
#include "commands.hpp"
#include "engine_session.hpp"
#include "output.hpp"

namespace bihuan::cli {
namespace {

struct ExportOptions {
  SessionOptions session;
  std::string since;
  std::size_t limit = 0;  // steps at most (0 = all)
  bool follow = false;
  std::int64_t poll_ms = 1000;
};

std::atomic<bool> export_stop{false};
extern "C" void on_export_signal(int) { export_stop = true; }

void run_export(const ExportOptions& o) {
  auto engine = open_engine(o.session, false);
  if (!engine) return;
  if (o.follow) {
    std::signal(SIGINT, on_export_signal);
    std::signal(SIGTERM, on_export_signal);
  }
  std::string cursor = o.since;
  std::size_t written = 0;
  while (!export_stop) {
    std::size_t want = 1000;
    if (o.limit) want = std::min(want, o.limit - written);
    ChangePage page = changes(*engine, cursor, want);
    if (page.unavailable) {
      fail(o.session, "storage-unavailable: " + page.error);
      break;
    }
    if (!page.error.empty()) {
      fail(o.session, "--since: " + page.error);
      break;
    }
    for (const auto& c : page.items)
      std::cout << c.to_json(zone_of(*engine, c.definition, c.definition_version)).dump() << "\n";
    std::cout.flush();
    written += page.items.size();
    cursor = page.next_cursor;
    if (o.limit && written >= o.limit) break;
    if (page.items.empty()) {
      if (!o.follow) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(o.poll_ms));
    }
  }
  if (exit_code == 0)
    std::cerr << "bihuan export: " << written << (written == 1 ? " step" : " steps")
              << "; resume with --since " << cursor << "\n";
  engine->close();
}

}  // namespace

void add_export_command(CLI::App& app) {
  auto o = std::make_shared<ExportOptions>();
  auto* cmd = app.add_subcommand(
      "export", "The change feed: every committed step in commit order, as JSON lines");
  add_session_options(cmd, o->session);
  cmd->add_option("--since", o->since,
                  "Resume after this cursor (a line's \"cursor\", or the one printed at the end)");
  cmd->add_option("--limit", o->limit, "Steps at most (0 = all)")->capture_default_str();
  cmd->add_flag("--follow", o->follow, "Keep waiting for new steps (until SIGINT or SIGTERM)");
  cmd->add_option("--poll-ms", o->poll_ms, "--follow: how often to look for new steps (ms)")
      ->check(CLI::Range(10, 600000))
      ->capture_default_str();
  cmd->callback([o] { guarded(o->session, [&] { run_export(*o); }); });
}

}  // namespace bihuan::cli
