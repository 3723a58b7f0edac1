// bihuan archive run | verify FILE | restore FILE (docs/retention.md).
#include <cstdio>
#include <iostream>
#include <optional>

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
  bool count = false;  // months: rows and live rows
  std::string detach;  // months: YYYY-MM, or "legacy"
  bool keep = false;   // months --detach: keep the table (renamed)
};

std::string month_text(int yyyymm) {
  if (yyyymm == 0) return "legacy";
  char buf[16];
  std::snprintf(buf, sizeof buf, "%04d-%02d", yyyymm / 100, yyyymm % 100);
  return buf;
}

// "2027-01" -> 202701, "legacy" -> 0; nullopt otherwise.
std::optional<int> parse_month(const std::string& text) {
  if (text == "legacy") return 0;
  int y = 0, m = 0;
  char dash = 0, extra = 0;
  if (std::sscanf(text.c_str(), "%d%c%d%c", &y, &dash, &m, &extra) != 3 || dash != '-' || y < 1 ||
      y > 9999 || m < 1 || m > 12)
    return std::nullopt;
  return y * 100 + m;
}

void run_months(const ArchiveOptions& o) {
  std::optional<int> target;
  if (!o.detach.empty() && !(target = parse_month(o.detach))) {
    fail(o.session, "--detach: not a month (YYYY-MM, or legacy): " + o.detach);
    return;
  }
  auto engine = open_engine(o.session, false);
  if (!engine) return;
  std::string error;
  if (target) {
    bool held = false;
    bool ok = detach_history_month(*engine, *target, o.keep, &error, &held);
    engine->close();
    if (!ok) {
      fail(o.session, error);
      return;
    }
    if (o.session.json())
      print_json({{"detached", month_text(*target)}, {"kept", o.keep}});
    else
      std::cout << "detached " << month_text(*target) << (o.keep ? " (kept, renamed)" : "") << "\n";
    return;
  }
  std::vector<HistoryMonth> months;
  bool ok = history_months(*engine, o.count, &months, &error);
  engine->close();
  if (!ok) {
    fail(o.session, error);
    return;
  }
  if (o.session.json()) {
    json out = json::array();
    for (const auto& m : months) {
      json j = {{"month", month_text(m.month)},
                {"table", m.table},
                {"bytes", m.bytes},
                {"written", m.written},
                {"current", m.current}};
      if (m.rows >= 0) j["rows"] = m.rows;
      if (m.live >= 0) j["liveRows"] = m.live;
      out.push_back(std::move(j));
    }
    print_json(out);
    return;
  }
  for (const auto& m : months) {
    std::cout << month_text(m.month) << "\t" << m.table << "\t" << m.bytes << " bytes";
    if (m.rows >= 0)
      std::cout << "\t" << m.rows << " entries, " << m.live << " of stored instances";
    std::cout << (m.current ? "\tcurrent" : m.written ? "" : "\tahead") << "\n";
  }
}

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
    o->session.command = "archive run";
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
    o->session.command = "archive restore";
    cmd->add_option("file", o->file, "The archive (.jsonl.zst)")->required();
    cmd->callback([o] { guarded(o->session, [&] { run_restore(*o); }); });
  }
  {
    auto o = std::make_shared<ArchiveOptions>();
    auto* cmd = archive->add_subcommand(
        "months",
        "A PostgreSQL store's history by month: list the months, or detach one that no "
        "stored instance has an entry in");
    add_session_options(cmd, o->session);
    o->session.command = "archive months";
    auto* count = cmd->add_flag("--count", o->count,
                                "Count each month's entries, and those of stored instances");
    auto* detach =
        cmd->add_option("--detach", o->detach, "Detach and drop this month (YYYY-MM, or legacy)");
    detach->excludes(count);
    cmd->add_flag("--keep", o->keep, "With --detach: keep the table, renamed <table>_detached")
        ->needs(detach);
    cmd->callback([o] { guarded(o->session, [&] { run_months(*o); }); });
  }
}

}  // namespace bihuan::cli
