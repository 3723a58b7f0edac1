// PgRemote's turn (storage::Remote::hold_turn; docs/design-scale-out.md, "Turns"): the
// store's writer lock, pg_advisory_lock(PgRemote::kWriterLockKey), held at SESSION level by
// one connection of this process across transactions. Internal to engine/src/pg/.
//
// While held, every write transaction and commit of the PgRemote runs on that connection,
// one at a time (take() waits while another has it): its pg_advisory_xact_lock of the same
// key is granted at once (PostgreSQL grants a lock a session already holds), whereas on
// any other connection of this process it would wait for ourselves forever. A connection
// given back broken ends the turn: the server ended the session and the lock with it.
// Any thread.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>

#include "pg/pg_pool.hpp"
#include "storage/remote.hpp"

namespace bihuan::pg {

class Turn final : public ConnHome {
 public:
  Turn(ConnPool& pool, std::int64_t key, std::string server)
      : pool_(pool), key_(key), server_(std::move(server)) {}
  ~Turn() override;  // lets go (the turn's connection goes back to the pool)

  // Takes the lock, waiting at most wait_ms (lock_timeout; SQLSTATE 55P03 past it: busy),
  // then reads db/key into *value, in one round trip. held when it already was.
  storage::TurnOutcome hold(int wait_ms, storage::Db db, std::string_view key,
                            std::optional<std::string>* value, std::string* error);
  bool held() const;
  // pg_advisory_unlock, once no transaction is in the turn.
  void release();
  // Another session waits for the key's lock (pg_locks), asked on a pooled connection.
  bool wanted();

  // The turn's connection for one transaction or commit, waiting while another has it;
  // nullptr when the turn is not held. Give it back with give().
  std::unique_ptr<Conn> take();
  void give(std::unique_ptr<Conn> c) override;

 private:
  ConnPool& pool_;
  const std::int64_t key_;
  const std::string server_;
  mutable std::mutex mu_;
  std::condition_variable free_;  // busy_ went false
  std::unique_ptr<Conn> conn_;    // the turn's connection, kept between turns
  bool held_ = false;
  bool busy_ = false;  // conn_ is out (take() .. give())
};

}  // namespace bihuan::pg
