// The peers' "problem rectification" workload on Bihuan (bench/workloads/
// rectification-workload.md, normative), with the disk's own floor and SQLite measured in
// the same run: the baseline of issue 24 ("One flush per commit"). Figures and the exact
// commands: docs/PERFORMANCE.md, "The peers' rectification workload".
//
//   ./build/bench/bench_rectification [--variant V[,V...]] [--n 10000] [--n-seq N] [--quick]
//        [--runs 3] [--window 256] [--dir /var/tmp/bihuan-bench] [--keep] [--map-mib 16384]
//
// Variants (default: all): durable-seq (one step at a time, each awaited: Engine::start /
// send), durable-interleaved (round robin over the N instances, --window steps in flight,
// each acknowledged once durable), nosync-interleaved (the same, EngineOptions::durable
// false), idle (steps 0..2 for N instances, then memory and data.mdb bytes per parked
// instance), file-fsync (the disk's own floor: a ~400-byte JSON line appended and
// fdatasync'd per step, one at a time, in --dir), file-prealloc (the same lines written in
// place into a file zero-filled and synced beforehand: the disk's best for one flush per
// step), sqlite-full and sqlite-group1000
// (libsqlite3, WAL, synchronous=FULL, one upsert per step, 1 or 1000 steps per
// transaction). N: 10,000 instances (70,000 steps), 2,000 with --quick; --n-seq sets N of
// the one-at-a-time variants (file-fsync, file-prealloc, sqlite-full, durable-seq) alone.
//
// Every run is a fresh child process on a fresh directory under --dir (on the disk to be
// measured, not tmpfs). --runs R rounds, each running every variant once (so the noise of
// a shared machine falls on all alike); each run prints "variant#round metric value", then
// "variant metric median [min .. max]" over the rounds, one JSON object per variant
// (medians), a table and the ratios issue 24's targets need. Each
// Bihuan process first runs the self-test (a recheck by the submitter is refused and
// changes nothing; the instance finishes in a reopened engine); every variant verifies
// every instance's final state and data (untimed). A failed run makes the exit code 1.
#include <sqlite3.h>

#include <thread>

#include "engine_bench_setup.hpp"

namespace {

using namespace bench;
namespace fs = std::filesystem;

constexpr std::int64_t kT0 = 1672621200000;  // 2023-01-02T01:00:00Z
constexpr std::int64_t kDayMs = 86400000;
constexpr int kSteps = 7;

struct Options {
  std::vector<std::string> variants;  // empty: all
  std::size_t n = 0;                  // 0: 10,000, or 2,000 with --quick
  std::size_t n_seq = 0;              // the one-at-a-time variants' N (0: n)
  bool quick = false;
  std::size_t window = 256;
};
Options g_opt;

// ---- The workload (bench/workloads/rectification-workload.md) ----

const char* const kType[kSteps] = {"report",  "claim",           "order",  "submit_evidence",
                                   "recheck", "submit_evidence", "recheck"};
const char* const kStateAfter[kSteps] = {
    "reported",           "claimed", "rectifying", "evidence_submitted", "rectifying",
    "evidence_submitted", "closed"};
const char* const kRole[kSteps] = {"CADRE",     "STATION",  "STATION",  "BUSINESS",
                                   "INSPECTOR", "BUSINESS", "INSPECTOR"};

std::string instance_key(std::size_t i) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "P%07zu", i);
  return buf;
}

std::string actor_id(std::size_t i, int k) {
  switch (k) {
    case 0:
      return "cadre-" + std::to_string(i % 430);
    case 1:
    case 2:
      return "station-" + std::to_string(i % 40);
    case 3:
    case 5:
      return "biz-" + std::to_string(i);
    case 4:
      return "inspector-" + std::to_string(i % 100);
    default:
      return "inspector-" + std::to_string((i + 1) % 100);
  }
}

std::int64_t at_ms(std::size_t i, int k) {
  return kT0 + static_cast<std::int64_t>(i) * 1000 + static_cast<std::int64_t>(k) * 3600000;
}

std::string note(std::size_t i, int k) {
  std::string s = std::string(kType[k]) + " note for " + instance_key(i);
  if (s.size() < 50) s.resize(50, '.');
  return s;
}

// The event of step k >= 1 (step 0 is the creation): {type, actor, note, at} + extras.
json payload(std::size_t i, int k) {
  json p = {
      {"type", kType[k]}, {"actor", actor_id(i, k)}, {"note", note(i, k)}, {"at", at_ms(i, k)}};
  if (k == 2) p["days"] = 7;
  if (k == 4) p["pass"] = false;
  if (k == 6) p["pass"] = true;
  return p;
}

bihuan::Actor actor(std::size_t i, int k) { return {actor_id(i, k), {kRole[k]}, json::object()}; }

