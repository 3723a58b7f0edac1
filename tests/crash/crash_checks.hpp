// The crash test's checks, run in the parent on a freshly reopened engine after each kill.
// Each check appends plain sentences to `problems`; the test fails a round that has any.
#pragma once

#include <algorithm>
#include <chrono>
#include <set>
#include <thread>
#include <unordered_map>

#include "crash_journal.hpp"

namespace bihuan::crash {

struct RoundStats {
  std::size_t instances = 0, ticked = 0;  // whole data directory, after the round
  std::size_t due_at_reopen = 0;          // instances whose timer the restart had to fire
  std::int64_t timers_settled_ms = 0;     // reopen until no timer was pending
  std::size_t retried_starts_replayed = 0, retried_starts_new = 0;
  std::size_t retried_events_replayed = 0, retried_events_new = 0;
};

class RoundChecker {
 public:
  RoundChecker(Engine& engine, const Journal& journal, std::vector<std::string>& problems)
      : engine_(engine), journal_(journal), problems_(problems) {}

  // (1) + (2): nothing acknowledged was lost, nothing was half applied.
  void check_acknowledged() {
    for (const auto& [key, s] : journal_.starts) {
      if (!s.acked) continue;
      auto v = engine_.get(s.id);
      if (!v)
        problem("acknowledged start " + key + " (instance " + s.id + ") is lost");
      else if (v->business_key != key)
        problem("instance " + s.id + " has business key " + v->business_key + ", not " + key);
      else
        check_instance(*v);
    }
    for (const auto& [key, e] : journal_.events) {
      if (!e.acked) continue;
      auto v = engine_.get(e.instance);
      if (!v) {
        problem("instance " + e.instance + " of acknowledged event " + key + " is lost");
        continue;
      }
      const auto& h = history(e.instance);
      if (e.version == 0 || e.version > v->version || e.version > h.size()) {
        problem("acknowledged event " + key + " at version " + std::to_string(e.version) +
                " is lost: instance " + e.instance + " is at version " +
                std::to_string(v->version));
        continue;
      }
      const HistoryEntry& entry = h[e.version - 1];
      if (entry.seq != e.version || entry.kind != "event" || entry.event != "ping" ||
          entry.payload.value("key", "") != key)
        problem("history entry " + std::to_string(e.version) + " of " + e.instance +
                " is not acknowledged event " + key + ": " + entry.kind + " " + entry.event + " " +
                entry.payload.dump());
      check_instance(*v);
    }
    auto report = engine_.verify();
    for (std::size_t i = 0; i < report.broken.size() && i < 10; ++i)
      problem("verify: " + report.broken[i]);
  }

  // Instances that were waiting for their timer when the engine reopened.
  std::vector<std::string> waiting_instances() const {
    std::vector<std::string> ids;
    InstanceQuery q;
    q.definition = kDefinitionId;
    q.state = "WAITING";
    q.limit = 500;
    while (true) {
      auto page = engine_.query(q);
      for (const auto& v : page.items) ids.push_back(v.id);
      if (page.next_cursor.empty()) break;
      q.cursor = page.next_cursor;
    }
    return ids;
  }

  // (3): after a restart every overdue timer fires promptly, and once. Every timer of this
  // workload is due at most kLongestDelayMs after the kill, so polling until none is
  // pending, bounded by ten seconds after reopening, covers them all. This is the one wait
  // on real time: the child ran on the real clock. The bound is a hang guard, not a speed
  // target: under ctest -j2 beside the heavy tests, firing 240 overdue timers once took
  // just over one second. How fast a restart is ready is measured in bench/
  // (docs/PERFORMANCE.md); the round's line reports the settle time.
  void check_timers_after_restart(const std::vector<std::string>& waiting, TimePoint reopened,
                                  RoundStats& stats) {
    const auto limit = reopened + Millis(10000);
    SystemClock clock;
    while (engine_.pending_timers() > 0 && clock.now() < limit)
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    stats.timers_settled_ms = (clock.now() - reopened).count();
    if (auto n = engine_.pending_timers()) {
      auto due = engine_.next_timer_due();
      problem(std::to_string(n) + " timers still pending 10 s after reopening; the next was due " +
              (due ? std::to_string((clock.now() - *due).count()) + " ms ago"
                   : std::string("(none reported)")));
    }
    stats.due_at_reopen = waiting.size();
    for (const auto& id : waiting) {
      forget(id);  // the history grew while we waited
      auto v = engine_.get(id);
      if (!v) {
        problem("instance " + id + " vanished while its timer was due");
        continue;
      }
      if (v->state != "TICKED")
        problem("instance " + id + " still " + v->state + " 10 s after reopening");
      check_instance(*v, limit);
    }
  }

