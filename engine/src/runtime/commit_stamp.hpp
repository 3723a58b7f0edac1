// The stamp every commit of this engine leaves: meta/"writer" = token + be64(count).
//
// Finding another value there (foreign()) means another process (a CLI on the same data
// directory) committed since our last commit; the value found is then taken as seen,
// since the caller goes on from that store. Used by whichever thread commits: the
// committer, or the writer in direct mode or while the committer is idle; they hand it
// over under the committer's lock, never use it at once.
#pragma once

#include <cstdint>
#include <random>
#include <string>

#include "storage/lmdb_env.hpp"

namespace bihuan::runtime {

class CommitStamp {
 public:
  // At open: a new random token; the stamp found in `txn` taken as seen. An LMDB error
  // (then nothing is changed).
  int load(storage::Txn& txn) {
    std::random_device rd;
    std::string token = storage::be64((std::uint64_t{rd()} << 32) ^ rd());
    int rc = 0;
    auto seen = txn.get(storage::Db::meta, "writer", rc);
    if (rc) return rc;
    token_ = std::move(token);
    stamp_ = seen ? std::string(*seen) : std::string();
    return 0;
  }
  // True if the store holds another stamp than our last (taken as seen now). *rc: an
  // LMDB error reading it (then false).
  bool foreign(storage::Txn& txn, int* rc) {
    auto seen = txn.get(storage::Db::meta, "writer", *rc);
    if (*rc) return false;
    std::string_view found = seen ? *seen : std::string_view();
    if (found == stamp_) return false;
    stamp_ = std::string(found);
    return true;
  }
  // Writes the next stamp into `txn`; *next is it, to pass to committed() once the
  // transaction committed.
  int put(storage::Txn& txn, std::string* next) const {
    *next = token_ + storage::be64(count_ + 1);
    return txn.put(storage::Db::meta, "writer", *next);
  }
  // The next stamp, for a commit that writes it itself (a logged commit's frame).
  std::string next() const { return token_ + storage::be64(count_ + 1); }
  void committed(std::string next) {
    stamp_ = std::move(next);
    ++count_;
  }
  const std::string& current() const { return stamp_; }
  // Takes `found` (the store's stamp, read elsewhere) as seen, as foreign() does.
  void adopt(std::string found) { stamp_ = std::move(found); }

 private:
  std::string token_, stamp_;
  std::uint64_t count_ = 0;
};

}  // namespace bihuan::runtime
