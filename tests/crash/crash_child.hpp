// The crash test's child process: opens the engine on the shared data directory with the
// real clock in durable mode and runs a concurrent workload until the parent kills it.
// It reports every attempt and every acknowledgement on the journal pipe (see
// crash_journal.hpp). It never runs gtest assertions and never returns: it _exits.
#pragma once

#include <signal.h>
#include <unistd.h>
#ifdef __linux__
#include <sys/prctl.h>
#endif

#include <atomic>
#include <cerrno>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <random>
#include <thread>

#include "crash_journal.hpp"

namespace bihuan::crash {

inline void emit(int fd, std::string line) {
  if (line.size() > 400) line.resize(400);  // stays below PIPE_BUF: one atomic write
  for (char& c : line)
    if (c == '\n') c = ' ';
  line += '\n';
  const char* p = line.data();
  std::size_t left = line.size();
  while (left > 0) {
    ssize_t n = ::write(fd, p, left);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) _exit(4);  // the parent is gone
    p += n;
    left -= static_cast<std::size_t>(n);
  }
}

// Instances the workers send events to.
class TargetPool {
 public:
  struct Target {
    std::string id, business_key;
    std::shared_ptr<std::atomic<int>> next_event = std::make_shared<std::atomic<int>>(0);
  };
  void add(std::string id, std::string business_key) {
    std::lock_guard lock(mu_);
    targets_.push_back({std::move(id), std::move(business_key)});
  }
  bool pick(std::mt19937_64& rng, Target& out) {
    std::lock_guard lock(mu_);
    if (targets_.empty()) return false;
    out = targets_[rng() % targets_.size()];
    return true;
  }

 private:
  std::mutex mu_;
  std::vector<Target> targets_;
};

// Bounds one worker's requests in flight (the async API itself never blocks).
class Lane {
 public:
  void acquire() {
    std::unique_lock lock(mu_);
    cv_.wait(lock, [&] { return in_flight_ < kMaxInFlight; });
    ++in_flight_;
  }
  void release() {
    {
      std::lock_guard lock(mu_);
      --in_flight_;
    }
    cv_.notify_one();
  }

 private:
  static constexpr int kMaxInFlight = 16;
  std::mutex mu_;
  std::condition_variable cv_;
  int in_flight_ = 0;
};

struct ChildWork {
  ChildWork(Engine& e, int journal_fd, int round_no) : engine(e), fd(journal_fd), round(round_no) {}
  Engine& engine;
  int fd;
  int round;
  TargetPool pool;
  std::atomic<int> next_start{0};
  static constexpr int kMaxStartsPerRound = 400;  // bounds the data a long run accumulates
};

inline void report(ChildWork& w, const char* kind, const std::string& key, const StepResult& r) {
  if (r.ok() && r.instance) {
    emit(w.fd, std::string("A ") + kind + " " + key + " " + r.instance->id + " " +
                   std::to_string(r.instance->version));
    if (*kind == 's') w.pool.add(r.instance->id, key);
  } else {
    emit(w.fd, std::string("F ") + kind + " " + key + " " + to_string(r.error) + " " + r.message);
  }
}

// Lane 0 uses the synchronous API, the others the asynchronous one.
inline void run_worker(ChildWork& w, int lane_no, std::uint64_t seed) {
  std::mt19937_64 rng(seed * 1000003u + static_cast<std::uint64_t>(lane_no));
  Lane lane;
  bool sync = lane_no == 0;
  while (true) {
    TargetPool::Target target;
    bool have_target = w.pool.pick(rng, target);
    bool start =
        (!have_target || rng() % 3 == 0) && w.next_start.load() < ChildWork::kMaxStartsPerRound;
    if (!start && !have_target) {
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
      continue;
    }
    if (!sync) lane.acquire();
    if (start) {
      int n = w.next_start++;
      std::string key = "s" + std::to_string(w.round) + "-" + std::to_string(n);
      std::string delay = kDelays[static_cast<std::size_t>(n) % std::size(kDelays)].iso;
      emit(w.fd, "T s " + key + " " + delay);
      if (sync) {
        report(w, "s", key, w.engine.start(start_request(key, delay)));
      } else {
        w.engine.start_async(start_request(key, delay), [&w, &lane, key](StepResult r) {
          report(w, "s", key, r);
          lane.release();
        });
      }
    } else {
      std::string key = "e" + std::to_string(w.round) + "-" + target.business_key + "-" +
                        std::to_string(target.next_event->fetch_add(1));
      emit(w.fd, "T e " + key + " " + target.id);
      if (sync) {
        report(w, "e", key, w.engine.send(event_request(key, target.id)));
      } else {
        w.engine.send_async(event_request(key, target.id), [&w, &lane, key](StepResult r) {
          report(w, "e", key, r);
          lane.release();
        });
      }
    }
  }
}

