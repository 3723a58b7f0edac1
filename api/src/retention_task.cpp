// RetentionTask (bihuan/server_retention.hpp): retention on the engine clock, on its own
// thread, so a long run never holds an io thread or the worker pool.
#include "bihuan/server_retention.hpp"

namespace bihuan {

namespace {
constexpr std::size_t kBatchesPerTurn = 10;
}

RetentionTask::RetentionTask(Engine& engine, RetentionOptions options, Log log)
    : engine_(engine), options_(std::move(options)), log_(std::move(log)) {
  thread_ = std::thread([this] { loop(); });
}

RetentionTask::~RetentionTask() { stop(); }

void RetentionTask::stop() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void RetentionTask::loop() {
  TimePoint next{};  // the first turn runs at once
  const auto look = engine_.clock().is_virtual() ? std::chrono::milliseconds(20)
                                                 : std::chrono::milliseconds(1000);
  std::unique_lock lock(mu_);
  while (!stop_) {
    TimePoint now = engine_.clock().now();
    if (now >= next) {
      lock.unlock();
      RetentionRun run;
      run.options = options_;
      run.max_batches = kBatchesPerTurn;
      RetentionReport rep;
      try {
        rep = run_retention(engine_, run);
      } catch (const std::exception& e) {
        rep.error = e.what();
      }
      if (log_ && (rep.removed || rep.recovered || !rep.error.empty()))
        log_(rep.error.empty() ? "info" : "error", "retention run",
             {{"removed", rep.removed},
              {"expired", rep.expired},
              {"held", rep.held},
              {"recovered", rep.recovered},
              {"archives", rep.archives},
              {"error", rep.error}});
      bool more = rep.error.empty() && rep.archives.size() >= kBatchesPerTurn;
      next = more ? now : now + Millis(options_.interval_ms);
      lock.lock();
      continue;
    }
    cv_.wait_for(lock, look, [this] { return stop_; });
  }
}

}  // namespace bihuan
