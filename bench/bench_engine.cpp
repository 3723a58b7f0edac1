// Throughput, latency, CPU, memory and timer figures of the durable engine (issue targets
// in docs/PERFORMANCE.md, which also records the figures and the exact commands).
//
//   ./build/bench/bench_engine --scenario
//   disk|starts|events|events-local|latency|nosync|cpu|idle|timers|inbox|all
//                              [--n 100000[,1000000...]] [--quick] [--runs 3] [--window 256]
//                              [--dir /var/tmp/bihuan-bench] [--keep] [--map-mib 16384]
//
// Every run happens in a fresh child process on a fresh data directory (removed afterwards
// unless --keep); the summary prints the median of the runs and their range.
#include <random>
#include <thread>

#include "engine_bench_setup.hpp"

namespace {

using namespace bench;
namespace fs = std::filesystem;

struct Options {
  std::string scenario = "all";
  std::vector<std::size_t> n;  // empty: the scenario's default
  bool quick = false;
  std::size_t window = 256;
};

Options g_opt;

std::size_t first_n(std::size_t full, std::size_t quick) {
  return g_opt.n.empty() ? (g_opt.quick ? quick : full) : g_opt.n.front();
}
std::size_t pick(std::size_t full, std::size_t quick) { return g_opt.quick ? quick : full; }

void check(const ClosedLoop& loop, const char* what) {
  if (loop.failures)
    throw std::runtime_error(std::string(what) + ": " + std::to_string(loop.failures) +
                             " requests failed, first: " + loop.first_failure);
}

void add_store_figures(Results& out, const std::string& dir, std::size_t instances) {
  out.add(
      "data_mdb_bytes_per_instance",
      static_cast<double>(disk_bytes(fs::path(dir) / "data.mdb")) / static_cast<double>(instances));
}

// The storage floor: fdatasync latency of the data directory's disk, for an in-place 4 KiB
// write, and for LMDB's commit pattern (append pages, fdatasync, write the meta page,
// fdatasync again).
void disk(int run, Results& out) {
  std::string path = run_dir("disk", run) + ".probe";
  int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_TRUNC, 0644);
  if (fd < 0) throw std::runtime_error("cannot create " + path);
  std::vector<char> page(16 * 4096, 'x');
  const int reps = g_opt.quick ? 50 : 300;
  std::vector<double> inplace, commit;
  for (int i = 0; i < reps; ++i) {
    auto t0 = SteadyClock::now();
    if (pwrite(fd, page.data(), 4096, 0) != 4096 || fdatasync(fd) != 0)
      throw std::runtime_error("probe write failed");
    inplace.push_back(std::chrono::duration<double, std::milli>(SteadyClock::now() - t0).count());
  }
  for (int i = 0; i < reps; ++i) {
    auto t0 = SteadyClock::now();
    off_t at = static_cast<off_t>(page.size()) * (i + 1);
    if (pwrite(fd, page.data(), page.size(), at) != static_cast<ssize_t>(page.size()) ||
        fdatasync(fd) != 0 || pwrite(fd, page.data(), 4096, 0) != 4096 || fdatasync(fd) != 0)
      throw std::runtime_error("probe write failed");
    commit.push_back(std::chrono::duration<double, std::milli>(SteadyClock::now() - t0).count());
  }
  ::close(fd);
  std::filesystem::remove(path);
  out.add("fdatasync_inplace_p50_ms", percentile(inplace, 50));
  out.add("fdatasync_inplace_p99_ms", percentile(inplace, 99));
  out.add("lmdb_like_commit_p50_ms", percentile(commit, 50));
  out.add("lmdb_like_commit_p99_ms", percentile(commit, 99));
}

// a) durable starts, many in flight.
void starts(std::size_t n, int run, Results& out) {
  std::string dir = run_dir("starts-" + std::to_string(n), run);
  DirGuard guard{dir};
  auto opened = open_engine(dir, true);
  ClosedLoop loop;
  loop.window = g_opt.window;
  double cpu0 = cpu_seconds(RUSAGE_SELF);
  loop.run(n, [&](std::size_t i, auto done) { start_task(*opened.engine, i, done); });
  double cpu = cpu_seconds(RUSAGE_SELF) - cpu0;
  check(loop, "starts");
  loop.report(out, "starts_");
  out.add("cpu_us_per_start", cpu / static_cast<double>(n) * 1e6);
  out.add("cores_used", cpu / loop.seconds);
  out.add("rss_anon_mib", rss_anon_mib());
  out.add("rss_file_mib", rss_file_mib());
  opened.engine->close();
  add_store_figures(out, dir, n);
}