// The reference machine: applies event `p` (sent by `who`) to context `c` in `state`.
// Returns false (nothing changed) when the event is refused or ignored there.
bool apply(json& c, std::string& state, const std::string& who, const json& p) {
  const std::string type = p["type"];
  std::string to;
  if (state == "reported" && type == "claim") {
    c["claimedBy"] = who, to = "claimed";
  } else if (state == "claimed" && type == "order") {
    c["orderedBy"] = who;
    c["deadline"] = p["at"].get<std::int64_t>() + p["days"].get<std::int64_t>() * kDayMs;
    to = "rectifying";
  } else if (state == "rectifying" && type == "submit_evidence") {
    c["submitter"] = who, to = "evidence_submitted";
  } else if (state == "evidence_submitted" && type == "recheck" && c["submitter"] != who) {
    c["rechecker"] = who;
    if (p["pass"].get<bool>()) {
      to = "closed";
    } else {
      c["reopenCount"] = c["reopenCount"].get<int>() + 1;
      to = "rectifying";
    }
  } else {
    return false;
  }
  c["lastNote"] = p["note"], c["updatedAt"] = p["at"], state = to;
  return true;
}

// The context step 0 creates.
json initial_context(std::size_t i) {
  return {{"id", instance_key(i)},   {"reporter", actor_id(i, 0)}, {"claimedBy", nullptr},
          {"orderedBy", nullptr},    {"deadline", nullptr},        {"submitter", nullptr},
          {"rechecker", nullptr},    {"reopenCount", 0},           {"lastNote", note(i, 0)},
          {"updatedAt", at_ms(i, 0)}};
}

// expectedFinal of instance i, written out field by field as the brief states it.
json expected_final(std::size_t i) {
  return {{"id", instance_key(i)},
          {"reporter", "cadre-" + std::to_string(i % 430)},
          {"claimedBy", "station-" + std::to_string(i % 40)},
          {"orderedBy", "station-" + std::to_string(i % 40)},
          {"deadline", at_ms(i, 2) + 7 * kDayMs},
          {"submitter", "biz-" + std::to_string(i)},
          {"rechecker", "inspector-" + std::to_string((i + 1) % 100)},
          {"reopenCount", 1},
          {"lastNote", note(i, 6)},
          {"updatedAt", at_ms(i, 6)}};
}

// The workflow as a Bihuan definition. The actor of each step is the engine's sender
// (actor.id); events name no roles, so the recheck guard (not a role) refuses a recheck
// by the submitter, as in the peers' machines. No timer: the deadline is data only.
const char* kDefinition = R"({"id":"bench.rectification","version":1,"initial":"reported",
 "states":{
  "reported":{"on":{"claim":{"target":"claimed","set":{
    "/claimedBy":{"var":"actor.id"},
    "/lastNote":{"var":"event.payload.note"},"/updatedAt":{"var":"event.payload.at"}}}}},
  "claimed":{"on":{"order":{"target":"rectifying","set":{
    "/orderedBy":{"var":"actor.id"},
    "/deadline":{"+":[{"var":"event.payload.at"},{"*":[{"var":"event.payload.days"},86400000]}]},
    "/lastNote":{"var":"event.payload.note"},"/updatedAt":{"var":"event.payload.at"}}}}},
  "rectifying":{"on":{"submit_evidence":{"target":"evidence_submitted","set":{
    "/submitter":{"var":"actor.id"},
    "/lastNote":{"var":"event.payload.note"},"/updatedAt":{"var":"event.payload.at"}}}}},
  "evidence_submitted":{"on":{"recheck":{
    "rejectMessage":"the recheck must be made by someone other than the submitter",
    "transitions":[
     {"guard":{"and":[{"!=":[{"var":"actor.id"},{"var":"data.submitter"}]},{"var":"event.payload.pass"}]},
      "target":"closed","set":{"/rechecker":{"var":"actor.id"},
        "/lastNote":{"var":"event.payload.note"},"/updatedAt":{"var":"event.payload.at"}}},
     {"guard":{"and":[{"!=":[{"var":"actor.id"},{"var":"data.submitter"}]},{"!":{"var":"event.payload.pass"}}]},
      "target":"rectifying","set":{"/rechecker":{"var":"actor.id"},
        "/reopenCount":{"+":[{"var":"data.reopenCount"},1]},
        "/lastNote":{"var":"event.payload.note"},"/updatedAt":{"var":"event.payload.at"}}}]}}},
  "closed":{"type":"final","outcome":"closed"}}})";

// ---- Bihuan ----

Opened open_rectification(const std::string& dir, bool durable) {
  auto opened = open_engine(dir, durable);
  auto r = opened.engine->deploy(json::parse(kDefinition), "bench");
  if (!r.ok)
    throw std::runtime_error("deploy bench.rectification failed: " +
                             (r.problems.items().empty() ? "" : r.problems.items()[0].to_string()));
  return opened;
}

