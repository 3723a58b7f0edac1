// Runs plugin calls on a thread of its own so the caller can stop waiting after a timeout.
// A call that times out is abandoned: its thread is detached and finishes (or hangs) on
// its own, holding what the call captured (the plugin object and so its library); the
// Caller starts a fresh thread for the next call. `abandoned` counts such threads still
// running (each decrements it when its call finally returns).
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>

#include "bihuan/plugin_host.hpp"

namespace bihuan::dispatch {

class Caller {
 public:
  explicit Caller(std::shared_ptr<std::atomic<std::uint64_t>> abandoned)
      : abandoned_(std::move(abandoned)) {}
  ~Caller();
  Caller(const Caller&) = delete;
  Caller& operator=(const Caller&) = delete;

  // The call's result, or nullopt when it did not return within `timeout`.
  std::optional<PluginResult> call(std::function<PluginResult()> fn,
                                   std::chrono::milliseconds timeout);

 private:
  struct Slot {
    std::mutex mu;
    std::condition_variable cv;
    std::function<PluginResult()> job;
    std::optional<PluginResult> result;
    bool quit = false;
    bool abandoned = false;
  };
  static void run(std::shared_ptr<Slot> slot,
                  std::shared_ptr<std::atomic<std::uint64_t>> abandoned);

  std::shared_ptr<std::atomic<std::uint64_t>> abandoned_;
  std::shared_ptr<Slot> slot_;
  std::thread thread_;
};

}  // namespace bihuan::dispatch
