// Opening, the writer thread and group commit. Reads live in reads.cpp.
#include "runtime/engine_impl.hpp"

#include "bihuan/attachments.hpp"
#include "bihuan/log.hpp"

#include <cerrno>
#include <filesystem>
#include <future>
#include <random>

#include <boost/asio/post.hpp>

#include "runtime/attachment_refs.hpp"
#include "runtime/format_upgrade.hpp"
#include "runtime/verify.hpp"

namespace bihuan {

namespace {

// Every numeric option in its sane range; a problem names the option and the range.
bool valid_options(const EngineOptions& o, Problems& problems) {
  auto check = [&](const char* name, std::uint64_t v, std::uint64_t lo, std::uint64_t hi,
                   const char* unit) {
    if (v >= lo && v <= hi) return true;
    problems.error(std::string("/") + name, "engine-option",
                   std::string("EngineOptions::") + name + " is " + std::to_string(v) +
                       "; it must be " + std::to_string(lo) + " to " + std::to_string(hi) + unit);
    return false;
  };
  bool ok = true;
  if (o.data_dir.empty()) {
    problems.error("/data_dir", "engine-option",
                   "EngineOptions::data_dir is empty; give the data directory");
    ok = false;
  }
  ok &= check("max_batch", o.max_batch, 1, 100000, " (steps per group commit)");
  ok &= check("scan_chunk", o.scan_chunk, 1, 100000000, " (records per snapshot of a long read)");
  ok &= check("max_cascade", o.max_cascade, 1, 1000000, " (internal steps per request)");
  ok &= check("initial_map_bytes", o.initial_map_bytes, std::uint64_t{64} << 10,
              std::uint64_t{1} << 40, " bytes");
  return ok;
}

}  // namespace

std::unique_ptr<Engine> Engine::open(EngineOptions options, Problems& problems) {
  if (!valid_options(options, problems)) return nullptr;
  if (!options.clock) options.clock = std::make_shared<SystemClock>();
  if (!options.calendars) options.calendars = std::make_shared<Calendars>();
  std::string error;
  // After an unclean stop, the structure is checked before LMDB serves a page of it (a
  // remote store's server keeps its own structure).
  const bool lmdb = options.store.empty() || options.store == "lmdb";
  std::unique_ptr<runtime::StartCheck> check;
  if (lmdb && !(check = runtime::StartCheck::begin(options.data_dir, problems))) return nullptr;
  std::unique_ptr<storage::Env> env;
  if (options.store.empty() || options.store == "lmdb") {
    env = storage::Env::open(options.data_dir, options.initial_map_bytes, !options.durable, &error);
  } else if (auto remote = storage::open_remote(options.store, &error)) {
    std::error_code ec;
    std::filesystem::create_directories(options.data_dir, ec);
    env = storage::Env::open_remote(options.data_dir, std::move(remote));
  }
  if (!env) {
    problems.error("", "storage", error);
    return nullptr;
  }
  auto engine = std::make_unique<runtime::EngineImpl>(std::move(options), std::move(env));
  engine->start_check_ = std::move(check);
  if (!engine->init(problems)) return nullptr;
  return engine;
}

namespace runtime {

using storage::be64;
using storage::Db;

EngineImpl::EngineImpl(EngineOptions options, std::unique_ptr<storage::Env> env)
    : options_(std::move(options)),
      env_(std::move(env)),
      reader_(options_, *env_),
      pipelined_(options_.durable && options_.pipeline) {
  env_->on_fatal([this](int rc) { fail_stop(rc); });
  // On a remote store each read is a round trip: the writer keeps what it committed.
  overlay_.keep_committed(env_->remote() != nullptr);
}

// One line format for the whole process (bihuan/log.hpp); EngineOptions::log, if set,
// takes this engine's lines instead of the process's sink.
void EngineImpl::log(const char* level, const std::string& msg, json fields) const {
  std::string text = log_text(level, msg, fields);
  if (options_.log)
    options_.log(text);
  else
    log_write(text);
}

void EngineImpl::fail_stop(int rc) {
  // Once: Env calls this for the first fatal code only.
  std::string file = (std::filesystem::path(options_.data_dir) / "data.mdb").string();
  failure_ = "storage failed fatally (" + storage::error_text(rc) + ") in " + file +
             "; the engine stopped taking writes: stop the process, run `bihuan verify` on the "
             "data directory, "
             "and restore the latest backup if it reports damage";
  failed_.store(true, std::memory_order_release);
  log("fatal", "storage failed fatally; the engine refuses further writes",
      {{"dataDir", options_.data_dir},
       {"file", file},
       {"code", rc},
       {"error", storage::error_text(rc)}});
}

void EngineImpl::storage_failed(int rc, const std::string& what, std::size_t requests) {
  counters_.storage_failures.fetch_add(1, std::memory_order_relaxed);
  std::string why = storage::error_text(rc);
  if (storage::is_map_full(rc)) why += " (the map could not grow: is the disk full?)";
  if (std::string damage = env_->log_error(); rc == EIO && !damage.empty())
    why += " (the write-ahead log is damaged: " + damage + ")";
  log("error", "storage failed; " + what + " was not applied",
      {{"dataDir", options_.data_dir}, {"code", rc}, {"error", why}, {"requests", requests}});
}

EngineImpl::~EngineImpl() { close(); }

// The stored format number: kStorageFormat for a new store; nullopt (and a problem) if
// meta/format is not a big-endian u32 of at least 1.
std::optional<std::uint32_t> EngineImpl::stored_format(storage::Txn& txn,
                                                       Problems& problems) const {
  int rc = 0;
  auto format = txn.get(Db::meta, "format", rc);
  if (rc) {
    problems.error(
        "", "storage",
        "cannot read meta/format in " + options_.data_dir + ": " + storage::error_text(rc));
    return std::nullopt;
  }
  if (!format) return kStorageFormat;
  std::uint32_t v = format->size() == 4 ? storage::read_be32(*format) : 0;
  if (v == 0)
    problems.error("", "storage-format",
                   options_.data_dir + ": meta/format is damaged (" +
                       std::to_string(format->size()) +
                       " bytes; expected a 4-byte format number of at least 1); restore a backup");
  return v ? std::optional<std::uint32_t>(v) : std::nullopt;
}

// Runs before anything else touches the environment, so growing the map needs no lock
// against readers of this process. A current store costs one read transaction.
bool EngineImpl::upgrade_format(Problems& problems) {
  std::uint32_t from = kStorageFormat;
  {
    int rc = 0;
    auto txn = read_txn(&rc);
    if (!txn) {
      problems.error("", "storage",
                     "cannot read " + options_.data_dir + ": " + storage::error_text(rc));
      return false;
    }
    auto v = stored_format(*txn, problems);
    if (!v) return false;
    from = *v;
  }
  if (from >= kStorageFormat) return true;  // new, current, or newer (refused by init)
  for (int attempt = 0; attempt < 32; ++attempt) {
    int rc = 0;
    auto txn = env_->begin(true, &rc);
    if (!txn) {
      problems.error(
          "", "storage",
          "cannot begin a transaction on " + options_.data_dir + ": " + storage::error_text(rc));
      return false;
    }
    std::string error;
    rc = runtime::upgrade_format(*txn, from, &error);  // format_upgrade.hpp
    if (rc == 0)
      rc = txn->commit();
    else
      txn->abort();
    if (rc == 0) return true;
    if (storage::is_map_full(rc) && env_->grow() == 0) continue;
    problems.error("", "storage-format",
                   "cannot migrate " + options_.data_dir + " from storage format " +
                       std::to_string(from) + " to " + std::to_string(kStorageFormat) + ": " +
                       (error.empty() ? storage::error_text(rc) : error) +
                       " (nothing was changed)");
    return false;
  }
  problems.error("", "storage", "cannot begin a transaction on " + options_.data_dir);
  return false;
}

bool EngineImpl::init(Problems& problems) {
  if (!upgrade_format(problems)) return false;
  int rc = 0;
  auto txn = env_->begin(true, &rc);
  if (!txn) {
    problems.error("", "storage", "cannot begin a transaction: " + storage::error_text(rc));
    return false;
  }
  auto unreadable_store = [&](int code) {
    problems.error("", "storage",
                   "cannot read " + options_.data_dir + ": " + storage::error_text(code));
    return false;
  };
  const bool fresh = !txn->get(Db::meta, "format", rc);
  if (rc) return unreadable_store(rc);
  if (fresh) {
    rc = txn->put(Db::meta, "format", storage::be32(kStorageFormat));
    if (!rc)
      rc = txn->put(Db::meta, "created", format_time(options_.clock->now(), *TimeZone::utc()));
    if (rc) return unreadable_store(rc);
  } else {
    auto stored = stored_format(*txn, problems);
    if (!stored) return false;
    std::uint32_t v = *stored;
    if (v > kStorageFormat) {
      problems.error("", "storage-format",
                     options_.data_dir + " uses storage format " + std::to_string(v) +
                         "; this build of Bihuan reads formats up to " +
                         std::to_string(kStorageFormat) +
                         " (upgrade Bihuan, or open a backup made by this version)");
      return false;
    }
  }
  // Definitions: recompile every stored version (definitions.cpp).
  if (!reader_.load_definitions(*txn, &problems)) return false;
  if ((rc = reload_sequences(*txn))) return unreadable_store(rc);
  {
    auto cur = txn->cursor(Db::timers);
    if (cur->first()) next_due_ms_ = static_cast<std::int64_t>(storage::read_be64(cur->key()));
    if (cur->status()) return unreadable_store(cur->status());
  }
  // Commits of another process from now on are told by the stamp they leave (foreign_commit).
  if ((rc = stamp_.load(*txn))) return unreadable_store(rc);
  // Only a new store has something to write; opening an existing one writes nothing.
  if (fresh) {
    rc = txn->commit();
  } else {
    txn->abort();
  }
  if (rc) {
    problems.error("", "storage",
                   "cannot initialise " + options_.data_dir + ": " + storage::error_text(rc));
    return false;
  }
  // SQL for reports: the records as JSON beside them (those stored without it, now).
  if (storage::Remote* remote = env_->remote(); remote && options_.sql_view)
    remote->set_projection(
        Db::inst, [this](std::string_view v) { return project_record(v); },
        options_.sql_view_backfill);
  writer_ = std::thread([this] { io_.run(); });
  if (pipelined_) {
    Committer::Sink& sink = *this;
    committer_ = std::make_unique<Committer>(*env_, *options_.clock, stamp_, counters_, sink);
    committer_->start();
    if (env_->logged() && !env_->remote())
      checkpointer_ = std::thread([this] { checkpoint_loop(); });
  }
  boost::asio::post(io_, [this] { schedule_timers(); });
  return true;
}

void EngineImpl::close() {
  {
    std::lock_guard lock(mu_);
    if (closed_ || stopping_) return;
    stopping_ = true;
  }
  // Requests already queued still run: drain until empty, then let the loop end.
  // Requests the committer handed back (pipeline.cpp) run too.
  boost::asio::post(io_, [this] {
    while (true) {
      bool empty = false;
      {
        std::lock_guard lock(mu_);
        empty = queue_.empty();
      }
      if (empty) {
        if (ahead_) settle_ahead();  // a burst not due yet is not committed early
        wait_committer_idle();
        if (!committer_ || committer_->same_epoch(seen_epoch_)) break;
      }
      drain();
    }
    timer_.cancel();
    work_.reset();
  });
  if (writer_.joinable()) writer_.join();
  if (committer_) committer_->stop();
  if (checkpointer_.joinable()) {
    {
      std::lock_guard lock(cp_mu_);
      cp_stop_ = true;
    }
    cp_cv_.notify_all();
    checkpointer_.join();
  }
  // Everything acknowledged goes into LMDB before the stop is marked clean.
  int rc = env_->checkpoint();
  if (rc)
    log("error",
        "the write-ahead log could not be applied at close (it is applied at the next open)",
        {{"dataDir", options_.data_dir}, {"error", storage::error_text(rc)}});
  if (rc == 0 && env_->sync() == 0 && start_check_) start_check_->closed_cleanly();
  std::lock_guard lock(mu_);
  closed_ = true;
}

void EngineImpl::post_drain_locked(bool even_if_empty) {
  if (drain_posted_ || (queue_.empty() && !even_if_empty)) return;
  drain_posted_ = true;
  boost::asio::post(io_, [this] { drain(); });
}

void EngineImpl::submit(Request r) {
  r.queued = std::chrono::steady_clock::now();
  if (stopped()) {
    StepResult refused;
    refused.error = StepError::storage_error;
    refused.message = failure_;
    if (r.done) r.done(refused);
    return;
  }
  {
    std::lock_guard lock(mu_);
    if (!stopping_) {
      bool sync = r.sync;
      if (sync) ++sync_queued_;
      queue_.push_back(std::move(r));
      submitted_.fetch_add(1, std::memory_order_release);
      if (lingering_) queue_cv_.notify_one();
      if (held_ == 0 || sync) post_drain_locked();
      return;
    }
  }
  StepResult refused;
  refused.error = StepError::shutting_down;
  refused.message = "the engine is shutting down";
  if (r.done) r.done(refused);
}

StepResult EngineImpl::submit_and_wait(Request r) {
  std::promise<StepResult> promise;
  auto future = promise.get_future();
  r.done = [&promise](StepResult result) { promise.set_value(std::move(result)); };
  r.sync = true;
  submit(std::move(r));
  // A caller that awaits its step alone spins for the result a while (it comes after one
  // flush, 0.1-0.2 ms) instead of sleeping at once: on a virtual machine, waking a thread
  // whose CPU went idle costs tens of microseconds, a fifth of the step. One spinner at a
  // time, so many synchronous callers do not burn the cores the writer needs. It yields
  // between looks rather than pausing: the flush of a lone step's frame runs in a kernel
  // worker (storage/dsync_write.hpp), often queued on this CPU, and must not wait for the
  // spinner's time slice to end (a pausing spinner made the p99 its 1 ms limit).
  if (spinners_.fetch_add(1, std::memory_order_acq_rel) == 0) {
    const auto until = std::chrono::steady_clock::now() + kSpinForResult;
    for (unsigned i = 0; future.wait_for(std::chrono::seconds(0)) != std::future_status::ready;
         ++i) {
      if ((i & 7) == 0 && std::chrono::steady_clock::now() >= until) break;
      std::this_thread::yield();
    }
  }
  spinners_.fetch_sub(1, std::memory_order_acq_rel);
  return future.get();
}

void EngineImpl::drain() {
  std::vector<Request> batch;
  std::uint64_t seen = 0;
  bool poll = false;
  {
    std::unique_lock lock(mu_);
    if (pipelined_) linger(lock);
    batch.reserve(std::min<std::size_t>(queue_.size(), options_.max_batch) + 1);  // + a timer sweep
    while (!queue_.empty() && batch.size() < options_.max_batch) {
      if (queue_.front().sync) --sync_queued_;
      batch.push_back(std::move(queue_.front()));
      queue_.pop_front();
    }
    // Requests that arrived meanwhile get the next batch; the post keeps their order.
    // Held requests wait for release_writer(), unless a synchronous caller waits behind them.
    drain_posted_ = false;
    if (held_ == 0 || sync_queued_ > 0 || stopping_) post_drain_locked();
    seen = submitted_.load(std::memory_order_relaxed);
    poll = batch.size() <= 2 && queue_.empty() && !stopping_ && !options_.clock->is_virtual();
  }
  if (!options_.clock->is_virtual() &&
      next_due_ms_.load() <= options_.clock->now().time_since_epoch().count())
    batch.push_back(sweep_request(INT64_MIN));
  if (pipelined_) catch_up(batch);
  if (!batch.empty()) run_batch(batch);
  schedule_timers();
  if (poll) poll_for_next(seen);
  turn_idle();
}

void EngineImpl::poll_for_next(std::uint64_t seen) {
  // One caller awaiting each step (a person at a form, a script, a test suite) sends its
  // next request within tens of microseconds of its result. Sleeping in epoll and being
  // woken by the post costs more than that on a virtual machine, so the writer spins for
  // it a little first. A request that arrives meanwhile was posted (submit()); returning
  // lets Asio run that drain without sleeping.
  const auto until = std::chrono::steady_clock::now() + std::chrono::microseconds(100);
  for (unsigned i = 0; submitted_.load(std::memory_order_acquire) == seen; ++i) {
    if ((i & 15) == 0 && std::chrono::steady_clock::now() >= until) return;
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    asm volatile("yield");
#endif
  }
}

void EngineImpl::schedule_timers() {
  if (options_.clock->is_virtual()) return;  // advance_to() fires them
  {
    std::lock_guard lock(mu_);
    if (stopping_) return;
  }
  std::int64_t due = next_due_ms_.load();
  // On a shared (remote) store other nodes arm timers too, and a node that dies leaves its
  // timers to the others: look at the store's first timer at least every second.
  const bool shared = env_->remote() != nullptr;
  if (due == INT64_MAX && !shared) {
    timer_.cancel();
    return;
  }
  std::int64_t now = options_.clock->now().time_since_epoch().count();
  // A burst due within the look-ahead is executed now, while the writer is idle. Not on a
  // shared store: its committer would hold the writer's turn (and every other node) until
  // the due time.
  if (!ahead_ && pipelined_ && !shared && !timer_batch_failed_ && due > now &&
      due - now <= kAheadMs && due != ahead_tried_) {
    bool idle;
    {
      std::lock_guard lock(mu_);
      idle = queue_.empty();
    }
    if (idle) {
      prepare_ahead(due);
      now = options_.clock->now().time_since_epoch().count();
    }
  }
  // Wall-clock time can jump: never sleep more than a second without looking again.
  // After a failed firing batch (storage error), wait a second instead of spinning.
  std::int64_t wait = timer_batch_failed_ ? 1000 : std::clamp<std::int64_t>(due - now, 0, 1000);
  timer_.expires_after(std::chrono::milliseconds(wait));
  timer_.async_wait([this, shared](const boost::system::error_code& ec) {
    if (ec) return;  // cancelled or re-armed
    if (shared) observe_store_timers();
    if (next_due_ms_.load() <= options_.clock->now().time_since_epoch().count()) {
      std::vector<Request> batch;
      batch.push_back(sweep_request(INT64_MIN));
      timer_batch_failed_ = !run_batch(batch);
      // A staged sweep sets next_due_ms_ when it commits (committed()): until then it
      // still names the timers just fired, and the next wait would be none.
      if (pipelined_) wait_committer_idle();
      turn_idle();
    }
    schedule_timers();
  });
}

void EngineImpl::observe_store_timers() {
  int rc = 0;
  auto txn = read_txn(&rc);
  if (!txn) return;  // the store is away: the next look, or the next commit, tells
  auto cur = txn->cursor(Db::timers);
  const std::int64_t first =
      cur->first() ? static_cast<std::int64_t>(storage::read_be64(cur->key())) : INT64_MAX;
  if (cur->status()) return;
  // Only sooner: this engine's own commits keep it exact for the timers it armed, and a
  // timer another node fires first is found gone by the sweep (or its commit conflicts).
  std::int64_t known = next_due_ms_.load();
  while (first < known && !next_due_ms_.compare_exchange_weak(known, first)) {
  }
}

StepResult EngineImpl::apply_one(Batch& b, Stepper& stepper, Request& r, std::size_t& fired) {
  if (b.failed()) return {};  // the batch is lost anyway; it is retried or failed whole
  switch (r.kind) {
    case Request::start:
      return stepper.start(b, *r.start_req);
    case Request::event:
      return stepper.event(b, *r.event_req);
    case Request::cancel:
      return stepper.cancel(b, r.id, r.text, r.actor);
    case Request::migrate:
      return stepper.migrate(b, r.id, *r.migrate_req);
    case Request::deploy:
      return apply_deploy(b, r);
    case Request::ack:
      return apply_ack(b, r);
    case Request::fire_timers: {
      // The sweep: always the earliest timer key next, so timers armed by a firing and due
      // by `until` fire in this sweep too, in due order. With a virtual clock time moves to
      // each timer's due time (never backwards), then to `until`. The walk goes on just
      // after the key it fired (a firing deletes its key), or from the lowest key a firing
      // armed when that is before it: the earliest key either way, without walking past
      // the fired (deleted) keys again, which over a staged batch's overlay would cost
      // the number fired so far at each firing.
      auto* vclock = dynamic_cast<VirtualClock*>(options_.clock.get());
      std::int64_t now_ms = b.now.time_since_epoch().count();
      std::int64_t until = r.until_ms == INT64_MIN ? now_ms : r.until_ms;
      std::size_t cap = vclock ? kSweepVirtual : options_.max_batch;
      std::size_t swept = 0, before = fired, drops_before = b.timer_drops.size();
      bool more = false;
      auto cur = b.txn.cursor(Db::timers);  // LMDB keeps a write txn's cursors valid across puts
      lower_timer_floor(b.txn);  // the batch's earlier steps may have armed timers below it
      // After `key`: the next key of the walk, or the lowest one a firing put before it.
      auto resume = [&](std::string key) {
        auto low = b.txn.take_lowest_timer_put();
        if (low && *low < timer_floor_) timer_floor_ = *low;  // kept if the sweep stops early
        if (low && *low < key) return cur->seek(*low);
        key.push_back('\0');  // the successor of key: past it even if it were still there
        return cur->seek(key);
      };
      bool positioned = timer_floor_.empty() ? cur->first() : cur->seek(timer_floor_);
      while (!b.failed()) {
        if (!positioned) {
          b.note(cur->status());  // a failed read is not "no timer due"
          break;
        }
        std::string key(cur->key());
        if (key.size() != kTimerKeyBytes) {
          // Not a key the engine wrote (a damaged file): it names no timer. Left in place
          // it would stop every sweep here, before the timers after it.
          b.note(b.txn.del(Db::timers, key));
          b.timer_drops.push_back({{"timerKey", storage::hex(key)},
                                   {"reason", "a damaged timer key (" + std::to_string(key.size()) +
                                                  " bytes) was removed"},
                                   {"refused", false}});
          positioned = resume(std::move(key));
          continue;
        }
        auto due_ms = static_cast<std::int64_t>(storage::read_be64(key));
        if (due_ms > until) break;
        if (swept == cap) {
          more = true;
          break;
        }
        if (vclock && due_ms > now_ms) {
          now_ms = due_ms;
          b.now = TimePoint(Millis(now_ms));
          vclock->set(b.now);
        }
        if (stepper.fire_timer(b, key)) ++fired;
        ++swept;
        if (!vclock)
          counters_.timer_lag.observe(std::max<double>(0, double(now_ms - due_ms) / 1000.0));
        positioned = resume(std::move(key));
      }
      // Every timer due by `until` fired: none is left below until + 1 (a firing's puts
      // below that were walked and fired too).
      if (!more && !b.failed() && until < INT64_MAX)
        timer_floor_ = storage::be64(static_cast<std::uint64_t>(until) + 1);
      if (vclock && !more && until > now_ms) {
        b.now = TimePoint(Millis(until));
        vclock->set(b.now);
      }
      StepResult out;
      out.details = {{"fired", r.fired_before + (fired - before)}, {"more", more}};
      if (b.timer_drops.size() > drops_before)
        out.details["dropped"] = json(
            std::vector<json>(b.timer_drops.begin() + static_cast<std::ptrdiff_t>(drops_before),
                              b.timer_drops.end()));
      return out;
    }
    case Request::barrier:
      return {};
    case Request::outbox_state:
      return apply_outbox_state(b, r);
    case Request::retire:
      return apply_retire(b, r);
  }
  return {};
}

bool EngineImpl::run_batch(std::vector<Request>& batch) {
  if (ahead_) settle_ahead();
  if (stopped()) {  // fail-stop: nothing more is written
    fail_batch(batch, failure_);
    return false;
  }
  take_turn();  // a shared store: one node at a time executes (turn.cpp)
  if (pipelined_ && stageable(batch)) {
    run_staged(batch);
    return true;
  }
  return run_direct(batch);
}

bool EngineImpl::run_direct(std::vector<Request>& batch) {
  if (pipelined_) {
    wait_committer_idle();
    catch_up(batch);
    overlay_.clear();  // every staged batch is committed: the store holds all of it
  }
  std::vector<StepResult> results;
  TimePoint now = options_.clock->now();
  StepEnv step_env{reader_.registry(), options_.calendars.get(), options_.max_cascade,
                   attachment_check()};
  int rc = 0;
  std::string floor_before = timer_floor_;  // an attempt that does not commit fired nothing
  for (int attempt = 0; attempt < 16; ++attempt) {
    results.clear();
    timer_floor_ = floor_before;
    auto txn = env_->begin(true, &rc);
    if (!txn) break;
    // Another process committed since our last commit: its log keys and ids count.
    int seen = 0;
    if (stamp_.foreign(*txn, &seen)) {
      seen = reload_sequences(*txn);
      floor_before.clear();  // as reload_sequences: timers may be anywhere now
    }
    if (seen) {
      rc = seen;
      break;
    }
    reader_.observe_definitions(*txn);  // deployed by another process: known before this batch runs
    Store store(*txn);
    raise_history_floor(now);
    Batch b{store, now, {}, next_, ids_, 0, 0, {}};
    Stepper stepper(step_env);
    std::size_t fired = 0;
    for (auto& r : batch) results.push_back(apply_one(b, stepper, r, fired));
    lower_timer_floor(store);
    rc = b.storage_rc;
    std::int64_t next_due = INT64_MAX;
    std::string next_stamp;
    if (!rc && store.writes() == 0) {
      txn->abort();  // nothing changed: nothing to flush
      next_stamp = stamp_.current();
    } else if (!rc && !(rc = stamp_.put(*txn, &next_stamp))) {
      auto cur = txn->cursor(Db::timers);
      if (cur->first()) next_due = static_cast<std::int64_t>(storage::read_be64(cur->key()));
      rc = cur->status();
      cur.reset();
      if (!rc)
        rc = txn->commit();
      else
        txn->abort();
    } else {
      txn->abort();
    }
    if (rc == 0) {
      const bool committed = next_stamp != stamp_.current();
      if (committed) {
        stamp_.committed(std::move(next_stamp));
        next_due_ms_ = next_due;
        register_deployed(batch, results);
      }
      next_ = b.next;
      count_batch(batch, results, committed);
      deliver(batch, results);
      return true;
    }
    if (storage::is_map_full(rc) && grow_map()) continue;
    break;
  }
  timer_floor_ = floor_before;
  // Disk full, an I/O error, a damaged store: nothing of this batch was applied.
  if (rc == 0) rc = EIO;
  storage_failed(rc, "a batch of " + std::to_string(batch.size()) + " requests", batch.size());
  fail_batch(batch, "storage failed, the step was not applied: " + storage::error_text(rc) +
                        (storage::is_map_full(rc) ? " (the map could not grow)" : ""));
  return false;
}

void EngineImpl::deliver(std::vector<Request>& batch, std::vector<StepResult>& results) {
  for (std::size_t i = 0; i < batch.size(); ++i) {
    if (batch[i].kind == Request::fire_timers && batch[i].done &&
        results[i].details.value("more", false)) {
      // A sweep split over transactions: the rest goes first in the next batch.
      Request rest = std::move(batch[i]);
      rest.fired_before = results[i].details.value("fired", std::size_t{0});
      std::lock_guard lock(mu_);
      if (rest.sync) ++sync_queued_;
      queue_.push_front(std::move(rest));
      post_drain_locked();
      continue;
    }
    if (batch[i].done) batch[i].done(std::move(results[i]));
  }
}

void EngineImpl::fail_batch(std::vector<Request>& batch, const std::string& message) {
  StepResult failed;
  failed.error = StepError::storage_error;
  failed.message = message;
  for (auto& r : batch)
    if (r.done) r.done(failed);
}

void EngineImpl::count_batch(const std::vector<Request>& batch,
                             const std::vector<StepResult>& results, bool committed) {
  auto now = std::chrono::steady_clock::now();
  if (committed) counters_.commits.fetch_add(1, std::memory_order_relaxed);
  counters_.batch_size.observe(static_cast<double>(batch.size()));
  for (std::size_t i = 0; i < batch.size(); ++i) {
    auto kind = batch[i].kind;
    if (kind == Request::fire_timers) {  // counted once committed (a failed batch fired none)
      const json& d = results[i].details;
      std::size_t fired = d.is_object() ? d.value("fired", std::size_t{0}) : batch[i].fired_before;
      counters_.timers_fired.fetch_add(fired - batch[i].fired_before, std::memory_order_relaxed);
      if (d.is_object() && d.contains("dropped")) count_timer_drops(d["dropped"]);
    }
    if (kind != Request::start && kind != Request::event && kind != Request::cancel &&
        kind != Request::migrate)
      continue;
    counters_.steps.fetch_add(1, std::memory_order_relaxed);
    if (!results[i].ok()) counters_.steps_refused.fetch_add(1, std::memory_order_relaxed);
    counters_.step_latency.observe(std::chrono::duration<double>(now - batch[i].queued).count());
  }
}

void EngineImpl::count_timer_drops(const json& drops) {
  for (const auto& d : drops) {
    bool refused = d.value("refused", false);
    (refused ? counters_.timers_refused : counters_.timers_dropped)
        .fetch_add(1, std::memory_order_relaxed);
    json fields = d;
    fields.erase("refused");
    fields["dataDir"] = options_.data_dir;
    log("warn",
        refused ? "a timer firing was refused by its instance (recorded in its history)"
                : "a timer firing was dropped: only its timer was removed",
        std::move(fields));
  }
}

EngineMetrics EngineImpl::metrics() const {
  EngineMetrics m;
  m.steps = counters_.steps.load(std::memory_order_relaxed);
  m.steps_refused = counters_.steps_refused.load(std::memory_order_relaxed);
  m.commits = counters_.commits.load(std::memory_order_relaxed);
  m.storage_failures = counters_.storage_failures.load(std::memory_order_relaxed);
  m.timers_fired = counters_.timers_fired.load(std::memory_order_relaxed);
  m.timers_ahead = counters_.timers_ahead.load(std::memory_order_relaxed);
  m.timers_ahead_dropped = counters_.timers_ahead_dropped.load(std::memory_order_relaxed);
  m.timers_dropped = counters_.timers_dropped.load(std::memory_order_relaxed);
  m.timers_refused = counters_.timers_refused.load(std::memory_order_relaxed);
  m.reexecuted = counters_.reexecuted.load(std::memory_order_relaxed);
  m.turns_taken = counters_.turns_taken.load(std::memory_order_relaxed);
  m.turns_passed = counters_.turns_passed.load(std::memory_order_relaxed);
  m.turn_waits_expired = counters_.turn_waits_expired.load(std::memory_order_relaxed);
  m.step_latency_seconds = counters_.step_latency.snapshot();
  m.batch_size = counters_.batch_size.snapshot();
  m.timer_lag_seconds = counters_.timer_lag.snapshot();
  m.map_bytes = env_->map_size();
  if (stopped()) {
    m.failed = true;
    m.failure = failure_;
  }
  if (auto txn = read_txn()) {
    int rc = 0;  // a count that cannot be read stays 0 (documented)
    m.dead_letters = txn->entries(Db::dead, rc);
    m.outbox_depth = txn->entries(Db::outbox, rc) + m.dead_letters;
    m.pending_timers = txn->entries(Db::timers, rc);
    m.instances = txn->entries(Db::inst, rc);
  }
  return m;
}

StepResult EngineImpl::start(const StartRequest& request) {
  Request r{Request::start, request, {}, 0, {}, {}, {}, nullptr};
  return submit_and_wait(std::move(r));
}

StepResult EngineImpl::send(const EventRequest& request) {
  Request r{Request::event, {}, request, 0, {}, {}, {}, nullptr};
  return submit_and_wait(std::move(r));
}

namespace {

StepResult not_an_id(const std::string& text) {
  StepResult out;
  out.error = StepError::not_found;
  out.message = "\"" + text + "\" is not an instance id (16 hex digits)";
  return out;
}

}  // namespace

StepResult EngineImpl::cancel(const std::string& instance_id, const std::string& reason,
                              const Actor& actor) {
  auto id = id_from_text(instance_id);
  if (!id) return not_an_id(instance_id);
  Request r{Request::cancel, {}, {}, *id, reason, {}, actor, nullptr};
  return submit_and_wait(std::move(r));
}

StepResult EngineImpl::migrate(const MigrateRequest& request) {
  auto id = id_from_text(request.instance_id);
  if (!id) return not_an_id(request.instance_id);
  Request r{Request::migrate, {}, {}, *id, {}, {}, request.actor, nullptr};
  r.migrate_req = std::make_shared<const MigrateRequest>(request);
  return submit_and_wait(std::move(r));
}

void EngineImpl::cancel_async(std::string instance_id, std::string reason, Actor actor,
                              std::function<void(StepResult)> done) {
  auto id = id_from_text(instance_id);
  if (!id) return done(not_an_id(instance_id));
  submit(Request{
      Request::cancel, {}, {}, *id, std::move(reason), {}, std::move(actor), std::move(done)});
}

void EngineImpl::migrate_async(MigrateRequest request, std::function<void(StepResult)> done) {
  auto id = id_from_text(request.instance_id);
  if (!id) return done(not_an_id(request.instance_id));
  Request r{Request::migrate, {}, {}, *id, {}, {}, request.actor, std::move(done)};
  r.migrate_req = std::make_shared<const MigrateRequest>(std::move(request));
  submit(std::move(r));
}

void EngineImpl::start_async(StartRequest request, std::function<void(StepResult)> done) {
  submit(Request{Request::start, std::move(request), {}, 0, {}, {}, {}, std::move(done)});
}

void EngineImpl::send_async(EventRequest request, std::function<void(StepResult)> done) {
  submit(Request{Request::event, {}, std::move(request), 0, {}, {}, {}, std::move(done)});
}

std::size_t EngineImpl::advance_to(TimePoint t) {
  auto* vclock = dynamic_cast<VirtualClock*>(options_.clock.get());
  if (next_due_ms_.load() > t.time_since_epoch().count()) {  // nothing due: no commit
    if (vclock) vclock->set(t);
    return 0;
  }
  auto res = submit_and_wait(sweep_request(t.time_since_epoch().count()));
  return res.ok() ? res.details.value("fired", std::size_t{0}) : 0;
}

void EngineImpl::advance_to_async(TimePoint t, std::function<void(std::size_t)> done) {
  Request r = sweep_request(t.time_since_epoch().count());
  r.done = [done = std::move(done)](StepResult res) {
    if (done) done(res.ok() ? res.details.value("fired", std::size_t{0}) : 0);
  };
  submit(std::move(r));
}

void EngineImpl::hold_writer() {
  std::lock_guard lock(mu_);
  ++held_;
}

void EngineImpl::barrier() {
  submit_and_wait(Request{Request::barrier, {}, {}, 0, {}, {}, {}, nullptr});
}

void EngineImpl::release_writer() {
  std::lock_guard lock(mu_);
  if (held_ > 0 && --held_ == 0) post_drain_locked();
}

std::optional<TimePoint> EngineImpl::next_timer_due() const {
  std::int64_t due = next_due_ms_.load();
  if (due == INT64_MAX) return std::nullopt;
  return TimePoint(Millis(due));
}

bool EngineImpl::backup(const std::string& dir, std::string* error) const {
  // copy_compact holds the map's resize lock shared: no growth while it copies.
  namespace fs = std::filesystem;
  std::error_code ec;
  auto store = attachment_store_.load();
  if (std::string kept = store ? "" : AttachmentStore::kept_by(options_.data_dir); !kept.empty()) {
    // Refused before anything is written: a backup without its files is no backup.
    if (error)
      *error = "backup refused: the attachment files of " + options_.data_dir +
               " are kept by the file store \"" + kept +
               "\", which only the server reaches: back up through it (POST /v1/backup)";
    return false;
  }
  if (!fs::exists(dir, ec)) {  // a new directory only its owner can enter
    fs::create_directories(dir, ec);
    fs::permissions(dir, fs::perms::owner_all, ec);
  }
  if (!fs::is_empty(dir, ec)) {
    if (error) *error = "backup directory " + dir + " is not empty";
    return false;
  }
  // The copy is of LMDB: the log is applied first, so it holds every acknowledged step.
  int rc = env_->checkpoint();
  if (rc == 0) rc = env_->copy_compact(dir);
  if (rc && error) *error = "backup to " + dir + " failed: " + storage::error_text(rc);
  // LMDB creates the copy 0666 less the umask; a backup holds every instance's data.
  if (rc == 0)
    fs::permissions(fs::path(dir) / "data.mdb", fs::perms::owner_read | fs::perms::owner_write, ec);
  // The evidence files after the records: a file the copied history names is no longer
  // an orphan candidate, so the sweep cannot remove it before it is copied.
  if (rc == 0) {
    return store ? store->copy_to(dir, error)
                 : AttachmentStore::copy_files(options_.data_dir, dir, error);
  }
  return rc == 0;
}

std::optional<bool> EngineImpl::attachment_named(const std::string& address) const {
  int rc = 0;
  auto txn = read_txn(&rc);
  if (!txn) return std::nullopt;
  auto named = runtime::attachment_named(*txn, address, rc);
  if (rc) return std::nullopt;
  return named;
}

}  // namespace runtime
}  // namespace bihuan

namespace bihuan {

void set_attachment_check(Engine& engine, AttachmentCheck stored) {
  if (auto* impl = dynamic_cast<runtime::EngineImpl*>(&engine))
    impl->set_attachment_check(std::move(stored));
}

void set_attachment_store(Engine& engine, std::shared_ptr<const AttachmentStore> store) {
  if (auto* impl = dynamic_cast<runtime::EngineImpl*>(&engine))
    impl->set_attachment_store(std::move(store));
}

std::optional<bool> attachment_named(const Engine& engine, const std::string& address) {
  auto* impl = dynamic_cast<const runtime::EngineImpl*>(&engine);
  return impl ? impl->attachment_named(address) : std::nullopt;
}

}  // namespace bihuan
