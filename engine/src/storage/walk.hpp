// The structural walk of an LMDB environment: every page of every database, read through
// LMDB. LMDB checks little of what it reads and asserts (aborts the process) on some
// damaged pages, so the walk is meant to run in a process of its own (runtime/verify.cpp
// forks one); `at` tells the parent where the walk is, so a crash can be pinned to a
// database.
#pragma once

#include <cstdint>
#include <functional>
#include <string>

#include "storage/lmdb_env.hpp"

namespace bihuan::storage {

struct WalkSink {
  // Called before database `db` is walked ("(free pages)", "(main)", then each named
  // database by its LMDB name).
  std::function<void(const std::string& db)> at;
  // One defect: the database, the key (hex; "" for the whole database) and a sentence.
  std::function<void(const std::string& db, const std::string& key, const std::string& text)>
      problem;
};

struct WalkCounts {
  std::uint64_t databases = 0, pages = 0, entries = 0;
};

// Walks the newest snapshot of `env`: the free-page list (its page numbers must lie inside
// the file), the main database, then every named database it lists, each from the first key
// to the last, reading every value (overflow pages too). Checks that keys rise, that a
// walk reaches as many entries as the database records, and that LMDB returns no error.
// Returns what it walked.
WalkCounts walk_structure(Env& env, const WalkSink& sink);

// From now on, LMDB's failed assertions in this process call `fn` with LMDB's message
// before LMDB aborts the process (for the walk's child process: it tells its parent).
void on_lmdb_assert(Env& env, void (*fn)(const char* message));

}  // namespace bihuan::storage