  // (4): retrying every attempted request with its idempotency key converges; a replay
  // answers what the original step answered (its version and state, not the current
  // ones); the same key with a different request, or by an actor who lost the role, is
  // refused and changes nothing.
  void check_retries(RoundStats& stats) {
    for (const auto& [key, s] : journal_.starts) {
      auto req = start_request(key, s.delay);
      auto r = engine_.start(req);
      if (!r.ok() || !r.instance) {
        problem("retry of start " + key + " failed: " + to_string(r.error) + " " + r.message);
        continue;
      }
      if (s.acked && (!r.replayed || r.instance->id != s.id))
        problem("retry of acknowledged start " + key + " gave instance " + r.instance->id +
                (r.replayed ? " (replayed)" : " (new)") + ", expected " + s.id + " replayed");
      if (r.replayed && (r.instance->version != 1 || r.instance->state != "WAITING"))
        problem("retry of start " + key + " answered version " +
                std::to_string(r.instance->version) + " " + r.instance->state +
                ", not what the start answered (1 WAITING)");
      if (!s.acked) ++(r.replayed ? stats.retried_starts_replayed : stats.retried_starts_new);
      auto again = engine_.start(req);
      if (!again.ok() || !again.replayed || !again.instance ||
          again.instance->id != r.instance->id || again.instance->version != 1)
        problem("second retry of start " + key + " did not replay instance " + r.instance->id +
                " at version 1");
      auto other = req;
      other.data["pings"] = 7;
      auto reused = engine_.start(other);
      if (reused.error != StepError::idempotency_key_reused || !reused.details.is_object() ||
          reused.details["problems"].size() != 1 ||
          reused.details["problems"][0].value("pointer", "") != "/data")
        problem("start key " + key + " reused with other data was not refused naming /data: " +
                to_string(reused.error) + " " + reused.message);
    }
    for (const auto& [key, e] : journal_.events) {
      auto before = engine_.get(e.instance);
      if (!before) {
        problem("instance " + e.instance + " of event " + key + " is missing");
        continue;
      }
      auto req = event_request(key, e.instance);
      auto r = engine_.send(req);
      auto after = engine_.get(e.instance);
      if (!r.ok()) {
        problem("retry of event " + key + " failed: " + to_string(r.error) + " " + r.message);
        continue;
      }
      if (e.acked && !r.replayed)
        problem("retry of acknowledged event " + key + " was applied again");
      if (e.acked && r.replayed && r.instance->version != e.version)
        problem("retry of acknowledged event " + key + " answered version " +
                std::to_string(r.instance->version) + ", not the version " +
                std::to_string(e.version) + " it was acknowledged with");
      if (r.replayed && after->version != before->version)
        problem("replayed event " + key + " moved instance " + e.instance + " from version " +
                std::to_string(before->version) + " to " + std::to_string(after->version));
      if (!e.acked) ++(r.replayed ? stats.retried_events_replayed : stats.retried_events_new);
      auto again = engine_.send(req);
      auto last = engine_.get(e.instance);
      if (!again.ok() || !again.replayed || last->version != after->version)
        problem("second retry of event " + key + " did not replay (" + to_string(again.error) +
                ", version " + std::to_string(after->version) + " -> " +
                std::to_string(last->version) + ")");
      else if (again.instance->version != r.instance->version)
        problem("second retry of event " + key + " answered version " +
                std::to_string(again.instance->version) + ", the first " +
                std::to_string(r.instance->version));
      auto other = req;
      other.payload["other"] = true;
      auto reused = engine_.send(other);
      if (reused.error != StepError::idempotency_key_reused || !reused.details.is_object() ||
          reused.details["problems"].size() != 1 ||
          reused.details["problems"][0].value("pointer", "") != "/payload")
        problem("event key " + key +
                " reused with another payload was not refused naming /payload: " +
                to_string(reused.error) + " " + reused.message);
      auto demoted = req;
      demoted.actor.roles.clear();
      auto refused = engine_.send(demoted);
      if (refused.error != StepError::role_not_allowed)
        problem("retry of event " + key +
                " by its actor without the role was not refused: " + to_string(refused.error));
      if (engine_.get(e.instance)->version != last->version)
        problem("a refused reuse of event key " + key + " moved instance " + e.instance);
    }
  }

