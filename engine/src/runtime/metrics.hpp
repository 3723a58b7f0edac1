// Engine counters and histograms. Written by the writer and the committer thread (each
// update one atomic read-modify-write, so none is lost), read from any thread (relaxed
// atomics: a reader may see a histogram mid-update, off by one observation).
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <initializer_list>
#include <vector>

#include "bihuan/engine.hpp"

namespace bihuan::runtime {

class AtomicHistogram {
 public:
  AtomicHistogram(std::initializer_list<double> bounds)
      : bounds_(bounds), counts_(bounds.size() + 1) {}
  void observe(double v, std::uint64_t times = 1) {  // `times` observations of v
    std::size_t i = 0;
    while (i < bounds_.size() && v > bounds_[i]) ++i;
    counts_[i].fetch_add(times, std::memory_order_relaxed);
    sum_.fetch_add(v * static_cast<double>(times), std::memory_order_relaxed);
    count_.fetch_add(times, std::memory_order_relaxed);
  }
  Histogram snapshot() const {
    Histogram h;
    h.bounds = bounds_;
    for (const auto& c : counts_) h.counts.push_back(c.load(std::memory_order_relaxed));
    h.sum = sum_.load(std::memory_order_relaxed);
    h.count = count_.load(std::memory_order_relaxed);
    return h;
  }

 private:
  std::vector<double> bounds_;
  std::vector<std::atomic<std::uint64_t>> counts_;
  std::atomic<double> sum_{0};
  std::atomic<std::uint64_t> count_{0};
};

struct EngineCounters {
  std::atomic<std::uint64_t> steps{0}, steps_refused{0}, commits{0}, storage_failures{0},
      timers_fired{0}, reexecuted{0}, timers_ahead{0}, timers_ahead_dropped{0}, timers_dropped{0},
      timers_refused{0}, turns_taken{0}, turns_passed{0}, turn_waits_expired{0};
  AtomicHistogram step_latency{0.0005, 0.001, 0.002, 0.005, 0.01, 0.02,
                               0.05,   0.1,   0.25,  0.5,   1,    2.5};
  AtomicHistogram batch_size{1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048};
  AtomicHistogram timer_lag{0.001, 0.01, 0.05, 0.1, 0.5, 1, 5, 30, 60, 300};
};

}  // namespace bihuan::runtime