// b) durable events on n existing instances; `hot` = 0 for uniform, else the newest `hot`.
void events(std::size_t n, std::size_t hot, int run, Results& out) {
  std::string dir = run_dir(hot ? "events-local" : "events", run);
  DirGuard guard{dir};
  auto ids = create_population(dir, n);
  auto opened = open_engine(dir, true);
  std::size_t count = pick(200000, 5000);
  std::mt19937_64 rng(42 + static_cast<unsigned>(run));
  std::size_t lo = hot ? n - std::min(hot, n) : 0;
  std::uniform_int_distribution<std::size_t> which(lo, n - 1);
  ClosedLoop loop;
  loop.window = g_opt.window;
  double cpu0 = cpu_seconds(RUSAGE_SELF), sys0 = cpu_sys_seconds(RUSAGE_SELF);
  double wchar0 = proc_io("wchar"), written0 = proc_io("write_bytes");
  loop.run(count, [&](std::size_t, auto done) { touch(*opened.engine, ids[which(rng)], done); });
  double cpu = cpu_seconds(RUSAGE_SELF) - cpu0, sys = cpu_sys_seconds(RUSAGE_SELF) - sys0;
  check(loop, "events");
  loop.report(out, "events_");
  auto c = static_cast<double>(count);
  out.add("cpu_us_per_event", cpu / c * 1e6);
  out.add("cpu_us_kernel_per_event", sys / c * 1e6);
  out.add("write_call_bytes_per_event", (proc_io("wchar") - wchar0) / c);
  if (written0 >= 0) out.add("disk_write_bytes_per_event", (proc_io("write_bytes") - written0) / c);
  out.add("cores_used", cpu / loop.seconds);
  out.add("rss_anon_mib", rss_anon_mib());
  opened.engine->close();
}

// c) one synchronous step at a time, paced at 1,000 steps/s.
void latency(int run, Results& out) {
  std::string dir = run_dir("latency", run);
  DirGuard guard{dir};
  std::size_t n = pick(10000, 1000), count = pick(2000, 300);
  auto ids = create_population(dir, n);
  auto opened = open_engine(dir, true);
  Engine& e = *opened.engine;
  std::mt19937_64 rng(7 + static_cast<unsigned>(run));
  std::uniform_int_distribution<std::size_t> which(0, n - 1);
  for (int kind = 0; kind < 2; ++kind) {
    std::vector<double> lat;
    lat.reserve(count);
    auto t_start = SteadyClock::now();
    for (std::size_t i = 0; i < count; ++i) {
      std::this_thread::sleep_until(t_start + std::chrono::milliseconds(i));
      auto t0 = SteadyClock::now();
      bihuan::StepResult r;
      if (kind == 0) {
        bihuan::EventRequest req;
        req.instance_id = ids[which(rng)];
        req.event = "touch";
        req.actor = bihuan::Actor::system();
        r = e.send(req);
      } else {
        bihuan::StartRequest req;
        req.definition = "bench.task";
        req.data = {{"n", 0}, {"name", business_name(i)}};
        r = e.start(req);
      }
      lat.push_back(std::chrono::duration<double, std::micro>(SteadyClock::now() - t0).count());
      if (!r.ok()) throw std::runtime_error("paced step failed: " + r.message);
    }
    double secs = seconds_since(t_start);
    std::string p = kind == 0 ? "event_" : "start_";
    out.add(p + "rate_per_s", static_cast<double>(count) / secs);
    out.add(p + "p50_ms", percentile(lat, 50) / 1e3);
    out.add(p + "p99_ms", percentile(lat, 99) / 1e3);
    out.add(p + "max_ms", lat.back() / 1e3);
  }
  e.close();
}