bihuan::StartRequest start_request(std::size_t i) {
  bihuan::StartRequest r;
  r.definition = "bench.rectification";
  r.business_key = instance_key(i);
  r.data = initial_context(i);
  r.actor = actor(i, 0);
  return r;
}

bihuan::EventRequest event_request(const std::string& id, std::size_t i, int k) {
  bihuan::EventRequest r;
  r.instance_id = id;
  r.event = kType[k];
  r.payload = payload(i, k);
  r.actor = actor(i, k);
  return r;
}

bihuan::StepResult step(Engine& e, std::vector<std::string>& ids, std::size_t i, int k) {
  if (k > 0) return e.send(event_request(ids[i], i, k));
  auto r = e.start(start_request(i));
  if (r.instance) ids[i] = r.instance->id;
  return r;
}

void require(bool ok, const std::string& what) {
  if (!ok) throw std::runtime_error("self-test: " + what);
}

// Untimed, in every Bihuan process: instance 7 up to evidence_submitted; a recheck by its
// submitter is refused and changes nothing; the engine is closed and reopened, and the
// instance finishes there with expectedFinal.
void self_test(const std::string& dir) {
  DirGuard guard{dir};
  const std::size_t i = 7;
  std::vector<std::string> ids(i + 1);
  {
    auto opened = open_rectification(dir, true);
    Engine& e = *opened.engine;
    for (int k = 0; k < 4; ++k) require(step(e, ids, i, k).ok(), "step refused");
    auto before = e.get(ids[i]);
    auto bad = event_request(ids[i], i, 4);
    bad.actor = actor(i, 3);  // the submitter
    bad.payload["actor"] = actor_id(i, 3);
    require(!e.send(bad).ok(), "a recheck by the submitter was accepted");
    auto after = e.get(ids[i]);
    require(before && after && after->state == "evidence_submitted" &&
                after->version == before->version && after->data == before->data,
            "a refused recheck changed the instance");
    e.close();
  }
  auto opened = open_rectification(dir, true);
  for (int k = 4; k < kSteps; ++k) require(step(*opened.engine, ids, i, k).ok(), "step refused");
  auto done = opened.engine->get(ids[i]);
  require(done && done->state == "closed" && done->data == expected_final(i),
          "the instance did not finish with expectedFinal after a reopen");
  opened.engine->close();
}

// Untimed: every instance closed (completed) with data == expectedFinal.
void verify(Engine& e, const std::vector<std::string>& ids) {
  for (std::size_t i = 0; i < ids.size(); ++i) {
    auto v = e.get(ids[i]);
    if (!v || v->state != "closed" || v->status != bihuan::InstanceStatus::completed ||
        v->data != expected_final(i))
      throw std::runtime_error("verification: instance " + instance_key(i) + " is " +
                               (v ? v->state + " " + v->data.dump() : std::string("missing")));
  }
}

// Process-wide readings before a timed region; add() reports them per step.
struct Meter {
  double cpu = cpu_seconds(RUSAGE_SELF), wchar = proc_io("wchar"), written = proc_io("write_bytes");
  void add(Results& out, std::size_t n, double seconds) const {
    auto steps = static_cast<double>(kSteps * n);
    out.add("transitions_per_s", steps / seconds);
    out.add("instances_per_s", static_cast<double>(n) / seconds);
    out.add("cpu_us_per_step", (cpu_seconds(RUSAGE_SELF) - cpu) / steps * 1e6);
    out.add("write_call_bytes_per_step", (proc_io("wchar") - wchar) / steps);
    if (written >= 0)
      out.add("disk_write_bytes_per_step", (proc_io("write_bytes") - written) / steps);
  }
  // After the timed region, the engine's deferred work: a checkpoint applies what the log
  // holds to LMDB (Engine::checkpoint). The "_settled" figures count it as part of the
  // steps (bytes, and the rate with its time added), so a run that ends just before a
  // checkpoint does not look cheaper than one that ends just after.
  void settle(Engine& e, Results& out, std::size_t n, double seconds) const {
    auto t0 = std::chrono::steady_clock::now();
    if (std::string err = e.checkpoint(); !err.empty())
      throw std::runtime_error("checkpoint: " + err);
    double took = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    auto steps = static_cast<double>(kSteps * n);
    out.add("settle_ms", took * 1e3);
    out.add("transitions_per_s_settled", steps / (seconds + took));
    if (written >= 0)
      out.add("disk_write_bytes_per_step_settled", (proc_io("write_bytes") - written) / steps);
  }
};

void add_latency(Results& out, std::vector<double>& us) {
  out.add("step_p50_ms", percentile(us, 50) / 1e3);
  out.add("step_p99_ms", percentile(us, 99) / 1e3);
  out.add("step_max_ms", us.empty() ? 0 : us.back() / 1e3);
}

