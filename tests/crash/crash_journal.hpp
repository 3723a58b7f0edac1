// What the crash test's child and parent share: the workflow definition, the exact
// requests (so the parent can retry them byte for byte), and the journal protocol.
//
// The child writes one line per fact to a pipe with write(2), never through stdio:
//   R                          ready (engine open, definition deployed)
//   T s <key> <delay>          about to submit a start (attempted)
//   A s <key> <id> <version>   the start was acknowledged (committed)
//   T e <key> <id>             about to submit an event
//   A e <key> <id> <version>   the event was acknowledged at that instance version
//   F <s|e> <key> <text>       a request was refused (never expected)
//   X <text>                   the child gave up (it then _exits)
// A line is shorter than PIPE_BUF, so concurrent writers never interleave inside one.
#pragma once

#include <cstdint>
#include <cstdlib>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "bihuan/engine.hpp"

namespace bihuan::crash {

// A timer that fires once (it leaves the only state that has it) and counts its firing in
// data, so a second firing of the same timer would show as fired == 2. The workload never
// sends "finish": instances stay running and keep accepting pings.
inline const char* kDefinition = R"({
  "id": "crash.ticker", "version": 1, "title": "crash test: one timer, many events",
  "dataSchema": {"type": "object", "required": ["delay", "fired", "pings"],
                 "properties": {"delay": {"type": "string"}, "fired": {"type": "integer"},
                                "pings": {"type": "integer"}}},
  "initial": "WAITING",
  "states": {
    "WAITING": {
      "timers": [{"id": "tick", "after": {"var": "data.delay"}, "target": "TICKED",
                  "set": {"/fired": {"+": [{"var": "data.fired"}, 1]}}}],
      "on": {"ping": {"roles": ["USER"], "set": {"/pings": {"+": [{"var": "data.pings"}, 1]}}}}
    },
    "TICKED": {
      "on": {"ping": {"roles": ["USER"], "set": {"/pings": {"+": [{"var": "data.pings"}, 1]}}},
             "finish": {"roles": ["USER"], "target": "DONE"}}
    },
    "DONE": {"type": "final", "outcome": "done"}
  }
})";

inline constexpr const char* kDefinitionId = "crash.ticker";

// Timer delays; the longest bounds how long after a restart every timer is due.
struct Delay {
  const char* iso;
  std::int64_t ms;
};
inline constexpr Delay kDelays[] = {
    {"PT0.020S", 20}, {"PT0.050S", 50}, {"PT0.120S", 120}, {"PT0.250S", 250}, {"PT0.400S", 400}};
inline constexpr std::int64_t kLongestDelayMs = 400;

inline std::int64_t delay_ms(const std::string& iso) {
  for (const auto& d : kDelays)
    if (iso == d.iso) return d.ms;
  return -1;
}

// The LMDB map size both processes open with: BIHUAN_CRASH_MAP_BYTES, default 1 MiB so
// the child grows the map (several times) while being killed.
inline std::size_t map_bytes() {
  const char* v = std::getenv("BIHUAN_CRASH_MAP_BYTES");
  return v && *v ? static_cast<std::size_t>(std::strtoull(v, nullptr, 10)) : std::size_t{1} << 20;
}

inline Actor worker() { return {"worker", {"USER"}}; }

inline StartRequest start_request(const std::string& key, const std::string& delay) {
  StartRequest r;
  r.definition = kDefinitionId;
  r.business_key = key;
  r.idempotency_key = key;
  r.data = {{"delay", delay}, {"fired", 0}, {"pings", 0}};
  r.actor = worker();
  return r;
}

inline EventRequest event_request(const std::string& key, const std::string& instance_id) {
  EventRequest r;
  r.instance_id = instance_id;
  r.event = "ping";
  r.payload = {{"key", key}};
  r.actor = worker();
  r.idempotency_key = key;
  return r;
}

// What the parent learned from one child's journal.
struct Journal {
  struct Start {
    std::string delay;
    bool acked = false;
    std::string id;
  };
  struct Event {
    std::string instance;
    bool acked = false;
    std::uint64_t version = 0;
  };
  bool ready = false;
  std::map<std::string, Start> starts;  // by key, every attempted start
  std::map<std::string, Event> events;  // by key, every attempted event
  std::vector<std::string> failures;    // F and X lines, and malformed lines
  std::size_t acked_starts = 0, acked_events = 0;

  void feed(const std::string& line) {
    std::istringstream in(line);
    std::string tag, kind, key;
    in >> tag;
    if (tag == "R") {
      ready = true;
      return;
    }
    if (tag == "X" || tag == "F") {
      failures.push_back(line);
      return;
    }
    in >> kind >> key;
    bool ok = !in.fail() && (tag == "T" || tag == "A") && (kind == "s" || kind == "e");
    if (ok && tag == "T" && kind == "s") {
      ok = static_cast<bool>(in >> starts[key].delay);
    } else if (ok && tag == "T") {
      ok = static_cast<bool>(in >> events[key].instance);
    } else if (ok && kind == "s") {
      auto& s = starts[key];
      std::uint64_t version = 0;
      ok = static_cast<bool>(in >> s.id >> version) && !s.acked && !s.delay.empty();
      s.acked = true;
      ++acked_starts;
    } else if (ok) {
      auto& e = events[key];
      std::string id;
      ok = static_cast<bool>(in >> id >> e.version) && !e.acked && id == e.instance;
      e.acked = true;
      ++acked_events;
    }
    if (!ok) failures.push_back("malformed or unexpected journal line: " + line);
  }
};

}  // namespace bihuan::crash