// d) and e) starts then uniform events, durable or not; optionally pinned to one core.
// Reports throughput and CPU per step: the whole process, and the engine's share (the
// process minus the submitting thread).
void steps(bool durable, bool one_core, std::size_t count, const std::string& label, int run,
           Results& out) {
  if (one_core) pin_to_cpu(0);
  std::string dir = run_dir(label, run);
  DirGuard guard{dir};
  auto opened = open_engine(dir, durable);
  std::vector<std::string> ids(count);
  for (int kind = 0; kind < 2; ++kind) {
    ClosedLoop loop;
    loop.window = durable ? g_opt.window : 256;
    std::mt19937_64 rng(11 + static_cast<unsigned>(run));
    std::uniform_int_distribution<std::size_t> which(0, count - 1);
    double cpu0 = cpu_seconds(RUSAGE_SELF), self0 = cpu_seconds(RUSAGE_THREAD),
           sys0 = cpu_sys_seconds(RUSAGE_SELF);
    double wchar0 = proc_io("wchar"), written0 = proc_io("write_bytes");
    if (kind == 0)
      loop.run(count, [&](std::size_t i, auto done) { start_task(*opened.engine, i, done, &ids); });
    else
      loop.run(count,
               [&](std::size_t, auto done) { touch(*opened.engine, ids[which(rng)], done); });
    double cpu = cpu_seconds(RUSAGE_SELF) - cpu0, self = cpu_seconds(RUSAGE_THREAD) - self0;
    double sys = cpu_sys_seconds(RUSAGE_SELF) - sys0;
    check(loop, label.c_str());
    std::string p = kind == 0 ? "start_" : "event_";
    auto c = static_cast<double>(count);
    out.add(p + "per_s", c / loop.seconds);
    out.add(p + "cpu_us_process", cpu / c * 1e6);
    out.add(p + "cpu_us_engine", (cpu - self) / c * 1e6);
    out.add(p + "cpu_us_kernel", sys / c * 1e6);
    out.add(p + "cores_used", cpu / loop.seconds);
    out.add(p + "write_call_bytes", (proc_io("wchar") - wchar0) / c);
    if (written0 >= 0) out.add(p + "disk_write_bytes", (proc_io("write_bytes") - written0) / c);
  }
  opened.engine->close();
}

// f) n idle instances with a pending timer: creation (no-sync), memory, bytes on disk.
void idle_create(std::size_t n, const std::string& dir, Results& out) {
  auto opened = open_engine(dir, false);
  ClosedLoop loop;
  loop.window = 256;
  loop.run(n, [&](std::size_t i, auto done) { start_task(*opened.engine, i, done); });
  check(loop, "idle create");
  out.add("create_nosync_per_s", static_cast<double>(n) / loop.seconds);
  out.add("rss_anon_mib_after_create", rss_anon_mib());
  out.add("rss_file_mib_after_create", rss_file_mib());
  out.add("pending_timers", static_cast<double>(opened.engine->pending_timers()));
  std::string error;
  if (!opened.engine->backup(dir + "-backup", &error)) throw std::runtime_error(error);
  opened.engine->close();
  out.add("rss_anon_mib_after_close", rss_anon_mib());
  add_store_figures(out, dir, n);
  out.add("backup_bytes_per_instance",
          static_cast<double>(file_bytes(fs::path(dir + "-backup") / "data.mdb")) /
              static_cast<double>(n));
}

// f) restart: Engine::open in durable mode in a fresh process, then the first step.
void idle_reopen(const std::string& dir, bool cold, Results& out) {
  std::string p = cold ? "cold_" : "warm_";
  out.add(p + "rss_anon_mib_before_open", rss_anon_mib());
  if (cold) evict_from_page_cache(dir + "/data.mdb");
  auto opened = open_engine(dir, true);  // open_seconds excludes the (no-op) deploys
  out.add(p + "open_ms", opened.open_seconds * 1e3);
  auto t0 = SteadyClock::now();
  bihuan::StartRequest req;
  req.definition = "bench.task";
  req.data = {{"n", 0}, {"name", "after-restart"}};
  auto r = opened.engine->start(req);
  if (!r.ok()) throw std::runtime_error("first step after reopen failed: " + r.message);
  out.add(p + "first_step_ms", seconds_since(t0) * 1e3);
  out.add(p + "pending_timers", static_cast<double>(opened.engine->pending_timers()));
  out.add(p + "rss_anon_mib_after_open", rss_anon_mib());
  out.add(p + "rss_file_mib_after_open", rss_file_mib());
  opened.engine->close();
}