void durable_seq(std::size_t n, int run, Results& out) {
  self_test(run_dir("selftest-seq", run));
  std::string dir = run_dir("durable-seq", run);
  DirGuard guard{dir};
  auto opened = open_rectification(dir, true);
  Engine& e = *opened.engine;
  std::vector<std::string> ids(n);
  std::vector<double> us;
  us.reserve(kSteps * n);
  Meter meter;
  auto t0 = SteadyClock::now();
  for (std::size_t i = 0; i < n; ++i)
    for (int k = 0; k < kSteps; ++k) {
      auto s0 = SteadyClock::now();
      auto r = step(e, ids, i, k);
      us.push_back(std::chrono::duration<double, std::micro>(SteadyClock::now() - s0).count());
      if (!r.ok())
        throw std::runtime_error(instance_key(i) + " step " + std::to_string(k) + ": " + r.message);
    }
  const double seconds = seconds_since(t0);
  meter.add(out, n, seconds);
  meter.settle(e, out, n, seconds);
  add_latency(out, us);
  verify(e, ids);
  e.close();
}

// Round robin: request j is step j / n of instance j % n, for steps 0..steps-1, with up
// to `window` (at most n) in flight. Step k of an instance is submitted only after its
// step k-1 was acknowledged. Fills ids (the engine's instance ids).
void round_robin(Engine& e, std::size_t n, int steps, std::size_t window,
                 std::vector<std::string>& ids, ClosedLoop& loop) {
  std::vector<std::atomic<int>> acked(n);
  loop.window = std::max<std::size_t>(1, std::min(window, n));
  loop.run(static_cast<std::size_t>(steps) * n, [&](std::size_t j, auto done) {
    std::size_t i = j % n;
    int k = static_cast<int>(j / n);
    auto finish = [&, i, k, done](bihuan::StepResult r) {
      if (k == 0 && r.instance) ids[i] = r.instance->id;
      acked[i].store(k + 1, std::memory_order_release);
      done(r.ok(), r.message);
    };
    if (k == 0) return e.start_async(start_request(i), finish);
    while (acked[i].load(std::memory_order_acquire) < k) std::this_thread::yield();
    e.send_async(event_request(ids[i], i, k), finish);
  });
}

// The interleaved variants: the 7 steps round robin, durable or not.
void interleaved(std::size_t n, bool durable, const std::string& label, int run, Results& out) {
  self_test(run_dir("selftest-" + label, run));
  std::string dir = run_dir(label, run);
  DirGuard guard{dir};
  auto opened = open_rectification(dir, durable);
  Engine& e = *opened.engine;
  std::vector<std::string> ids(n);
  ClosedLoop loop;
  Meter meter;
  round_robin(e, n, kSteps, g_opt.window, ids, loop);
  if (loop.failures)
    throw std::runtime_error(label + ": " + std::to_string(loop.failures) +
                             " steps failed, first: " + loop.first_failure);
  meter.add(out, n, loop.seconds);
  if (durable) meter.settle(e, out, n, loop.seconds);
  loop.report(out, "step_");
  verify(e, ids);
  e.close();
}

// Steps 0..2 for n instances (no-sync, like the peers' in-memory idle), then memory and
// disk per parked instance.
void idle(std::size_t n, int run, Results& out) {
  std::string dir = run_dir("idle", run);
  DirGuard guard{dir};
  double anon0 = rss_anon_mib();
  auto opened = open_rectification(dir, false);
  Engine& e = *opened.engine;
  std::vector<std::string> ids(n);
  ClosedLoop loop;
  round_robin(e, n, 3, 256, ids, loop);
  if (loop.failures) throw std::runtime_error("idle: " + loop.first_failure);
  out.add("transitions_per_s", static_cast<double>(3 * n) / loop.seconds);
  double per = 1024.0 * 1024.0 / static_cast<double>(n);
  out.add("rss_anon_bytes_per_instance", (rss_anon_mib() - anon0) * per);
  out.add("rss_file_mib", rss_file_mib());
  for (std::size_t i = 0; i < n; i += std::max<std::size_t>(1, n / 97)) {
    auto v = e.get(ids[i]);
    if (!v || v->state != "rectifying")
      throw std::runtime_error("idle: " + instance_key(i) + " is not parked in rectifying");
  }
  e.close();
  out.add("data_mdb_bytes_per_instance",
          static_cast<double>(disk_bytes(fs::path(dir) / "data.mdb")) / static_cast<double>(n));
}

// ---- The peers' stores, for the floor ----

// The peers' persisted snapshot (xstate's shape, about 350 bytes when closed).
json snapshot(const std::string& state, const json& context) {
  return {{"status", state == "closed" ? "done" : "active"},
          {"value", state},
          {"historyValue", json::object()},
          {"context", context},
          {"children", json::object()}};
}

