// Retention run by `bihuan serve` (docs/retention.md, "In the server"): the configuration's
// server.retention section and the task that runs retention on the engine clock.
#pragma once

#include <condition_variable>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include "bihuan/engine.hpp"
#include "bihuan/retention.hpp"

namespace bihuan {

// server.retention = {"default", "intervalMinutes", "batch", "archiveDir"} of the "server"
// section `server` (nullopt when absent, or with problems: each added under `at` +
// "/retention"). archiveDir resolves against base_dir.
std::optional<RetentionOptions> retention_from_json(const json& server, const std::string& base_dir,
                                                    const std::string& at, Problems& problems);

// Runs retention at start and then every options.interval_ms of the engine clock, on its
// own thread (it looks at the clock every second, every 20 ms when the clock is virtual),
// at most 10 batches per turn (more follow at once). `log(level, msg, fields)` hears each
// run that removed or recovered something or failed. Stops (waiting for a run in hand)
// when destroyed or stop()ped: before the engine closes.
class RetentionTask {
 public:
  using Log = std::function<void(const char* level, const std::string& msg, json fields)>;
  RetentionTask(Engine& engine, RetentionOptions options, Log log);
  ~RetentionTask();
  RetentionTask(const RetentionTask&) = delete;
  RetentionTask& operator=(const RetentionTask&) = delete;
  void stop();

 private:
  void loop();
  Engine& engine_;
  RetentionOptions options_;
  Log log_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;
  std::thread thread_;
};

}  // namespace bihuan
