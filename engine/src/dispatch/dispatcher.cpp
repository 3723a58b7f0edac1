// The outbox dispatcher (bihuan/dispatcher.hpp). A scan reads each channel's due messages
// (Engine::outbox_due) into its queue; each channel's `concurrency` workers call the
// plugin through a Caller (timeout), and every outcome goes back to the engine as a
// writer request (ack, or failure with the next attempt time / dead letter). A message stays "in
// flight" from being queued until its outcome is committed, so no scan hands it out twice.
#include "bihuan/dispatcher.hpp"

#include <algorithm>
#include <condition_variable>
#include <deque>
#include <map>
#include <mutex>
#include <random>
#include <set>
#include <thread>

#include "bihuan/engine_source.hpp"
#include "bihuan/log.hpp"
#include "dispatch/caller.hpp"
#include "runtime/record.hpp"

namespace bihuan {

using dispatch::Caller;

namespace {

struct ChannelState {
  DispatchChannel channel;
  std::deque<OutboxMessage> queue;  // guarded by State::mu
  std::condition_variable cv;       // work queued / stopping
  std::vector<std::thread> workers;
  std::shared_ptr<std::atomic<std::uint64_t>> abandoned =
      std::make_shared<std::atomic<std::uint64_t>>(0);
};

std::int64_t ms_of(TimePoint t) { return t.time_since_epoch().count(); }

}  // namespace

struct Dispatcher::State : std::enable_shared_from_this<Dispatcher::State> {
  Engine& engine;
  DispatcherOptions options;
  std::map<std::string, std::unique_ptr<ChannelState>> channels;

  std::mutex mu;
  std::condition_variable done_cv;  // an outcome was committed
  std::condition_variable scan_cv;  // wake the background loop
  std::set<std::uint64_t> inflight;
  // A scan reads outbox pages without the lock, so a page can predate the outcome of a
  // message that finishes meanwhile (acknowledged, or failed with a later next attempt):
  // that scan must not queue it again. settled: seq -> scan_epoch when it finished, kept
  // while a scan runs (a scan that starts later reads pages newer than the outcome).
  std::map<std::uint64_t, std::uint64_t> settled;
  std::uint64_t scan_epoch = 0;
  int scanning = 0;
  std::set<std::string> warned;          // channels without a plugin, reported once
  std::optional<std::int64_t> next_due;  // the last scan's first due time after its start (ms)
  bool workers_started = false, stopping = false, woken = false;
  std::thread loop;
  std::shared_ptr<ServeLock> lock;  // held for the dispatcher's life
  std::string refusal;              // why the lock is not held ("" when it is)

  std::mutex rng_mu;
  std::mt19937_64 rng;

  std::atomic<std::uint64_t> attempts{0}, delivered{0}, failed{0}, dead{0}, timed_out{0};

  State(Engine& e, DispatcherOptions o)
      : engine(e), options(o), rng(o.seed ? o.seed : std::random_device{}()) {}