// Drives the workload in interleaved order through the reference machine; persist(i, k,
// snapshot) stores each step. Returns the per-step latency (us) and checks every final
// context.
template <class Persist>
std::vector<double> drive(std::size_t n, Persist persist) {
  std::vector<json> ctx(n);
  std::vector<std::string> state(n, "reported");
  std::vector<double> us;
  us.reserve(kSteps * n);
  for (int k = 0; k < kSteps; ++k)
    for (std::size_t i = 0; i < n; ++i) {
      auto s0 = SteadyClock::now();
      if (k == 0)
        ctx[i] = initial_context(i);
      else if (!apply(ctx[i], state[i], actor_id(i, k), payload(i, k)))
        throw std::runtime_error(instance_key(i) + " step " + std::to_string(k) + " refused");
      persist(i, k, snapshot(state[i], ctx[i]));
      us.push_back(std::chrono::duration<double, std::micro>(SteadyClock::now() - s0).count());
    }
  return us;
}

void verify_contexts(const std::vector<json>& finals) {
  for (std::size_t i = 0; i < finals.size(); ++i)
    if (finals[i].value("value", "") != "closed" || finals[i]["context"] != expected_final(i))
      throw std::runtime_error("verification: " + instance_key(i) + " " + finals[i].dump());
}

// One line {"id","seq","snapshot"} appended per step, then fdatasync.
void file_fsync(std::size_t n, int run, Results& out) {
  std::string dir = run_dir("file-fsync", run);
  DirGuard guard{dir};
  fs::create_directories(dir);
  std::string path = dir + "/snapshots.jsonl";
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_TRUNC, 0644);
  if (fd < 0) throw std::runtime_error("cannot create " + path);
  std::size_t line_bytes = 0;
  Meter meter;
  auto t0 = SteadyClock::now();
  auto us = drive(n, [&](std::size_t i, int k, const json& snap) {
    std::string line = json{{"id", instance_key(i)}, {"seq", k}, {"snapshot", snap}}.dump() + "\n";
    line_bytes += line.size();
    if (::write(fd, line.data(), line.size()) != static_cast<ssize_t>(line.size()) ||
        fdatasync(fd) != 0)
      throw std::runtime_error("append to " + path + " failed");
  });
  meter.add(out, n, seconds_since(t0));
  ::close(fd);
  add_latency(out, us);
  out.add("line_bytes", static_cast<double>(line_bytes) / static_cast<double>(kSteps * n));
  std::ifstream in(path);
  std::vector<json> finals(n);
  std::size_t lines = 0;
  for (std::string line; std::getline(in, line); ++lines) {
    auto j = json::parse(line);
    if (j["seq"] == kSteps - 1)
      finals[std::stoul(j["id"].get<std::string>().substr(1))] = j["snapshot"];
  }
  if (lines != kSteps * n)
    throw std::runtime_error("file-fsync: " + std::to_string(lines) + " lines, not 7N");
  verify_contexts(finals);
}

// The same lines written in place into a file filled with zeros and synced before the
// timed region, each followed by fdatasync: no flush changes the file's size or extents
// (what SQLite's reused WAL and Bihuan's preallocated log get), so this is the disk's own
// best for one flush per step.
void file_prealloc(std::size_t n, int run, Results& out) {
  std::string dir = run_dir("file-prealloc", run);
  DirGuard guard{dir};
  fs::create_directories(dir);
  std::string path = dir + "/snapshots.bin";
  int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_TRUNC, 0644);
  if (fd < 0) throw std::runtime_error("cannot create " + path);
  const std::size_t room = kSteps * n * 1024;  // lines are about 380 bytes
  // In 4 KiB pieces: larger ones land in large folios, and fdatasync would then write a
  // whole folio for each small line (storage/wal.cpp, write_zeros).
  const std::string zeros(4096, '\0');
  for (std::size_t done = 0; done < room; done += zeros.size())
    if (::write(fd, zeros.data(), zeros.size()) != static_cast<ssize_t>(zeros.size()))
      throw std::runtime_error("cannot fill " + path);
  if (::fsync(fd) != 0) throw std::runtime_error("cannot sync " + path);
  std::size_t end = 0;
  Meter meter;
  auto t0 = SteadyClock::now();
  auto us = drive(n, [&](std::size_t i, int k, const json& snap) {
    std::string line = json{{"id", instance_key(i)}, {"seq", k}, {"snapshot", snap}}.dump() + "\n";
    if (end + line.size() > room ||
        ::pwrite(fd, line.data(), line.size(), static_cast<off_t>(end)) !=
            static_cast<ssize_t>(line.size()) ||
        fdatasync(fd) != 0)
      throw std::runtime_error("write to " + path + " failed");
    end += line.size();
  });
  meter.add(out, n, seconds_since(t0));
  add_latency(out, us);
  std::string text(end, '\0');
  if (::pread(fd, text.data(), end, 0) != static_cast<ssize_t>(end))
    throw std::runtime_error("cannot read " + path);
  ::close(fd);
  std::vector<json> finals(n);
  std::size_t lines = 0;
  for (std::size_t at = 0; at < end; ++lines) {
    std::size_t nl = text.find('\n', at);
    auto j = json::parse(text.substr(at, nl - at));
    if (j["seq"] == kSteps - 1)
      finals[std::stoul(j["id"].get<std::string>().substr(1))] = j["snapshot"];
    at = nl + 1;
  }
  if (lines != kSteps * n)
    throw std::runtime_error("file-prealloc: " + std::to_string(lines) + " lines, not 7N");
  verify_contexts(finals);
}

