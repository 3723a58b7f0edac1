// ConnPool (pg_pool.hpp).
#include "pg/pg_pool.hpp"

#include <algorithm>

namespace bihuan::pg {

ConnPool::ConnPool(std::string conninfo, const ConnectDefaults& d, std::size_t max_idle,
                   std::size_t max_open, std::unique_ptr<Conn> first)
    : conninfo_(std::move(conninfo)),
      defaults_(d),
      max_idle_(max_idle),
      max_open_(std::max<std::size_t>(max_open, 1)) {
  if (first) {
    ++open_;
    give(std::move(first));
  }
}

ConnPool::~ConnPool() = default;

std::unique_ptr<Conn> ConnPool::take(std::string* error, bool* reused) {
  if (reused) *reused = false;
  {
    std::unique_lock lock(mu_);
    for (;;) {
      while (!idle_.empty()) {
        std::unique_ptr<Conn> c = std::move(idle_.back());
        idle_.pop_back();
        if (c->alive()) {
          if (reused) *reused = true;
          return c;
        }
        --open_;  // gone while idle: dropped (closing it sends nothing)
      }
      if (open_ < max_open_) break;
      returned_.wait(lock);
    }
    ++open_;  // the slot of the connection made below
  }
  auto c = Conn::connect(conninfo_, defaults_, error);
  if (!c) {
    std::lock_guard lock(mu_);
    --open_;
    returned_.notify_one();
  }
  return c;
}

void ConnPool::give(std::unique_ptr<Conn> c) {
  if (!c) return;
  std::unique_ptr<Conn> closing;  // closed outside the lock
  {
    std::lock_guard lock(mu_);
    if (!c->broken() && c->idle() && idle_.size() < max_idle_) {
      idle_.push_back(std::move(c));
    } else {
      closing = std::move(c);
      --open_;
    }
  }
  returned_.notify_one();
}

void ConnPool::discard(std::unique_ptr<Conn> c) {
  if (!c) return;
  c.reset();  // closed outside the lock
  {
    std::lock_guard lock(mu_);
    --open_;
  }
  returned_.notify_one();
}

std::size_t ConnPool::open_count() const {
  std::lock_guard lock(mu_);
  return open_;
}

std::size_t ConnPool::idle_count() const {
  std::lock_guard lock(mu_);
  return idle_.size();
}

}  // namespace bihuan::pg