void idle(std::size_t n) {
  std::printf("# idle-%zu ...\n", n);
  std::fflush(stdout);
  std::vector<Results> all;
  int runs = g_runs.runs;
  for (int run = 0; run < runs; ++run) {
    std::string dir = run_dir("idle-" + std::to_string(n), run);
    DirGuard guard{dir};
    Results merged;
    for (int phase = 0; phase < 3; ++phase) {
      auto r = run_in_children(1, [&](int, Results& out) {
        if (phase == 0)
          idle_create(n, dir, out);
        else
          idle_reopen(dir, phase == 1, out);
      });
      if (r.empty()) break;
      for (auto& item : r[0].items) merged.items.push_back(item);
    }
    all.push_back(std::move(merged));
  }
  print_summary("idle-" + std::to_string(n), all);
}

// g) timers on the virtual clock: `m` due timers fired by one advance_to(). `spread_ms`:
// instance i is started at T0 + i*spread_ms, so its timer is due 30 days later.
void timers_virtual(std::size_t m, int spread_ms, const std::string& prefix, int run,
                    Results& out) {
  std::string dir = run_dir("timers-" + prefix, run);
  DirGuard guard{dir};
  const auto t0 = *bihuan::parse_time("2024-01-01T00:00:00Z");
  {
    auto clock = std::make_shared<bihuan::VirtualClock>(t0);
    if (spread_ms == 0) {
      create_population(dir, m, clock);
    } else {
      auto opened = open_engine(dir, false, clock);
      for (std::size_t i = 0; i < m; ++i) {
        bihuan::StartRequest req;
        req.definition = "bench.task";
        req.data = {{"n", 0}, {"name", business_name(i)}};
        if (!opened.engine->start(req).ok())
          throw std::runtime_error("timer population start failed");
        clock->advance(bihuan::Millis(spread_ms));
      }
      opened.engine->close();
    }
  }
  auto clock = std::make_shared<bihuan::VirtualClock>(t0);
  auto opened = open_engine(dir, true, clock);
  auto w0 = SteadyClock::now();
  std::size_t fired = opened.engine->advance_to(
      t0 + std::chrono::hours(24 * 31) + bihuan::Millis(static_cast<std::int64_t>(m) * spread_ms));
  double secs = seconds_since(w0);
  if (fired != m)
    throw std::runtime_error("fired " + std::to_string(fired) + " of " + std::to_string(m) +
                             " timers");
  out.add(prefix + "fired_per_s", static_cast<double>(m) / secs);
  out.add(prefix + "wall_ms", secs * 1e3);
  opened.engine->close();
}

// g) a burst of m timers on the real clock, all due at the same ms (spread_ms = 0) or
// spread evenly over spread_ms. A poller samples pending_timers() (committed state) every
// ~100 us; the k-th timer in due order has fired once the count drops to m-1-k.
// Lateness = that sample's wall time - the timer's due time.
void timers_real(std::size_t m, int spread_ms, const std::string& prefix, int run, Results& out) {
  std::string dir = run_dir("timers-" + prefix, run);
  DirGuard guard{dir};
  auto opened = open_engine(dir, true);
  Engine& e = *opened.engine;
  using Sys = std::chrono::system_clock;
  auto wall_ms = [] {
    return std::chrono::duration_cast<std::chrono::milliseconds>(Sys::now().time_since_epoch())
        .count();
  };
  const std::int64_t lead_ms = 2000 + static_cast<std::int64_t>(m) / 5;  // time to create them
  const std::int64_t first_due = wall_ms() + lead_ms;
  std::vector<std::int64_t> due(m);
  for (std::size_t i = 0; i < m; ++i)
    due[i] =
        first_due +
        (spread_ms ? static_cast<std::int64_t>(i) * spread_ms / static_cast<std::int64_t>(m) : 0);
  ClosedLoop loop;
  loop.window = g_opt.window;
  auto utc = bihuan::TimeZone::utc();
  loop.run(m, [&](std::size_t i, auto done) {
    bihuan::StartRequest r;
    r.definition = "bench.at";
    r.data = {{"due", bihuan::format_time(bihuan::TimePoint(bihuan::Millis(due[i])), *utc)}};
    e.start_async(std::move(r), [done](bihuan::StepResult res) { done(res.ok(), res.message); });
  });
  check(loop, "timer burst set-up");
  out.add(prefix + "setup_slack_ms", static_cast<double>(first_due - wall_ms()));  // must be > 0
  std::vector<std::pair<double, std::size_t>> samples;  // (wall ms, pending)
  std::size_t last = m + 1;
  const auto deadline = Sys::now() + std::chrono::milliseconds(lead_ms + spread_ms + 60000);
  while (Sys::now() < deadline) {
    std::size_t p = e.pending_timers();
    double t = std::chrono::duration<double, std::milli>(Sys::now().time_since_epoch()).count();
    if (p != last) samples.emplace_back(t, p), last = p;
    if (p == 0) break;
    std::this_thread::sleep_for(std::chrono::microseconds(100));
  }
  if (last != 0)
    throw std::runtime_error("timer burst: " + std::to_string(last) + " timers did not fire");
  std::sort(due.begin(), due.end());
  std::vector<double> late(m);
  std::size_t s = 0;
  for (std::size_t k = 0; k < m; ++k) {
    while (samples[s].second > m - 1 - k) ++s;
    late[k] = samples[s].first - static_cast<double>(due[k]);
  }
  double span = samples.back().first - static_cast<double>(due.front());
  out.add(prefix + "commits_seen", static_cast<double>(samples.size() - 1));
  out.add(prefix + "burst_wall_ms", span);
  out.add(prefix + "fired_per_s", static_cast<double>(m) / (span / 1e3));
  out.add(prefix + "late_p50_ms", percentile(late, 50));
  out.add(prefix + "late_p99_ms", percentile(late, 99));
  out.add(prefix + "late_max_ms", late.back());
  e.close();
}