struct Sqlite {
  sqlite3* db = nullptr;
  explicit Sqlite(const std::string& path) {
    if (sqlite3_open(path.c_str(), &db) != SQLITE_OK)
      throw std::runtime_error("sqlite open " + path);
  }
  ~Sqlite() { sqlite3_close(db); }
  void exec(const char* sql) {
    char* err = nullptr;
    if (sqlite3_exec(db, sql, nullptr, nullptr, &err) != SQLITE_OK) {
      std::string why = err ? err : "?";
      sqlite3_free(err);
      throw std::runtime_error(std::string("sqlite: ") + sql + ": " + why);
    }
  }
};

// better-sqlite3's settings: WAL, synchronous=FULL, one upsert per step, `group` steps per
// transaction (the last partial group committed inside the timed region).
void sqlite_full(std::size_t n, std::size_t group, const std::string& label, int run,
                 Results& out) {
  std::string dir = run_dir(label, run);
  DirGuard guard{dir};
  fs::create_directories(dir);
  Sqlite s(dir + "/peers.db");
  s.exec("PRAGMA journal_mode=WAL");
  s.exec("PRAGMA synchronous=FULL");
  s.exec("CREATE TABLE instances(id TEXT PRIMARY KEY, seq INTEGER, snapshot TEXT) WITHOUT ROWID");
  sqlite3_stmt* up = nullptr;
  if (sqlite3_prepare_v2(s.db,
                         "INSERT INTO instances(id, seq, snapshot) VALUES(?, ?, ?) ON CONFLICT(id) "
                         "DO UPDATE SET seq = excluded.seq, snapshot = excluded.snapshot",
                         -1, &up, nullptr) != SQLITE_OK)
    throw std::runtime_error(std::string("sqlite prepare: ") + sqlite3_errmsg(s.db));
  std::size_t in_tx = 0;
  Meter meter;
  auto t0 = SteadyClock::now();
  auto us = drive(n, [&](std::size_t i, int k, const json& snap) {
    if (in_tx == 0) s.exec("BEGIN");
    std::string id = instance_key(i), text = snap.dump();
    sqlite3_bind_text(up, 1, id.c_str(), static_cast<int>(id.size()), SQLITE_TRANSIENT);
    sqlite3_bind_int(up, 2, k);
    sqlite3_bind_text(up, 3, text.c_str(), static_cast<int>(text.size()), SQLITE_TRANSIENT);
    if (sqlite3_step(up) != SQLITE_DONE)
      throw std::runtime_error(std::string("sqlite upsert: ") + sqlite3_errmsg(s.db));
    sqlite3_reset(up);
    if (++in_tx == group) s.exec("COMMIT"), in_tx = 0;
  });
  if (in_tx) s.exec("COMMIT");
  meter.add(out, n, seconds_since(t0));
  sqlite3_finalize(up);
  if (group == 1) add_latency(out, us);
  std::vector<json> finals(n);
  std::size_t rows = 0;
  sqlite3_stmt* all = nullptr;
  sqlite3_prepare_v2(s.db, "SELECT id, snapshot FROM instances", -1, &all, nullptr);
  while (sqlite3_step(all) == SQLITE_ROW) {
    std::string id = reinterpret_cast<const char*>(sqlite3_column_text(all, 0));
    finals.at(std::stoul(id.substr(1))) =
        json::parse(reinterpret_cast<const char*>(sqlite3_column_text(all, 1)));
    ++rows;
  }
  sqlite3_finalize(all);
  if (rows != n) throw std::runtime_error(label + ": " + std::to_string(rows) + " rows, not N");
  verify_contexts(finals);
}

