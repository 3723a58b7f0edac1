// Storage migrations, one function per format step, run inside the opening transaction.
#include "runtime/format_upgrade.hpp"

#include "runtime/access_index.hpp"
#include "runtime/archive.hpp"
#include "runtime/attachment_refs.hpp"
#include "runtime/chain_walk.hpp"
#include "runtime/engine_impl.hpp"
#include "runtime/outbox_state.hpp"
#include "runtime/record.hpp"

namespace bihuan::runtime {

using storage::be64;
using storage::Db;

namespace {

// Format 1 kept history in "hist" keyed be64(instance) be32(seq). Format 2 appends every
// entry to one log ("history", keyed by a global sequence) and links each entry to the
// instance's previous one; the instance record names its newest entry ("hq"). Entries
// move byte for byte, so every hash stays valid.
int upgrade_1_to_2(storage::Txn& txn, std::string* error) {
  int rc = 0;
  std::size_t logged = txn.entries(Db::hist, rc);
  if (rc) return rc;
  if (logged != 0) {
    *error =
        "format 1 data already holds a format 2 history log (an interrupted migration by another "
        "build?)";
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
      *error =
          "format 1 history key of " + std::to_string(old->key().size()) + " bytes (expected 12)";
      return -1;
    }
    std::uint64_t owner = storage::read_be64(old->key());
    if (owner != instance) {
      if ((rc = finish())) return rc;
      instance = owner;
      prev = 0;
    }
    ++key;
    if ((rc = txn.put(Db::hist, be64(key), history_value(owner, prev, old->value()), true)))
      return rc;
    prev = key;
  }
  if ((rc = old->status())) return rc;
  if ((rc = finish())) return rc;
  old.reset();
  return txn.drop_legacy("hist");
}

// Format 2 kept dead letters in `outbox` beside the waiting messages, so every dispatcher
// poll read all of them. Format 3 moves each dead letter to `dead` and gives every waiting
// message its `outbox_due` key. A record that does not decode stays where it is, without
// a due key (never delivered, as before; verify names it). The seq after the newest
// message is kept in meta/outbox-next, since that message may have moved out of `outbox`.
int upgrade_2_to_3(storage::Txn& txn, std::string* error) {
  int rc = 0;
  const std::size_t due = txn.entries(Db::due, rc), dead_n = rc ? 0 : txn.entries(Db::dead, rc);
  if (rc) return rc;
  if (due != 0 || dead_n != 0) {
    *error =
        "format 2 data already holds format 3 outbox databases (an interrupted migration by "
        "another build?)";
    return -1;
  }
  auto cur = txn.cursor(Db::outbox);
  std::vector<std::string> dead;
  std::uint64_t last = 0;
  for (bool ok = cur->first(); ok; ok = cur->next()) {
    if (cur->key().size() != 8) continue;  // not a key the engine wrote: left for verify
    std::uint64_t seq = storage::read_be64(cur->key());
    last = std::max(last, seq);
    json m = json::from_msgpack(cur->value().begin(), cur->value().end(), true, false);
    if (!m.is_object()) continue;
    if (bool_member(m, "dead")) {
      if ((rc = txn.put(Db::dead, cur->key(), cur->value()))) return rc;
      dead.emplace_back(cur->key());
    } else if ((rc = txn.put(Db::due, outbox_due_key_of(m, seq), ""))) {
      return rc;
    }
  }
  if ((rc = cur->status())) return rc;
  cur.reset();
  for (const auto& key : dead)
    if ((rc = txn.del(Db::outbox, key))) return rc;
  if (last) {
    auto mark = txn.get(Db::meta, kOutboxNextKey, rc);
    if (rc) return rc;
    std::uint64_t next = mark && mark->size() == 8 ? storage::read_be64(*mark) : 0;
    if (next <= last && (rc = txn.put(Db::meta, kOutboxNextKey, be64(last + 1)))) return rc;
  }
  return 0;
}

// Format 4 adds the reader index (ridx) and the unit index (uidx) that scoped lists and
// counts read. Every record gets the entries of its access fields; a record written
// before format 4 has none stored, so it is open: one ridx entry for reader key "*". A
// record that does not decode gets none (verify names it).
int upgrade_3_to_4(storage::Txn& txn, std::string* error) {
  int rc = 0;
  const std::size_t readers = txn.entries(Db::ridx, rc), units = rc ? 0 : txn.entries(Db::uidx, rc);
  if (rc) return rc;
  if (readers != 0 || units != 0) {
    *error =
        "format 3 data already holds format 4 access indexes (an interrupted migration by "
        "another build?)";
    return -1;
  }
  Store store(txn);
  auto cur = txn.cursor(Db::inst);
  for (bool ok = cur->first(); ok; ok = cur->next()) {
    if (cur->key().size() != 8) continue;  // not a key the engine wrote: left for verify
    auto fields = stored_access(cur->value());
    if (!fields) continue;
    if ((rc = reindex_access(store, storage::read_be64(cur->key()), nullptr, *fields))) return rc;
  }
  return cur->status();
}

// Format 6 adds the attachment reference index (attref). Every stored instance gets the
// keys of each "sha256:<hex>" string in its data and along its history chain: more than
// the schema-checked files a step writes (an over-count keeps a file longer, never
// removes one in use). Archived instances (`gone`) name nothing: their files stay.
int upgrade_5_to_6(storage::Txn& txn, std::string* error) {
  int rc = 0;
  if (std::size_t refs = txn.entries(Db::attref, rc); rc || refs != 0) {
    if (!rc)
      *error =
          "format 5 data already holds a format 6 attachment index (an interrupted migration by "
          "another build?)";
    return rc ? rc : -1;
  }
  const TimeZone& utc = *TimeZone::utc();
  auto cur = txn.cursor(Db::inst);
  for (bool ok = cur->first(); ok; ok = cur->next()) {
    if (cur->key().size() != 8) continue;  // not a key the engine wrote: left for verify
    auto rec = decode_instance(cur->value());
    if (!rec) continue;
    std::set<std::string> named;
    for (auto& a : attachment_addresses(rec->data)) named.insert(std::move(a));
    rc = walk_chain(txn, *rec, [&](std::uint64_t, std::string_view sealed) {  // up to a break
      if (auto e = history_from_bytes(sealed))
        for (auto& a : attachment_addresses(e->to_json(utc))) named.insert(std::move(a));
    });
    if (rc || (rc = put_attachment_refs(txn, rec->id, {named.begin(), named.end()}))) return rc;
  }
  return cur->status();
}

}  // namespace

int upgrade_format(storage::Txn& txn, std::uint32_t from, std::string* error) {
  int rc = 0;
  if (from < 2 && (rc = upgrade_1_to_2(txn, error))) return rc;
  if (from < 3 && (rc = upgrade_2_to_3(txn, error))) return rc;
  if (from < 4 && (rc = upgrade_3_to_4(txn, error))) return rc;
  if (from < 6 && (rc = upgrade_5_to_6(txn, error))) return rc;
  // Format 5 adds `gone` (archived instances' last records), created empty when the
  // environment opens: nothing to rewrite. Instances a format-4 build archived left no
  // record there (docs/retention.md, "Statistics after archiving").
  return txn.put(Db::meta, "format", storage::be32(kStorageFormat));
}

}  // namespace bihuan::runtime
