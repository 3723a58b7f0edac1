// The named databases of a data directory (docs/storage.md): shared by the LMDB face
// (lmdb_env.hpp) and the write-ahead log's op codec (wal.hpp).
#pragma once

#include <string_view>

namespace bihuan::storage {

enum class Db : unsigned {
  meta,      // "format" -> u32 storage format version, "created" -> ISO time,
             // "wal_applied" -> be64 lsn of the last log frame in this B-tree (format 7)
  defs,      // id \0 be64(version) -> definition JSON text
  inst,      // be64(instance id) -> msgpack instance record
  hist,      // "history": be64(global seq) -> be64(instance) be64(previous seq) msgpack entry
  bkey,      // business key -> be64(instance id) of the newest instance with that key
  idem,      // scope \0 key -> msgpack idempotency record
  timers,    // be64(due ms) be64(instance id) be32(timer seq) -> msgpack timer
  sidx,      // definition \0 state \0 be64(instance id) -> "" (query/inbox index)
  outbox,    // be64(seq) -> msgpack message (waiting or retrying; dead letters are in `dead`)
  children,  // be64(parent) be64(child) -> ""
  due,       // "outbox_due": channel \0 be64(due ms) be64(seq) -> "" (one per `outbox` record)
  dead,      // be64(seq) -> msgpack message (dead letters)
  ridx,      // reader key \0 definition \0 be64(instance id) -> "" (one per reader key)
  uidx,      // definition \0 unit "/" \0 be64(instance id) -> "" (instances with a unit)
  gone,      // be64(instance id) -> msgpack record of an archived instance, its last state
             // (no history, no timers): statistics keep counting it (format 5)
  attref,    // 'a' sha256(32) be64(instance) -> "" and 'i' be64(instance) sha256(32) -> "":
             // which files each instance names (format 6; runtime/attachment_refs.hpp)
  count_
};

// One write of a commit: a put, or a delete (value ignored). What Env::LogCommit::append
// and Remote::commit take.
struct OpRef {
  Db db;
  bool put;  // false: delete
  std::string_view key, value;
};

}  // namespace bihuan::storage