// The peer itself: XState 5 on better-sqlite3 (WAL, synchronous=FULL), one step at a time,
// run by Node.js (bench/peers/xstate_sqlite.mjs, set up by bench/peers/setup.sh). Its
// figures are its own process's; disk bytes are not read (another process writes).
void xstate_sqlite_full(std::size_t n, int run, Results& out) {
  const std::string peers = BIHUAN_PEERS_DIR;
  if (!fs::exists(peers + "/node_modules/better-sqlite3/build/Release/better_sqlite3.node"))
    throw std::runtime_error("xstate-sqlite-full: run " + peers + "/setup.sh first");
  std::string dir = run_dir("xstate-sqlite-full", run);
  DirGuard guard{dir};
  std::string cmd =
      "node " + peers + "/xstate_sqlite.mjs --n " + std::to_string(n) + " --dir '" + dir + "'";
  std::string text;
  FILE* p = ::popen(cmd.c_str(), "r");
  if (!p) throw std::runtime_error("xstate-sqlite-full: cannot run " + cmd);
  char buf[4096];
  for (std::size_t got; (got = std::fread(buf, 1, sizeof buf, p)) > 0;) text.append(buf, got);
  if (::pclose(p) != 0) throw std::runtime_error("xstate-sqlite-full: " + cmd + " failed: " + text);
  json j = json::parse(text, nullptr, false);
  if (j.is_discarded() || !j.is_object())
    throw std::runtime_error("xstate-sqlite-full: expected one JSON object, got: " + text);
  if (!j.value("verified", false)) throw std::runtime_error("xstate-sqlite-full: not verified");
  for (const char* m : {"transitions_per_s", "instances_per_s", "step_p50_ms", "step_p99_ms"})
    out.add(m, j.at(m).get<double>());
}

// ---- Command line, summary ----

const char* const kUsage =
    "usage: bench_rectification [--variant V[,V...]] [--n N] [--n-seq N] [--quick] [--runs R]\n"
    "         [--window W] [--dir DIR] [--keep] [--map-mib M] [--store postgresql:CONNINFO]\n"
    "  variants: file-fsync file-prealloc sqlite-full sqlite-group1000 durable-seq\n"
    "            durable-interleaved nosync-interleaved idle (default: all of these)\n"
    "            xstate-sqlite-full (the peer itself, on Node.js: bench/peers/setup.sh)\n";

const char* const kVariants[] = {"file-fsync",         "file-prealloc", "sqlite-full",
                                 "sqlite-group1000",   "durable-seq",   "durable-interleaved",
                                 "nosync-interleaved", "idle",          "xstate-sqlite-full"};

bool wants(const std::string& v) {
  // The peer on Node.js runs only when named (it needs bench/peers/setup.sh first).
  return (g_opt.variants.empty() && v != "xstate-sqlite-full") ||
         std::find(g_opt.variants.begin(), g_opt.variants.end(), v) != g_opt.variants.end();
}

}  // namespace

