// Walking one instance's history chain in the store (docs/storage.md, `history`): from the
// newest entry the record names back to its first, along the links outside the hashes.
#pragma once

#include <cstdint>
#include <string_view>

#include "runtime/record.hpp"
#include "storage/lmdb_env.hpp"

namespace bihuan::runtime {

// Calls f(key, sealed entry) for each entry of `rec`'s chain, newest first, at most
// rec.version of them. The entry's link is read before f runs, so f may delete it. The
// walk stops at a missing entry, one of another instance, or a link that does not go
// back (a broken chain: verify reports it). Returns 0 or the LMDB error that stopped it.
// *intact: exactly rec.version entries were walked and the last links to none.
// `T`: storage::Txn or the batch's Store (anything with get(Db, key, int&)).
template <class T, class F>
int walk_chain(T& txn, const InstanceRecord& rec, F&& f, bool* intact = nullptr) {
  std::uint64_t key = rec.last_entry, walked = 0;
  bool broken = false;
  for (; key != 0 && walked < rec.version; ++walked) {
    int rc = 0;
    auto v = txn.get(storage::Db::hist, storage::be64(key), rc);
    if (rc) return rc;
    auto stored = v ? split_history_value(*v) : std::nullopt;
    if (!stored || stored->instance != rec.id) {
      broken = true;
      break;
    }
    const std::uint64_t prev = stored->prev_entry;
    f(key, stored->sealed);
    if (prev >= key) {
      broken = true;
      break;
    }
    key = prev;
  }
  if (intact) *intact = !broken && key == 0 && walked == rec.version;
  return 0;
}

}  // namespace bihuan::runtime
