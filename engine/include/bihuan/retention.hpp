// Retention: finished instances removed some time after they ended, each batch written
// first to an archive file (docs/retention.md). Engine::run_retention runs it once;
// `bihuan serve` runs it every RetentionOptions::interval on the engine clock.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "bihuan/history_month.hpp"
#include "bihuan/time.hpp"

namespace bihuan {

struct RetentionOptions {
  // For definitions without `retention`: none = keep their instances for ever.
  std::optional<Duration> default_retention;
  std::int64_t interval_ms = 3600 * 1000;  // bihuan serve: between two runs (engine clock)
  std::size_t batch = 500;                 // instances per archive file and write transaction
  std::string archive_dir;                 // "" = <data dir>/archives
};

struct RetentionRun {
  RetentionOptions options;
  // Overrides every definition's retention (and the default): `bihuan archive run
  // --retention PT0S` archives every finished instance.
  std::optional<Duration> retention;
  std::size_t max_batches = SIZE_MAX;  // stop after this many archives (tests, crash hooks)
};

struct RetentionReport {
  std::size_t scanned = 0;    // instance records looked at
  std::size_t expired = 0;    // ended longer ago than their retention
  std::size_t removed = 0;    // archived and removed
  std::size_t held = 0;       // expired but kept: children present, or named by the outbox
  std::size_t recovered = 0;  // archives found complete but unrecorded (a crash) and finished
  std::vector<std::string> archives;  // files written (or finished) by this run
  // A store that keeps history by month (PostgreSQL): the months (YYYYMM, 0 the legacy
  // partition) this run detached, every instance with an entry there being removed.
  std::vector<int> months_detached;
  std::string error;  // non-empty: the run stopped here (what failed)
};

// What `bihuan archive verify FILE` finds (verify_archive): it needs no data directory.
struct ArchiveCheck {
  bool readable = false;  // decompressed and parsed
  std::size_t instances = 0, entries = 0;
  std::string sha256;                 // of the batch, as computed
  std::vector<std::string> problems;  // each names the line / instance / entry that is wrong
  bool ok() const { return readable && problems.empty(); }
};
ArchiveCheck verify_archive(const std::string& path);

struct RestoreReport {
  std::size_t restored = 0;  // instances written back
  std::size_t present = 0;   // already in the store (left alone)
  std::string error;         // non-empty: nothing was restored (why)
};

class Engine;
// Brings the instances of a verified archive back into the store (records, history with
// its hashes, indexes), through the writer in one transaction: get, history and as_of
// then answer as before they were archived.
RestoreReport restore_archive(Engine& engine, const std::string& path);

// One retention run on the engine's clock (runtime/retention.cpp): first finishes any
// complete archive the store has not recorded (a crash between its rename and the
// removal), then scans the instances in key order and, per batch of expired ones, writes
// the archive file (temporary name, fsync, rename, directory fsync) and only then removes
// them through the writer (one write transaction per batch, steps commit in between).
RetentionReport run_retention(Engine& engine, const RetentionRun& run);

// History by month (a store on PostgreSQL; docs/retention.md, "History by month"). The
// months of the history, oldest first; `count`: each one's rows and the rows of instances
// still stored (a scan of each). false and *error on LMDB (one table: retention deletes a
// removed instance's entries with it) or when the store fails.
bool history_months(Engine& engine, bool count, std::vector<HistoryMonth>* out, std::string* error);
// Detaches a month (YYYYMM; 0 the legacy partition) and drops it, or keeps it as
// <table>_detached (`keep`). Refused with a sentence while an instance still stored has an
// entry there (*held set), or while steps are written there (the newest key's month or a
// later one; *held set), and on LMDB. run_retention does this itself for the months whose
// instances it removed.
bool detach_history_month(Engine& engine, int yyyymm, bool keep, std::string* error,
                          bool* held = nullptr);

}  // namespace bihuan
