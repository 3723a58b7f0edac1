// One group-commit batch: its transaction (direct or staged), the batch's clock reading, and the
// records already written in it (so later steps of the batch read them without decoding).
#pragma once

#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <shared_mutex>
#include <unordered_map>

#include "bihuan/engine.hpp"
#include "runtime/record.hpp"
#include "runtime/store.hpp"

namespace bihuan::runtime {

// Definitions by id and version, shared with readers.
class DefinitionRegistry {
 public:
  std::shared_ptr<const Definition> find(const std::string& id,
                                         std::optional<std::int64_t> version) const;
  void add(std::shared_ptr<const Definition> def);
  std::vector<std::shared_ptr<const Definition>> all() const;
  std::set<std::string> ids() const;

 private:
  mutable std::shared_mutex mu_;
  std::map<std::string, std::map<std::int64_t, std::shared_ptr<const Definition>>> by_id_;
};

// Generates time-ordered instance ids (48-bit ms, 16-bit counter), never repeating one.
class IdGenerator {
 public:
  void observe(std::uint64_t existing) { last_ = std::max(last_, existing); }
  std::uint64_t next(TimePoint now) {
    std::uint64_t base = static_cast<std::uint64_t>(now.time_since_epoch().count()) << 16;
    last_ = std::max(last_ + 1, base);
    return last_;
  }

 private:
  std::uint64_t last_ = 0;
};

// An internal follow-up step produced by a step (send action, child end, cancel cascade).
struct Cascade {
  enum Kind { deliver, cancel } kind = deliver;
  std::uint64_t target = 0;
  std::string target_business_key;
  std::string event;
  json payload;
  Actor actor;
  std::string reason;
};

// The next numbers of the append-only logs. A unit takes numbers from a copy and hands
// them back only if it is applied, so a refused step leaves no gap.
struct Sequences {
  std::uint64_t outbox = 1;   // next outbox key
  std::uint64_t history = 1;  // next history key
};

struct Batch {
  Store& txn;  // the batch's transaction, direct or staged (store.hpp)
  TimePoint now;
  std::unordered_map<std::uint64_t, InstanceRecord> overlay;
  Sequences next;
  IdGenerator& ids;
  int storage_rc = 0;  // first LMDB error in this batch (the whole batch then fails)
  // Records an LMDB result; only the first error counts (after MDB_MAP_FULL every later
  // call on the transaction says MDB_BAD_TXN, which must not hide the map-full).
  void note(int rc) {
    if (rc && !storage_rc) storage_rc = rc;
  }
  bool failed() const { return storage_rc != 0; }
  std::size_t outbox_written = 0;
  // Timer firings dropped or refused in this batch ({"instance", "timerKey", "reason",
  // "refused"}): counted and logged once the batch commits (EngineImpl::count_timer_drops).
  std::vector<json> timer_drops;
};

}  // namespace bihuan::runtime
