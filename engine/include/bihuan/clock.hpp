// The only source of time for the engine: a real clock, or a virtual one that tests and
// the simulator move forward by hand (to the next due timer), so a year of quarterly
// timers runs in milliseconds. Thread-safety: both implementations are thread-safe.
#pragma once

#include <atomic>

#include "bihuan/time.hpp"

namespace bihuan {

class Clock {
 public:
  virtual ~Clock() = default;
  virtual TimePoint now() const = 0;
  // True for a VirtualClock: the engine then never sleeps waiting for time to pass.
  virtual bool is_virtual() const { return false; }
};

class SystemClock final : public Clock {
 public:
  TimePoint now() const override {
    return std::chrono::time_point_cast<Millis>(std::chrono::system_clock::now());
  }
};

// Real time shifted by a fixed offset: runs at the speed of the system clock from a chosen
// instant (demonstrations and training on data simulated for another date).
class OffsetClock final : public Clock {
 public:
  // now() == `at` when the system clock reads `system_at`.
  OffsetClock(TimePoint at, TimePoint system_at) : offset_(at - system_at) {}
  TimePoint now() const override {
    return std::chrono::time_point_cast<Millis>(std::chrono::system_clock::now()) + offset_;
  }

 private:
  Millis offset_;
};

class VirtualClock final : public Clock {
 public:
  explicit VirtualClock(TimePoint start) : ms_(start.time_since_epoch().count()) {}
  TimePoint now() const override { return TimePoint(Millis(ms_.load())); }
  bool is_virtual() const override { return true; }
  // Moves time to `t`; never backwards (a smaller t is ignored).
  void set(TimePoint t) {
    auto v = t.time_since_epoch().count(), cur = ms_.load();
    while (v > cur && !ms_.compare_exchange_weak(cur, v)) {
    }
  }
  void advance(Millis d) { ms_ += d.count(); }

 private:
  std::atomic<std::int64_t> ms_;
};

}  // namespace bihuan
