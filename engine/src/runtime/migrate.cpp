// Storage migrations, one function per format step, run inside the opening transaction.
#include "runtime/migrate.hpp"

#include "runtime/engine_impl.hpp"
#include "runtime/record.hpp"

namespace bihuan::runtime {

using storage::be64;
using storage::Db;

namespace {

// Format 1 kept history in "hist" keyed be64(instance) be32(seq). Format 2 appends every
// entry to one log ("history", keyed by a global sequence) and links each entry to the
// instance's previous one; the instance record names its newest entry ("hq"). Entries
// move byte for byte, so every hash stays valid.
int migrate_1_to_2(storage::Txn& txn, std::string* error) {
  int rc = 0;
  std::size_t logged = txn.entries(Db::hist, rc);
  if (rc) return rc;
  if (logged != 0) {
    *error = "format 1 data already holds a format 2 history log (an interrupted migration by another build?)";
    return -1;
  }
  auto old = txn.legacy_cursor("hist", &rc);
  if (!old) return rc;  // no history at all
  std::uint64_t key = 0, instance = 0, prev = 0;
  auto finish = [&]() -> int {  // names the instance's newest entry in its record
    if (!instance) return 0;
    int got = 0;
    auto bytes = txn.get(Db::inst, be64(instance), got);
    if (got) return got;
    if (!bytes) return 0;  // history of an instance whose record is gone: kept, verify reports it
    auto r = decode_instance(*bytes);
    if (!r) {
      *error = "instance " + id_to_text(instance) + ": record does not decode";
      return -1;
    }
    r->last_entry = prev;
    return txn.put(Db::inst, be64(instance), encode(*r));
  };
  for (bool ok = old->first(); ok; ok = old->next()) {
    if (old->key().size() != 12) {
      *error = "format 1 history key of " + std::to_string(old->key().size()) + " bytes (expected 12)";
      return -1;
    }
    std::uint64_t owner = storage::read_be64(old->key());
    if (owner != instance) {
      if ((rc = finish())) return rc;
      instance = owner;
      prev = 0;
    }
    ++key;
    if ((rc = txn.put(Db::hist, be64(key), history_value(owner, prev, old->value()), true))) return rc;
    prev = key;
  }
  if ((rc = old->status())) return rc;
  if ((rc = finish())) return rc;
  old.reset();
  return txn.drop_legacy("hist");
}

}  // namespace

int migrate_storage(storage::Txn& txn, std::uint32_t from, std::string* error) {
  int rc = 0;
  if (from < 2 && (rc = migrate_1_to_2(txn, error))) return rc;
  return txn.put(Db::meta, "format", storage::be32(kStorageFormat));
}

}  // namespace bihuan::runtime