void timers(int run, Results& out) {
  timers_virtual(first_n(100000, 10000), 0, "virtual_same_ms_", run, out);
  timers_virtual(pick(2000, 300), 1, "virtual_1ms_apart_", run, out);
  timers_virtual(pick(10000, 2000), 0, "virtual_burst10k_", run, out);
  timers_real(pick(10000, 2000), 0, "real_burst_same_ms_", run, out);
  timers_real(pick(10000, 2000), 1000, "real_burst_in_1s_", run, out);
}

// h) a person's task inbox over n instances waiting on people: each is assigned to one of
// 430 cadres by its data (an `actors` expression), as the food-safety scheme assigns
// businesses. Times Engine::inbox for one cadre (median of 21 calls) and counts its items.
void inbox(std::size_t n, int run, Results& out) {
  std::string dir = run_dir("inbox-" + std::to_string(n), run);
  DirGuard guard{dir};
  auto opened = open_engine(dir, false);
  auto& e = *opened.engine;
  auto deployed =
      e.deploy(json::parse(R"({"id":"bench.inspect","version":1,"initial":"DUE","states":{
    "DUE":{"deadline":{"after":"P30D"},
           "on":{"report":{"roles":["CADRE"],"actors":{"var":"data.cadre"},"target":"DONE"},
                 "waive":{"roles":["OFFICE"],"target":"DONE"}}},
    "DONE":{"type":"final","outcome":"done"}}})"),
               "bench");
  if (!deployed.ok) throw std::runtime_error("deploy bench.inspect failed");
  ClosedLoop loop;
  loop.window = 256;
  loop.run(n, [&](std::size_t i, auto done) {
    bihuan::StartRequest r;
    r.definition = "bench.inspect";
    r.data = {{"cadre", "cadre-" + std::to_string(i % 430)},
              {"name", business_name(i)},
              {"grade", "ABCD"[i % 4]}};
    e.start_async(std::move(r), [done](bihuan::StepResult res) { done(res.ok(), res.message); });
  });
  check(loop, "inbox population");
  auto measure = [&](const std::string& name, const bihuan::Actor& who, int calls) {
    std::vector<double> ms;
    std::size_t items = 0;
    for (int call = 0; call < calls; ++call) {
      auto t0 = SteadyClock::now();
      items = e.inbox(who, 100).size();
      ms.push_back(seconds_since(t0) * 1e3);
    }
    out.add(name + "_inbox_p50_ms", percentile(ms, 50));
    out.add(name + "_inbox_items", static_cast<double>(items));
  };
  measure("cadre", {"cadre-7", {"CADRE"}}, 21);
  measure("office", {"office-1", {"OFFICE"}}, 5);
  e.close();
}

std::vector<std::size_t> parse_list(std::string v) {
  std::vector<std::size_t> out;
  while (!v.empty()) {
    auto comma = v.find(',');
    out.push_back(std::stoul(v.substr(0, comma)));
    v = comma == std::string::npos ? "" : v.substr(comma + 1);
  }
  return out;
}

bool wants(const std::string& s) { return g_opt.scenario == s || g_opt.scenario == "all"; }

