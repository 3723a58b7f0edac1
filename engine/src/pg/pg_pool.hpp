// A pool of libpq connections to one database, for PgRemote (pg_remote.hpp). Any thread.
//
// take() hands out a connection with no transaction open: an idle one (first checked for
// what the server sent while it sat unused, without a round trip: a terminated backend is
// dropped then), else a new one while fewer than max_open are open, else it waits until
// one is given back. give() keeps a connection for reuse when it is usable, has no
// transaction open and fewer than max_idle are kept; else it closes it. Every connection
// taken must be given back before the pool is destroyed.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "pg/pg_conn.hpp"

namespace bihuan::pg {

// Where a leased connection goes back to: the pool, or PgRemote's turn (pg_turn.hpp).
class ConnHome {
 public:
  virtual ~ConnHome() = default;
  virtual void give(std::unique_ptr<Conn> c) = 0;
};

class ConnPool final : public ConnHome {
 public:
  // `first` (may be nullptr) is an open connection to keep as the first idle one.
  ConnPool(std::string conninfo, const ConnectDefaults& d, std::size_t max_idle,
           std::size_t max_open, std::unique_ptr<Conn> first);
  ~ConnPool();
  ConnPool(const ConnPool&) = delete;
  ConnPool& operator=(const ConnPool&) = delete;

  // nullptr and *error when a new connection cannot be made (within the connect timeout).
  // *reused (if given): it was idle in the pool (so it may have died unnoticed).
  std::unique_ptr<Conn> take(std::string* error, bool* reused = nullptr);
  void give(std::unique_ptr<Conn> c) override;
  // Closes c (its session ends, and every lock it holds with it), whatever its state.
  void discard(std::unique_ptr<Conn> c);

  std::size_t open_count() const;  // leased and idle
  std::size_t idle_count() const;

 private:
  const std::string conninfo_;
  const ConnectDefaults defaults_;
  const std::size_t max_idle_, max_open_;
  mutable std::mutex mu_;
  std::condition_variable returned_;  // a connection was given back or closed
  std::vector<std::unique_ptr<Conn>> idle_;
  std::size_t open_ = 0;
};

// A connection taken from a pool (or a turn), given back when this ends.
class Lease {
 public:
  Lease(ConnHome& home, std::unique_ptr<Conn> c) : pool_(&home), conn_(std::move(c)) {}
  ~Lease() {
    if (conn_) pool_->give(std::move(conn_));
  }
  Lease(const Lease&) = delete;
  Lease& operator=(const Lease&) = delete;
  Conn& operator*() const { return *conn_; }
  Conn* operator->() const { return conn_.get(); }

 private:
  ConnHome* pool_;
  std::unique_ptr<Conn> conn_;
};

}  // namespace bihuan::pg