  // Whole directory: one instance per start key ever attempted, timers fired at most once.
  void check_all_instances(const std::set<std::string>& all_start_keys, RoundStats& stats) {
    std::unordered_map<std::string, int> per_key;
    InstanceQuery q;
    q.limit = 500;
    while (true) {
      auto page = engine_.query(q);
      for (const auto& v : page.items) {
        ++stats.instances;
        ++per_key[v.business_key];
        std::int64_t fired = v.data.value("fired", std::int64_t{-1});
        if (fired < 0 || fired > 1)
          problem("instance " + v.id + " fired its timer " + std::to_string(fired) + " times");
        if ((fired == 1) != (v.state == "TICKED"))
          problem("instance " + v.id + " is " + v.state + " with fired = " + std::to_string(fired));
        if (v.state == "TICKED") ++stats.ticked;
      }
      if (page.next_cursor.empty()) break;
      q.cursor = page.next_cursor;
    }
    for (const auto& [key, n] : per_key) {
      if (n != 1) problem(std::to_string(n) + " instances have business key " + key);
      if (!all_start_keys.count(key))
        problem("an instance has business key " + key + ", which no one started");
    }
    for (const auto& key : all_start_keys)
      if (!per_key.count(key)) problem("start " + key + " has no instance even after its retry");
    auto report = engine_.verify();
    for (std::size_t i = 0; i < report.broken.size() && i < 10; ++i)
      problem("verify after retries: " + report.broken[i]);
  }

  // Timers whose firing is stamped with their due millisecond (a burst executed ahead
  // always is; the usual sweep only when it ran within that millisecond).
  std::size_t fired_on_due_ms = 0;

 private:
  void problem(std::string text) { problems_.push_back(std::move(text)); }

  const std::vector<HistoryEntry>& history(const std::string& id) {
    auto it = histories_.find(id);
    if (it == histories_.end()) it = histories_.emplace(id, engine_.history(id)).first;
    return it->second;
  }
  void forget(const std::string& id) { histories_.erase(id); }

  // One instance's data agrees with its history: no step half applied, the timer fired at
  // most once, never early, and (with `fired_by`) no later than that.
  void check_instance(const InstanceView& v, std::optional<TimePoint> fired_by = {}) {
    if (!checked_.insert(v.id).second && !fired_by) return;
    forget(v.id);
    const auto& h = history(v.id);
    const std::string who = "instance " + v.id + " (" + v.business_key + ")";
    if (h.size() < v.version) {  // the history may be ahead: timers keep firing meanwhile
      problem(who + " is at version " + std::to_string(v.version) + " but has " +
              std::to_string(h.size()) + " history entries");
      return;
    }
    std::int64_t timers = 0, events = 0;
    const HistoryEntry* timer = nullptr;
    for (std::size_t i = 0; i < v.version; ++i) {
      if (h[i].seq != i + 1)
        problem(who + ": history entry " + std::to_string(i + 1) + " has seq " +
                std::to_string(h[i].seq));
      if (h[i].kind == "timer") {
        ++timers;
        timer = &h[i];
        if (h[i].payload.is_object() && h[i].payload.contains("refused"))
          problem(who + ": its timer firing was refused: " + h[i].payload.dump());
      }
      if (h[i].kind == "event") ++events;
    }
    if (h.empty() || h[0].kind != "start") {
      problem(who + " has no start entry");
      return;
    }
    if (timers > 1) problem(who + ": its one timer fired " + std::to_string(timers) + " times");
    if (timers != v.data.value("fired", std::int64_t{-1}) ||
        events != v.data.value("pings", std::int64_t{-1}))
      problem(who + ": data " + v.data.dump() + " disagrees with history (" +
              std::to_string(timers) + " timer, " + std::to_string(events) + " event entries)");
    if (!timer) return;
    std::int64_t delay = delay_ms(v.data.value("delay", ""));
    TimePoint due = h[0].at + Millis(delay);
    if (delay < 0 || timer->at < due)
      problem(who + ": timer fired at " + std::to_string(timer->at.time_since_epoch().count()) +
              ", before it was due at " + std::to_string(due.time_since_epoch().count()));
    if (timer->at == due) ++fired_on_due_ms;
    if (fired_by && timer->at > *fired_by)
      problem(who + ": overdue timer fired only " +
              std::to_string((timer->at - *fired_by).count()) + " ms after the bound");
  }

 private:
  Engine& engine_;
  const Journal& journal_;
  std::vector<std::string>& problems_;
  std::unordered_map<std::string, std::vector<HistoryEntry>> histories_;
  std::set<std::string> checked_;
};

}  // namespace bihuan::crash