int usage() {
  std::fprintf(
      stderr,
      "usage: bench_engine --scenario "
      "disk|starts|events|events-local|latency|nosync|cpu|idle|timers|inbox|all\n"
      "                    [--n N[,N...]] [--quick] [--runs R] [--window W] [--dir DIR] [--keep]\n"
      "                    [--map-mib M]  (initial LMDB map; 0 = engine default)\n"
      "                    [--no-pipeline]  (durable: execute and commit one batch at a time)\n");
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  bool parsed = parse_command_line(
      argc, argv, g_opt.quick, [](const std::string& a, const std::function<std::string()>& value) {
        if (a == "--scenario")
          g_opt.scenario = value();
        else if (a == "--n")
          g_opt.n = parse_list(value());
        else if (a == "--window")
          g_opt.window = std::stoul(value());
        else if (a == "--no-pipeline")
          bench::g_pipeline = false;
        else
          return false;
        return true;
      });
  if (!parsed) return usage();
  static const char* known[] = {"disk", "starts", "events", "events-local", "latency", "nosync",
                                "cpu",  "idle",   "timers", "inbox",        "all"};
  if (std::find(std::begin(known), std::end(known), g_opt.scenario) == std::end(known))
    return usage();
  fs::create_directories(g_runs.dir);
  if (is_tmpfs(g_runs.dir))
    std::fprintf(
        stderr,
        "warning: %s is on tmpfs; fsync costs nothing there and durable figures are meaningless\n",
        g_runs.dir.c_str());
  std::printf("# bench_engine scenario=%s runs=%d window=%zu map=%zuMiB dir=%s%s%s\n",
              g_opt.scenario.c_str(), g_runs.runs, g_opt.window, bench::g_map_bytes >> 20,
              g_runs.dir.c_str(), g_opt.quick ? " quick" : "",
              bench::g_pipeline ? "" : " no-pipeline");
  std::printf("%-22s %-34s %14s   [min .. max]\n", "scenario", "metric", "median");

  if (wants("disk")) repeat("disk", [](int run, Results& r) { disk(run, r); });
  if (wants("starts")) {
    std::vector<std::size_t> sizes = g_opt.n;
    if (sizes.empty())
      sizes = g_opt.quick ? std::vector<std::size_t>{5000}
                          : std::vector<std::size_t>{10000, 100000, 1000000};
    for (std::size_t n : sizes)
      repeat("starts-" + std::to_string(n), [n](int run, Results& r) { starts(n, run, r); });
  }
  if (wants("events")) {
    std::size_t n = first_n(100000, 5000);
    repeat("events-" + std::to_string(n), [n](int run, Results& r) { events(n, 0, run, r); });
  }
  if (wants("events-local")) {
    std::size_t n = first_n(100000, 5000), hot = g_opt.quick ? 1000 : 10000;
    repeat("events-" + std::to_string(n) + "-newest" + std::to_string(hot),
           [n, hot](int run, Results& r) { events(n, hot, run, r); });
  }
  if (wants("latency")) repeat("latency-1000/s", [](int run, Results& r) { latency(run, r); });
  if (wants("nosync")) {
    std::size_t n = first_n(300000, 10000);
    repeat("nosync-1core",
           [n](int run, Results& r) { steps(false, true, n, "nosync-1core", run, r); });
    repeat("nosync-2cores",
           [n](int run, Results& r) { steps(false, false, n, "nosync-2cores", run, r); });
  }
  if (wants("cpu")) {
    std::size_t n = first_n(100000, 5000);
    repeat("cpu-durable",
           [n](int run, Results& r) { steps(true, false, n, "cpu-durable", run, r); });
  }
  if (wants("idle")) idle(first_n(1000000, 20000));
  if (wants("timers")) repeat("timers", [](int run, Results& r) { timers(run, r); });
  if (wants("inbox")) {
    std::vector<std::size_t> sizes = g_opt.n;
    if (sizes.empty())
      sizes = g_opt.quick ? std::vector<std::size_t>{2400}
                          : std::vector<std::size_t>{2400, 10000, 100000};
    for (std::size_t n : sizes)
      repeat("inbox-" + std::to_string(n), [n](int run, Results& r) { inbox(n, run, r); });
  }
  std::error_code ec;
  if (!g_runs.keep) fs::remove(g_runs.dir, ec);  // only if empty
  return 0;
}
