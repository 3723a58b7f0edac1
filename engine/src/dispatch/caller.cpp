#include "dispatch/caller.hpp"

namespace bihuan::dispatch {

Caller::~Caller() {
  if (!thread_.joinable()) return;
  {
    std::lock_guard lock(slot_->mu);
    slot_->quit = true;
  }
  slot_->cv.notify_all();
  thread_.join();
}

void Caller::run(std::shared_ptr<Slot> slot,
                 std::shared_ptr<std::atomic<std::uint64_t>> abandoned) {
  std::unique_lock lock(slot->mu);
  while (true) {
    slot->cv.wait(lock, [&] { return slot->job || slot->quit; });
    if (!slot->job) return;  // quit
    auto job = std::move(slot->job);
    slot->job = nullptr;
    lock.unlock();
    PluginResult r;
    try {
      r = job();
    } catch (const std::exception& e) {
      r = PluginResult::failure(std::string("plugin call failed: ") + e.what());
    } catch (...) {
      r = PluginResult::failure("plugin call failed with an unknown exception");
    }
    job = nullptr;  // release what the call captured before reporting
    lock.lock();
    if (slot->abandoned) {
      --*abandoned;
      return;
    }
    slot->result = std::move(r);
    slot->cv.notify_all();
  }
}

std::optional<PluginResult> Caller::call(std::function<PluginResult()> fn,
                                         std::chrono::milliseconds timeout) {
  if (!thread_.joinable()) {
    slot_ = std::make_shared<Slot>();
    thread_ = std::thread(&Caller::run, slot_, abandoned_);
  }
  std::unique_lock lock(slot_->mu);
  slot_->result.reset();
  slot_->job = std::move(fn);
  slot_->cv.notify_all();
  if (slot_->cv.wait_for(lock, timeout, [&] { return slot_->result.has_value(); })) {
    auto r = std::move(slot_->result);
    slot_->result.reset();
    return r;
  }
  // Timed out: leave the thread to its call; the next call gets a new one.
  slot_->abandoned = true;
  ++*abandoned_;
  lock.unlock();
  thread_.detach();
  slot_.reset();
  return std::nullopt;
}

}  // namespace bihuan::dispatch
