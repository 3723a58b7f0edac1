// The outbox dispatcher: delivers the notifications and tasks that steps wrote to the
// durable outbox through the configured plugin objects, at least once.
//
// Each channel (a configured notifier or task handler) has its own queue and at most
// `concurrency` plugin calls in flight, so a slow or failing plugin never delays another
// channel, and the engine's writer never waits for a plugin. Every call has a timeout: a
// call still running then counts as a failed attempt and its thread is abandoned (left
// to finish or hang on its own; counted in Stats::abandoned_running and capped per
// channel). A failed attempt is retried after an exponential backoff with full jitter:
//   delay = uniform(0, min(maxMs, initialMs * 2^(attempts-1))) ms
// by the engine's clock; after maxAttempts the message becomes a dead letter (kept apart
// from the waiting messages, listed by `bihuan dead-letters`, retried by `bihuan retry`).
// Due messages are found through each channel's due index (Engine::outbox_due), so a poll
// costs what is due, not what the outbox holds. A message is
// acknowledged (deleted) only after its plugin reported success, so a crash at any point
// redelivers it: receivers deduplicate on its idempotency key.
//
// One dispatcher per data directory: a Dispatcher holds the directory's serve lock
// (bihuan/serve_lock.hpp) for its life, taking it at construction unless it is handed one
// in DispatcherOptions::lock. When another server or dispatcher holds it, refusal() says
// so and start(), run_once() and drain() deliver nothing.
//
// Thread-safety: start()/stop() from one controlling thread; run_once() and drain() are
// for callers that do not start() the background loop (tests, `bihuan dispatch --once`);
// stats() from any thread.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "bihuan/config.hpp"
#include "bihuan/engine.hpp"
#include "bihuan/plugin_host.hpp"
#include "bihuan/serve_lock.hpp"

namespace bihuan {

struct DispatchChannel {
  std::string name;                      // the configured name messages carry
  std::shared_ptr<PluginObject> plugin;  // a notifier or task handler
  ChannelPolicy policy;
  // The built-in "engine" data source (bihuan/engine_source.hpp) instead of a plugin.
  bool engine_source = false;
};

struct DispatcherOptions {
  std::int64_t poll_ms = 50;             // background loop: how often to look for due messages
  std::uint64_t seed = 0;                // jitter RNG seed (0: from std::random_device)
  std::size_t queue_per_channel = 1024;  // messages taken from the outbox ahead of delivery
  std::size_t max_abandoned = 16;        // hung calls per channel before it stops calling
  // The engine's data directory's serve lock when the caller already holds it (bihuan
  // serve takes it before opening the engine); null: the dispatcher takes it itself.
  std::shared_ptr<ServeLock> lock;
};

class Dispatcher {
 public:
  struct Stats {
    std::uint64_t attempts = 0, delivered = 0, failed = 0, dead = 0, timed_out = 0;
    std::uint64_t abandoned_running = 0;  // timed-out calls whose threads still run
  };

  Dispatcher(Engine& engine, std::vector<DispatchChannel> channels, DispatcherOptions options = {});
  // Every notifier and task handler of `registry`, with the policies in `config`.
  static std::vector<DispatchChannel> channels_of(const PluginRegistry& registry,
                                                  const EngineConfig& config);
  ~Dispatcher();  // stop()
  Dispatcher(const Dispatcher&) = delete;
  Dispatcher& operator=(const Dispatcher&) = delete;

  // Background delivery: looks for due messages every poll_ms, whenever wake() is
  // called, and (real clocks) when the due index says the next message falls due. stop()
  // stops taking new messages, lets calls in flight finish (each within its timeout) and
  // waits until their outcomes are recorded. start() is false (and starts nothing) when
  // refusal() is not empty.
  bool start();
  void stop();
  void wake();

  // One pass on the calling thread: hands every message due now (engine clock) to its
  // channel and waits until every attempt's outcome is committed. Returns attempts made.
  std::size_t run_once();
  // Passes until nothing deliverable is left (delivered or dead letters), sleeping in
  // real time until the next backoff expires, for at most `limit`. True when done.
  bool drain(std::chrono::milliseconds limit);

  Stats stats() const;
  // "" while this dispatcher holds its data directory's serve lock; otherwise why not (the
  // directory is served by another process or dispatcher: the message names its pid).
  const std::string& refusal() const;

  // The upper bound of the delay after `attempts` failed attempts (full jitter draws
  // uniformly from [0, bound]).
  static std::int64_t backoff_bound_ms(const ChannelPolicy& policy, std::uint32_t attempts);

  struct State;

 private:
  std::shared_ptr<State> state_;
};

}  // namespace bihuan
