// Env, Txn and Cursor over a remote store (lmdb_env.hpp, remote.hpp): what differs from
// LMDB. Errors become kRemote* codes whose sentence is kept per thread for error_text().
#include <lmdb.h>

#include <cerrno>

#include "storage/lmdb_env.hpp"

namespace bihuan::storage {
namespace {

thread_local std::string last_remote_error;

}  // namespace

int remote_error(int code, std::string sentence) {
  last_remote_error = std::move(sentence);
  return code;
}

std::string remote_text(int code) {
  const std::string& what =
      last_remote_error.empty() ? std::string("no detail") : last_remote_error;
  switch (code) {
    case kRemoteUnknown:
      return "the remote store's commit outcome is unknown (" + what + ")";
    case kRemoteConflict:
      return "another writer committed to the remote store first";
    case kRemoteRefused:
      return what;
    default:
      return "the remote store failed: " + what;
  }
}

std::unique_ptr<Env> Env::open_remote(const std::string& dir, std::unique_ptr<Remote> remote) {
  std::unique_ptr<Env> env(new Env());
  env->dir_ = dir;
  env->remote_ = std::move(remote);
  return env;
}

std::unique_ptr<Txn> Env::begin_remote(bool write, int* rc_out) {
  std::string error;
  auto t = remote_->begin(write, &error);
  if (!t) {
    int rc = remote_error(kRemoteFailed, std::move(error));
    if (rc_out) *rc_out = rc;
    return nullptr;
  }
  if (rc_out) *rc_out = 0;
  return std::unique_ptr<Txn>(new Txn(*this, std::move(t), write));
}

int Env::remote_commit(std::size_t n, const std::function<OpRef(std::size_t)>& op,
                       const Expect* expect) {
  std::string error;
  switch (remote_->commit(n, op, expect, &error)) {
    case RemoteOutcome::ok:
      return 0;
    case RemoteOutcome::conflict:
      return remote_error(kRemoteConflict, std::move(error));
    case RemoteOutcome::unknown:
      return remote_error(kRemoteUnknown, std::move(error));
    case RemoteOutcome::failed:
      break;
  }
  return remote_error(kRemoteFailed, std::move(error));
}

std::optional<std::string_view> Txn::remote_get(Db db, std::string_view key, int& rc) {
  rc = 0;
  std::string value, error;
  if (remote_->get(db, key, &value, &error)) return got_.emplace_back(std::move(value));
  if (!error.empty()) rc = remote_error(kRemoteFailed, std::move(error));
  return std::nullopt;
}

int Txn::remote_commit() {
  std::string error;
  bool unknown = false;
  const bool ok = remote_->commit(&error, &unknown);
  remote_.reset();
  got_.clear();
  if (ok) return 0;
  return remote_error(unknown ? kRemoteUnknown : kRemoteFailed, std::move(error));
}

bool Cursor::remote_load(int op, std::string_view k) {
  bool on = false;
  switch (op) {
    case MDB_FIRST:
      on = remote_->seek({});
      break;
    case MDB_SET_RANGE:
      on = remote_->seek(k);
      break;
    case MDB_NEXT:
      on = remote_->next();
      break;
    case MDB_LAST:
      on = remote_->last();
      break;
    default:  // MDB_PREV: nothing walks backwards (lmdb_env.hpp)
      rc_ = EINVAL;
      return false;
  }
  if (!on) {
    rc_ = remote_->error().empty() ? 0 : remote_error(kRemoteFailed, remote_->error());
    return false;
  }
  rc_ = 0;
  key_ = remote_->key();
  value_ = remote_->value();
  return true;
}

}  // namespace bihuan::storage