// Every third round: a burst of starts in one group commit, so their timers fall due in
// the same millisecond. The idle writer executes the burst's firings ahead and the
// committer holds them until they are due (engine/src/runtime/ahead.cpp); the kill lands
// before the hold, during it, in the commit or after it. Then a few pings to the burst's
// instances right around the due time (0-3 ms before or after it), so that a step meets
// the burst as it is cancelled or handed off: the checks then find each ping and each
// firing exactly once, in either order.
inline void run_burst(ChildWork& w, std::uint64_t seed) {
  constexpr int kBurst = 100;                           // above the look-ahead's minimum of 64
  const std::string delay = kDelays[1 + seed % 3].iso;  // 50, 120 or 250 ms
  std::mt19937_64 rng(seed ^ 0xb0b);
  std::vector<std::string> keys;
  {
    CommitGroup group(w.engine);
    for (int i = 0; i < kBurst && w.next_start.load() < ChildWork::kMaxStartsPerRound; ++i) {
      std::string key = "s" + std::to_string(w.round) + "-" + std::to_string(w.next_start++);
      emit(w.fd, "T s " + key + " " + delay);
      w.engine.start_async(start_request(key, delay),
                           [&w, key](StepResult r) { report(w, "s", key, r); });
      keys.push_back(key);
    }
  }
  std::optional<InstanceView> first;
  for (int i = 0; i < 2000 && !first; ++i) {  // the burst's commit, then its due time
    first = w.engine.get_by_business_key(keys.front());
    if (!first) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  if (!first) return;
  auto due = first->created_at + Millis(delay_ms(delay));
  auto ping_at = due + Millis(static_cast<std::int64_t>(rng() % 7) - 3);
  std::this_thread::sleep_until(std::chrono::system_clock::time_point(ping_at.time_since_epoch()));
  for (int i = 0; i < 5; ++i) {
    auto target = w.engine.get_by_business_key(keys[rng() % keys.size()]);
    if (!target) continue;
    std::string key =
        "e" + std::to_string(w.round) + "-" + target->business_key + "-b" + std::to_string(i);
    emit(w.fd, "T e " + key + " " + target->id);
    report(w, "e", key, w.engine.send(event_request(key, target->id)));
  }
}

// Reads alongside the writes, so kills also land while read transactions hold reader slots.
inline void run_reader(ChildWork& w, std::uint64_t seed) {
  std::mt19937_64 rng(seed ^ 0x5eed);
  while (true) {
    TargetPool::Target target;
    if (w.pool.pick(rng, target)) {
      (void)w.engine.get(target.id);
      if (rng() % 8 == 0) (void)w.engine.history(target.id);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
}

[[noreturn]] inline void run_child(const std::string& dir, int fd, int round, std::uint64_t seed) {
#ifdef __linux__
  prctl(PR_SET_PDEATHSIG, SIGKILL);  // never outlive a parent that died mid-test
#endif
  alarm(30);  // and never run forever if the parent forgets us
  try {
    EngineOptions o;
    o.data_dir = dir;
    o.clock = std::make_shared<SystemClock>();
    o.durable = true;
    o.initial_map_bytes = map_bytes();
    Problems problems;
    auto engine = Engine::open(o, problems);
    if (!engine) {
      emit(fd, "X cannot open the engine: " +
                   (problems.items().empty() ? std::string() : problems.items()[0].to_string()));
      _exit(2);
    }
    auto deployed = engine->deploy(json::parse(kDefinition), "crash.ticker");
    if (!deployed.ok) {
      emit(fd, "X cannot deploy: " + (deployed.problems.items().empty()
                                          ? std::string()
                                          : deployed.problems.items()[0].to_string()));
      _exit(2);
    }
    auto* work = new ChildWork(*engine, fd, round);  // lives until the kill
    if (round > 0) {  // events also go to instances an earlier child started
      InstanceQuery q;
      q.business_key_prefix = "s" + std::to_string(round - 1) + "-";
      q.limit = 50;
      for (const auto& v : engine->query(q).items) work->pool.add(v.id, v.business_key);
    }
    emit(fd, "R");
    if (round % 3 == 2) run_burst(*work, seed);
    for (int lane = 0; lane < 4 && round % 3 != 2; ++lane)
      std::thread([work, lane, seed] {
        try {
          run_worker(*work, lane, seed);
        } catch (const std::exception& e) {
          emit(work->fd, std::string("X worker: ") + e.what());
          _exit(3);
        }
      }).detach();
    std::thread([work, seed] {
      try {
        run_reader(*work, seed);
      } catch (const std::exception& e) {
        emit(work->fd, std::string("X reader: ") + e.what());
        _exit(3);
      }
    }).detach();
    while (true) pause();  // the engine is never closed: the process ends by SIGKILL
  } catch (const std::exception& e) {
    emit(fd, std::string("X ") + e.what());
  } catch (...) {
    emit(fd, "X unknown exception");
  }
  _exit(3);
}

}  // namespace bihuan::crash