int main(int argc, char** argv) {
  bool parsed = parse_command_line(
      argc, argv, g_opt.quick, [](const std::string& a, const std::function<std::string()>& value) {
        if (a == "--n" || a == "--n-seq" || a == "--window") {
          (a == "--n"        ? g_opt.n
           : a == "--window" ? g_opt.window
                             : g_opt.n_seq) = std::stoul(value());
          return true;
        }
        if (a != "--variant") return false;
        std::string v = value();
        for (std::size_t pos = 0; pos <= v.size();) {
          auto comma = std::min(v.find(',', pos), v.size());
          g_opt.variants.push_back(v.substr(pos, comma - pos));
          pos = comma + 1;
        }
        return true;
      });
  if (!parsed) return std::fputs(kUsage, stderr), 2;
  for (const auto& v : g_opt.variants)
    if (std::find(std::begin(kVariants), std::end(kVariants), v) == std::end(kVariants)) {
      std::fprintf(stderr, "unknown variant %s\n%s", v.c_str(), kUsage);
      return 2;
    }
  const std::size_t n = g_opt.n ? g_opt.n : (g_opt.quick ? 2000 : 10000);
  const std::size_t n_seq = g_opt.n_seq ? g_opt.n_seq : n;
  fs::create_directories(g_runs.dir);
  if (is_tmpfs(g_runs.dir))
    std::fprintf(stderr, "warning: %s is on tmpfs; durable figures are meaningless\n",
                 g_runs.dir.c_str());
  std::printf("# bench_rectification n=%zu (%zu steps) n-seq=%zu rounds=%d window=%zu dir=%s%s\n",
              n, kSteps * n, n_seq, g_runs.runs, g_opt.window, g_runs.dir.c_str(),
              g_opt.quick ? " quick" : "");
  std::printf("%-22s %-34s %14s   [min .. max]\n", "variant", "metric", "median");

  // Rounds: each round runs every variant once (a fresh child each), so that the machine's
  // slow and fast spells fall on all variants alike; medians over the rounds.
  struct Variant {
    std::string name;
    std::size_t instances;
    std::function<void(int, Results&)> body;
    std::vector<Results> runs;
  };
  std::vector<Variant> variants = {
      {"file-fsync", n_seq, [n_seq](int run, Results& r) { file_fsync(n_seq, run, r); }, {}},
      {"file-prealloc", n_seq, [n_seq](int run, Results& r) { file_prealloc(n_seq, run, r); }, {}},
      {"sqlite-full",
       n_seq,
       [n_seq](int run, Results& r) { sqlite_full(n_seq, 1, "sqlite-full", run, r); },
       {}},
      {"sqlite-group1000",
       n,
       [n](int run, Results& r) { sqlite_full(n, 1000, "sqlite-group1000", run, r); },
       {}},
      {"durable-seq", n_seq, [n_seq](int run, Results& r) { durable_seq(n_seq, run, r); }, {}},
      {"durable-interleaved",
       n,
       [n](int run, Results& r) { interleaved(n, true, "durable-interleaved", run, r); },
       {}},
      {"nosync-interleaved",
       n,
       [n](int run, Results& r) { interleaved(n, false, "nosync-interleaved", run, r); },
       {}},
      {"idle", n, [n](int run, Results& r) { idle(n, run, r); }, {}},
      {"xstate-sqlite-full",
       n_seq,
       [n_seq](int run, Results& r) { xstate_sqlite_full(n_seq, run, r); },
       {}}};
  std::erase_if(variants, [](const Variant& v) { return !wants(v.name); });
  const int rounds = g_runs.runs;
  g_runs.runs = 1;
  bool failed = false;
  for (int round = 0; round < rounds; ++round)
    for (auto& v : variants) {
      auto one = repeat(v.name + "#" + std::to_string(round + 1), v.body);
      if (one.empty()) failed = true;
      for (auto& r : one) v.runs.push_back(std::move(r));
    }
  std::printf("# medians over %d rounds\n", rounds);
  std::vector<std::pair<std::string, std::vector<Summary>>> done;
  for (auto& v : variants) {
    print_summary(v.name, v.runs);
    done.emplace_back(v.name, summarize(v.runs));
  }

  // One JSON object per variant (medians), then the table and the ratios.
  auto median = [&](const std::string& v, const std::string& m) -> double {
    for (auto& [name, sums] : done)
      if (name == v)
        for (auto& s : sums)
          if (s.name == m) return s.median;
    return -1;
  };
  for (auto& [name, sums] : done) {
    json j = {
        {"variant", name},
        {"instances", name == "file-fsync" || name == "file-prealloc" || name == "sqlite-full" ||
                              name == "durable-seq" || name == "xstate-sqlite-full"
                          ? n_seq
                          : n},
        {"runs", rounds}};
    for (auto& s : sums) j["median"][s.name] = s.median;
    std::printf("%s\n", j.dump().c_str());
  }
  std::printf("\n%-20s %11s %10s %8s %8s %11s %11s %9s %7s\n", "variant", "steps/s", "inst/s",
              "p50 ms", "p99 ms", "disk B/step", "wchar B/st", "cpu us/st", "load");
  for (auto& [name, sums] : done)
    std::printf("%-20s %11.0f %10.0f %8.3f %8.3f %11.0f %11.0f %9.1f %7.2f\n", name.c_str(),
                median(name, "transitions_per_s"), median(name, "instances_per_s"),
                median(name, "step_p50_ms"), median(name, "step_p99_ms"),
                median(name, "disk_write_bytes_per_step"),
                median(name, "write_call_bytes_per_step"), median(name, "cpu_us_per_step"),
                median(name, "loadavg_1m"));
  for (auto& [name, sums] : done)
    if (double b = median(name, "disk_write_bytes_per_step_settled"); b >= 0)
      std::printf(
          "%-20s settled (with the checkpoint after the run): %.0f steps/s, %.0f disk "
          "B/step, checkpoint %.0f ms\n",
          name.c_str(), median(name, "transitions_per_s_settled"), b, median(name, "settle_ms"));
  double seq = median("durable-seq", "transitions_per_s");
  double floor = median("file-fsync", "transitions_per_s");
  double full = median("sqlite-full", "transitions_per_s");
  if (seq > 0 && floor > 0)
    std::printf("durable-seq / file-fsync  = %.3f   (issue 24 target >= 0.8)\n", seq / floor);
  if (seq > 0 && full > 0)
    std::printf("durable-seq / sqlite-full = %.3f   (the C++ stand-in for the peer)\n", seq / full);
  if (double peer = median("xstate-sqlite-full", "transitions_per_s"); seq > 0 && peer > 0)
    std::printf("durable-seq / xstate-sqlite-full = %.3f   (issue 24 target >= 1.2: the peer)\n",
                seq / peer);
  double best = median("file-prealloc", "transitions_per_s");
  if (best > 0 && full > 0)
    std::printf("file-prealloc / sqlite-full = %.3f (the most one flush per step allows)\n",
                best / full);
  std::error_code ec;
  if (!g_runs.keep) fs::remove(g_runs.dir, ec);  // only if empty
  if (failed) std::fprintf(stderr, "bench_rectification: a run failed (see above)\n");
  return failed ? 1 : 0;
}