  void start_workers();
  void stop_workers();
  void worker(ChannelState& ch);
  std::size_t scan();
  std::size_t scan_pages(std::uint64_t epoch);
  void deliver(ChannelState& ch, Caller& caller, const OutboxMessage& m);
  void record_failure(ChannelState& ch, const OutboxMessage& m, std::uint32_t attempt,
                      std::string error, bool permanent);
  bool task_outcome(ChannelState& ch, const OutboxMessage& m, std::uint32_t attempt,
                    const PluginResult& r);
  void finish(std::uint64_t seq);
  std::int64_t jitter(const ChannelPolicy& p, std::uint32_t attempts);
};

std::int64_t Dispatcher::backoff_bound_ms(const ChannelPolicy& p, std::uint32_t attempts) {
  std::int64_t bound = std::max<std::int64_t>(p.backoff_initial_ms, 0);
  for (std::uint32_t i = 1; i < attempts && bound < p.backoff_max_ms; ++i) bound *= 2;
  return std::min(bound, p.backoff_max_ms);
}

std::int64_t Dispatcher::State::jitter(const ChannelPolicy& p, std::uint32_t n) {
  std::int64_t bound = backoff_bound_ms(p, n);
  std::lock_guard lock(rng_mu);
  return std::uniform_int_distribution<std::int64_t>(0, std::max<std::int64_t>(bound, 0))(rng);
}

Dispatcher::Dispatcher(Engine& engine, std::vector<DispatchChannel> channels,
                       DispatcherOptions options)
    : state_(std::make_shared<State>(engine, options)) {
  state_->lock = std::move(state_->options.lock);
  if (!state_->lock && !engine.options().data_dir.empty())
    state_->lock = ServeLock::acquire(engine.options().data_dir, &state_->refusal);
  for (auto& c : channels) {
    if (!c.plugin && !c.engine_source) continue;
    c.policy.concurrency = std::max<std::size_t>(c.policy.concurrency, 1);
    auto ch = std::make_unique<ChannelState>();
    ch->channel = std::move(c);
    state_->channels[ch->channel.name] = std::move(ch);
  }
}

std::vector<DispatchChannel> Dispatcher::channels_of(const PluginRegistry& registry,
                                                     const EngineConfig& config) {
  std::vector<DispatchChannel> out;
  for (const auto& [name, obj] : registry.all()) {
    // Data sources are channels too: they serve task actions that name a `query`. A file
    // store is no channel (the attachment store calls it).
    if (obj->kind() == PluginKind::file_store) continue;
    DispatchChannel c{name, obj, {}};
    if (auto it = config.plugins.find(name); it != config.plugins.end())
      c.policy = it->second.policy;
    out.push_back(std::move(c));
  }
  // The engine's own instances (bihuan/engine_source.hpp): always a channel.
  out.push_back(DispatchChannel{kEngineSource, nullptr, {}, true});
  return out;
}

Dispatcher::~Dispatcher() {
  stop();
  state_->lock.reset();  // even if an abandoned call still holds the state
}

void Dispatcher::State::start_workers() {
  std::lock_guard lock(mu);
  if (workers_started) return;
  workers_started = true;
  stopping = false;
  for (auto& [name, ch] : channels)
    for (std::size_t i = 0; i < ch->channel.policy.concurrency; ++i)
      ch->workers.emplace_back([self = shared_from_this(), c = ch.get()] { self->worker(*c); });
}

void Dispatcher::State::stop_workers() {
  {
    std::lock_guard lock(mu);
    if (!workers_started) return;
    stopping = true;
    for (auto& [name, ch] : channels) {
      for (const auto& m : ch->queue) inflight.erase(m.seq);  // never started: stays in the outbox
      ch->queue.clear();
      ch->cv.notify_all();
    }
  }
  for (auto& [name, ch] : channels) {
    for (auto& t : ch->workers) t.join();
    ch->workers.clear();
  }
  // Outcomes of the last calls are being committed: wait for them.
  std::unique_lock lock(mu);
  done_cv.wait(lock, [&] { return inflight.empty(); });
  workers_started = false;
}

void Dispatcher::State::worker(ChannelState& ch) {
  Caller caller(ch.abandoned);
  while (true) {
    OutboxMessage m;
    {
      std::unique_lock lock(mu);
      ch.cv.wait(lock, [&] { return stopping || !ch.queue.empty(); });
      if (stopping) return;
      m = std::move(ch.queue.front());
      ch.queue.pop_front();
      if (ch.queue.empty()) {
        woken = true;  // let the loop refill this channel now
        scan_cv.notify_all();
      }
    }
    deliver(ch, caller, m);
  }
}

void Dispatcher::State::finish(std::uint64_t seq) {
  {
    std::lock_guard lock(mu);
    inflight.erase(seq);
    if (scanning > 0) settled[seq] = scan_epoch;
  }
  done_cv.notify_all();
}

void Dispatcher::State::record_failure(ChannelState& ch, const OutboxMessage& m,
                                       std::uint32_t attempt, std::string error, bool permanent) {
  const ChannelPolicy& p = ch.channel.policy;
  bool give_up = permanent || attempt >= p.max_attempts;
  TimePoint next = engine.clock().now();
  if (!give_up) next += Millis(jitter(p, attempt));
  ++(give_up ? dead : failed);
  engine.record_delivery_failure_async(
      m.seq, std::move(error), next, give_up,
      [self = shared_from_this(), seq = m.seq](bool) { self->finish(seq); });
}

// A task's result (or permanent failure) goes to the instance as an event, idempotently
// (a redelivered task sends the same key: the engine replays instead of applying twice).
// Returns true when the message may be acknowledged.
bool Dispatcher::State::task_outcome(ChannelState& ch, const OutboxMessage& m,
                                     std::uint32_t attempt, const PluginResult& r) {
  // Read defensively: a damaged outbox record may hold anything here (json::value throws).
  auto named = m.body.is_object() ? m.body.find(r.ok() ? "onResult" : "onError") : m.body.end();
  std::string event = named != m.body.end() && named->is_string() ? named->get<std::string>() : "";
  if (event.empty()) {
    if (r.ok()) return true;
    record_failure(ch, m, attempt, r.body + " (the task step names no onError event)", true);
    return false;
  }
  EventRequest req;
  req.instance_id = m.instance_id;
  req.event = event;
  req.actor = Actor::system();
  req.idempotency_key = m.idempotency_key + (r.ok() ? ":result" : ":error");
  // The message key names the action by its pointer in the definition, which nested
  // states with long names can stretch past what the engine takes: use its digest then
  // (the same for every delivery of this message, so retries still replay).
  if (req.idempotency_key.size() > kMaxKeyBytes)
    req.idempotency_key = "sha256:" + runtime::sha256_hex(req.idempotency_key);
  if (r.ok())
    req.payload = r.value.is_object() ? r.value : json{{"result", r.value}};
  else
    req.payload = {{"error", r.body}};
  StepResult sent = engine.send(req);
  if (sent.ok() || sent.replayed) return true;
  bool transient = sent.error == StepError::storage_error ||
                   sent.error == StepError::storage_unavailable ||
                   sent.error == StepError::shutting_down;
  record_failure(ch, m, attempt,
                 "instance " + m.instance_id + " did not take event " + event + ": " + sent.message,
                 !transient);
  return false;
}

void Dispatcher::State::deliver(ChannelState& ch, Caller& caller, const OutboxMessage& m) {
  const DispatchChannel& c = ch.channel;
  std::uint32_t attempt = m.attempts + 1;
  ++attempts;
  bool is_task = m.kind == "task";
  // A task on a data-source channel runs the named query with the task input as its
  // parameters; the rows come back as the result payload {"rows": [...]}. The built-in
  // "engine" channel (bihuan/engine_source.hpp) is a data source run in-process.
  bool own = c.engine_source;
  bool is_query = is_task && (own || c.plugin->kind() == PluginKind::data_source);
  PluginKind want = is_query  ? PluginKind::data_source
                    : is_task ? PluginKind::task_handler
                              : PluginKind::notifier;
  std::string source = own ? std::string("the engine's own data source")
                           : "a data source (plugin " + c.plugin->info().name + ")";
  if ((own && !is_task) ||
      (is_query && !(m.body.contains("query") && m.body["query"].is_string()))) {
    record_failure(ch, m, attempt,
                   "channel \"" + c.name + "\" is " + source +
                       ": only a task action naming a \"query\" can use it",
                   true);
    return;
  }
  if (!own && c.plugin->kind() != want) {
    record_failure(ch, m, attempt,
                   "channel \"" + c.name + "\" is a " + to_string(c.plugin->kind()) + " (plugin " +
                       c.plugin->info().name + "), it cannot deliver a " + m.kind + " message",
                   true);
    return;
  }
  if (ch.abandoned->load() >= options.max_abandoned) {
    record_failure(ch, m, attempt,
                   "channel \"" + c.name + "\" has " + std::to_string(ch.abandoned->load()) +
                       " timed-out calls still running; not calling " +
                       (own ? std::string("it") : "plugin " + c.plugin->info().name) +
                       " until they return",
                   false);
    return;
  }
  auto plugin = c.plugin;
  auto result = caller.call(
      [plugin, m, attempt, is_task, is_query, self = shared_from_this()] {
        if (is_query) {
          json params = m.body.contains("input") && m.body["input"].is_object() ? m.body["input"]
                                                                                : json::object();
          std::string query = m.body["query"].get<std::string>();
          PluginResult r = plugin ? plugin->query(query, params)
                                  : query_engine(self->engine, m.instance_id, query, params);
          if (r.ok()) r.value = json{{"rows", std::move(r.value)}};
          return r;
        }
        return is_task ? plugin->run_task(m, attempt) : plugin->notify(m, attempt);
      },
      std::chrono::milliseconds(c.policy.timeout_ms));
  if (!result) {
    ++timed_out;
    record_failure(ch, m, attempt,
                   (plugin ? plugin->info().file + ": plugin " + plugin->info().name
                           : std::string("the engine's own data source")) +
                       " (\"" + c.name + "\") did not answer within " +
                       std::to_string(c.policy.timeout_ms) + " ms; the call was abandoned",
                   false);
    return;
  }
  if (result->status == PluginResult::Status::retry || (!is_task && !result->ok())) {
    record_failure(ch, m, attempt, result->body, result->status == PluginResult::Status::fail);
    return;
  }
  if (is_task && !task_outcome(ch, m, attempt, *result)) return;
  ++delivered;
  engine.ack_outbox_async(m.seq,
                          [self = shared_from_this(), seq = m.seq](bool) { self->finish(seq); });
}

std::size_t Dispatcher::State::scan() {
  std::uint64_t epoch = 0;
  {
    std::lock_guard lock(mu);
    epoch = ++scan_epoch;
    ++scanning;
  }
  std::size_t queued = scan_pages(epoch);
  std::lock_guard lock(mu);
  if (--scanning == 0) settled.clear();
  return queued;
}

// Each channel reads its own due index from the front (engine->outbox_due): the messages
// in flight come first and are skipped, then new ones are queued until the queue is full.
// So a scan reads what is due (and in flight) on channels with room, never dead letters,
// messages in backoff or messages of channels without a plugin.
std::size_t Dispatcher::State::scan_pages(std::uint64_t epoch) {
  TimePoint now = engine.clock().now();
  std::size_t queued = 0;
  std::optional<std::int64_t>
      later;  // the first due time after `now` over the channels read to their end
  for (auto& [name, chp] : channels) {
    ChannelState& ch = *chp;
    std::optional<OutboxDueKey> after;
    while (true) {
      {
        std::lock_guard lock(mu);
        if (stopping) return queued;
        if (ch.queue.size() >= options.queue_per_channel) break;
      }
      auto page = engine.outbox_due(name, now, 256, after);
      std::lock_guard lock(mu);
      if (stopping) return queued;
      for (auto& m : page.messages) {
        if (inflight.count(m.seq)) continue;
        if (auto it = settled.find(m.seq); it != settled.end() && it->second >= epoch)
          continue;  // page predates it
        if (ch.queue.size() >= options.queue_per_channel) break;
        inflight.insert(m.seq);
        ch.queue.push_back(std::move(m));
        ch.cv.notify_one();
        ++queued;
      }
      if (!page.more) {
        if (page.next_due) later = std::min(later.value_or(INT64_MAX), ms_of(*page.next_due));
        break;
      }
      after = page.next;
    }
  }
  {
    std::lock_guard lock(mu);
    next_due = later;
  }
  // Messages of a channel without a plugin wait in the outbox: say so once per channel.
  for (const auto& name : engine.outbox_channels()) {
    if (channels.count(name)) continue;
    std::lock_guard lock(mu);
    if (warned.insert(name).second)
      log_event("warn", "no plugin is configured for this channel; its messages stay in the outbox",
                {{"channel", name}});
  }
  return queued;
}

bool Dispatcher::start() {
  auto s = state_;
  if (!s->refusal.empty()) return false;
  if (s->loop.joinable()) return true;
  s->start_workers();
  s->loop = std::thread([s] {
    std::unique_lock lock(s->mu);
    while (!s->stopping) {
      s->woken = false;
      lock.unlock();
      // Several nodes on one store: one of them delivers (a role of the store); the others
      // look again at the next poll, and take over when its holder is gone.
      if (s->engine.delivers_outbox()) s->scan();
      lock.lock();
      // poll_ms at most (steps write new messages at any time), less when the due index
      // says a message falls due sooner. A virtual clock only moves when a test moves it.
      std::int64_t wait = s->options.poll_ms;
      if (s->next_due && !s->engine.clock().is_virtual())
        wait = std::clamp<std::int64_t>(*s->next_due - ms_of(s->engine.clock().now()), 0, wait);
      s->scan_cv.wait_for(lock, std::chrono::milliseconds(wait),
                          [&] { return s->stopping || s->woken; });
    }
  });
  return true;
}

const std::string& Dispatcher::refusal() const { return state_->refusal; }

void Dispatcher::wake() {
  {
    std::lock_guard lock(state_->mu);
    state_->woken = true;
  }
  state_->scan_cv.notify_all();
}

void Dispatcher::stop() {
  auto& s = *state_;
  {
    std::lock_guard lock(s.mu);
    if (!s.workers_started) return;
    s.stopping = true;
  }
  s.scan_cv.notify_all();
  if (s.loop.joinable()) s.loop.join();
  s.stop_workers();
}

std::size_t Dispatcher::run_once() {
  auto& s = *state_;
  if (!s.refusal.empty()) return 0;
  s.start_workers();
  std::uint64_t before = s.attempts.load();
  s.scan();
  std::unique_lock lock(s.mu);
  s.done_cv.wait(lock, [&] { return s.inflight.empty(); });
  return s.attempts.load() - before;
}

bool Dispatcher::drain(std::chrono::milliseconds limit) {
  auto& s = *state_;
  if (!s.refusal.empty()) return false;
  auto deadline = std::chrono::steady_clock::now() + limit;
  while (true) {
    run_once();
    // The first key of each channel's due index: its earliest message.
    std::optional<std::int64_t> next;
    for (const auto& [name, ch] : s.channels) {
      auto first = s.engine.outbox_due(name, TimePoint::max(), 1);
      if (!first.messages.empty()) next = std::min(next.value_or(INT64_MAX), first.next.due_ms);
    }
    if (!next) return true;
    std::int64_t wait = std::max<std::int64_t>(*next - ms_of(s.engine.clock().now()), 0);
    if (wait > 0 && s.engine.clock().is_virtual())
      return false;  // time only moves when the test moves it
    auto wake_at = std::chrono::steady_clock::now() + std::chrono::milliseconds(wait);
    if (wake_at > deadline) return false;
    std::this_thread::sleep_until(wake_at);
  }
}

Dispatcher::Stats Dispatcher::stats() const {
  Stats out;
  const auto& s = *state_;
  out.attempts = s.attempts.load();
  out.delivered = s.delivered.load();
  out.failed = s.failed.load();
  out.dead = s.dead.load();
  out.timed_out = s.timed_out.load();
  for (const auto& [name, ch] : s.channels) out.abandoned_running += ch->abandoned->load();
  return out;
}

}  // namespace bihuan
