// Measurement helpers for bench_engine: percentiles, process memory and CPU readings, a
// closed-loop load generator over the async API, and a runner that repeats a measurement
// in fresh child processes (so RSS of one run is not inherited by the next) and reports
// the median with the spread.
#pragma once

#include <sched.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "bihuan/engine.hpp"

namespace bench {

using SteadyClock = std::chrono::steady_clock;

inline std::int64_t now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(SteadyClock::now().time_since_epoch())
      .count();
}

inline double seconds_since(SteadyClock::time_point t0) {
  return std::chrono::duration<double>(SteadyClock::now() - t0).count();
}

// p in [0, 100]; sorts `v` in place; nearest-rank.
inline double percentile(std::vector<double>& v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  std::size_t rank = static_cast<std::size_t>(p / 100.0 * static_cast<double>(v.size()));
  return v[std::min(rank, v.size() - 1)];
}

// A line of /proc/self/status ("RssAnon", "VmHWM"...) in KiB; -1 if absent.
inline long proc_status_kib(const char* field) {
  std::ifstream in("/proc/self/status");
  std::string line;
  std::size_t n = std::strlen(field);
  while (std::getline(in, line))
    if (line.compare(0, n, field) == 0 && line.size() > n && line[n] == ':')
      return std::atol(line.c_str() + n + 1);
  return -1;
}

inline double rss_anon_mib() { return static_cast<double>(proc_status_kib("RssAnon")) / 1024.0; }
// Resident file-backed pages: mostly the LMDB map (page cache, not the process's own heap).
inline double rss_file_mib() { return static_cast<double>(proc_status_kib("RssFile")) / 1024.0; }

// A field of /proc/self/io ("wchar": bytes passed to write calls, "write_bytes": bytes
// sent to the storage layer); -1 if absent.
inline double proc_io(const char* field) {
  std::ifstream in("/proc/self/io");
  std::string line;
  std::size_t n = std::strlen(field);
  while (std::getline(in, line))
    if (line.compare(0, n, field) == 0 && line.size() > n && line[n] == ':')
      return std::atof(line.c_str() + n + 1);
  return -1;
}

// The 1-minute load average: other work on the machine competes for the same cores.
inline double load_average() {
  std::ifstream in("/proc/loadavg");
  double one = -1;
  in >> one;
  return one;
}

// Milliseconds for a fixed piece of engine-like CPU work (build, dump and parse JSON:
// allocation heavy), timed after each run. This VM's speed drifts by 20-30% within an
// hour; compare a run's figures only with runs of a similar machine_ms.
inline double machine_ms() {
  auto t0 = std::chrono::steady_clock::now();
  std::size_t sink = 0;
  for (int i = 0; i < 2000; ++i) {
    bihuan::json j = bihuan::json::object();
    for (int k = 0; k < 20; ++k)
      j["k" + std::to_string(k)] = {{"n", i * k}, {"s", "business-00042"}, {"a", {1, 2, 3}}};
    sink += bihuan::json::parse(j.dump()).size();
  }
  double ms =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
  return sink ? ms : -1;
}

inline double cpu_sys_seconds(int who) {
  rusage ru{};
  getrusage(who, &ru);
  return static_cast<double>(ru.ru_stime.tv_sec) + static_cast<double>(ru.ru_stime.tv_usec) / 1e6;
}

inline double cpu_seconds(int who) {
  rusage ru{};
  getrusage(who, &ru);
  return static_cast<double>(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
         static_cast<double>(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

inline bool is_tmpfs(const std::string& dir) {
  struct statfs s {};
  if (statfs(dir.c_str(), &s) != 0) return false;
  return static_cast<unsigned long>(s.f_type) == 0x01021994UL;  // TMPFS_MAGIC
}

inline std::uintmax_t file_bytes(const std::filesystem::path& p) {
  std::error_code ec;
  auto n = std::filesystem::file_size(p, ec);
  return ec ? 0 : n;
}

// Bytes the file occupies on disk (allocated blocks): a no-sync store is a sparse file as
// large as the map (MDB_WRITEMAP), so its size says nothing.
inline std::uintmax_t disk_bytes(const std::filesystem::path& p) {
  struct stat st;
  if (::stat(p.c_str(), &st) != 0) return 0;
  return static_cast<std::uintmax_t>(st.st_blocks) * 512u;
}

inline void pin_to_cpu(int cpu) {
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(cpu, &set);
  sched_setaffinity(0, sizeof set, &set);
}

// The figures of one run, in the order they were added.
struct Results {
  std::vector<std::pair<std::string, double>> items;
  void add(const std::string& name, double value) { items.emplace_back(name, value); }
};

// Keeps up to `window` requests in flight. submit(i, done) must start request i and call
// done(ok) exactly once (on any thread). Latencies (submit to completion) in microseconds.
struct ClosedLoop {
  std::size_t window = 128;
  std::vector<double> latency_us;
  std::size_t failures = 0;
  std::string first_failure;
  double seconds = 0;
  // Completion times (s since start) at each tenth of the requests.
  std::vector<double> decile_s;
  std::vector<std::int64_t> t0_;  // submit times (ns)

  template <class Submit>
  void run(std::size_t count, Submit submit) {
    std::vector<std::int64_t>& t0 = t0_;
    t0.assign(count, 0);
    latency_us.assign(count, 0);
    decile_s.assign(10, 0);
    std::atomic<std::int64_t> inflight{0};
    std::atomic<std::size_t> completed{0}, failed{0};
    std::atomic<bool> have_failure{false};
    const std::size_t tenth = std::max<std::size_t>(1, count / 10);
    const std::int64_t start = now_ns();
    for (std::size_t i = 0; i < count; ++i) {
      std::int64_t cur = inflight.load(std::memory_order_acquire);
      while (cur >= static_cast<std::int64_t>(window)) {
        inflight.wait(cur, std::memory_order_acquire);
        cur = inflight.load(std::memory_order_acquire);
      }
      inflight.fetch_add(1, std::memory_order_acq_rel);
      t0[i] = now_ns();
      submit(i, [&, i](bool ok, const std::string& why) {
        std::int64_t t = now_ns();
        latency_us[i] = static_cast<double>(t - t0[i]) / 1e3;
        if (!ok) {
          failed.fetch_add(1);
          if (!have_failure.exchange(true)) first_failure = why;
        }
        std::size_t c = completed.fetch_add(1) + 1;
        if (c % tenth == 0 && c / tenth <= 10)
          decile_s[c / tenth - 1] = static_cast<double>(t - start) / 1e9;
        inflight.fetch_sub(1, std::memory_order_acq_rel);
        inflight.notify_one();
      });
    }
    for (std::int64_t cur = inflight.load(); cur != 0; cur = inflight.load()) inflight.wait(cur);
    seconds = static_cast<double>(now_ns() - start) / 1e9;
    failures = failed.load();
  }

  // Completion callbacks of one group commit run back to back on the writer thread; a gap
  // of more than 200 us between two completions marks a new commit. Counts the commits.
  std::size_t commits_observed() const {
    std::vector<std::int64_t> done(t0_.size());
    for (std::size_t i = 0; i < done.size(); ++i)
      done[i] = t0_[i] + static_cast<std::int64_t>(latency_us[i] * 1e3);
    std::sort(done.begin(), done.end());
    std::size_t commits = done.empty() ? 0 : 1;
    for (std::size_t i = 1; i < done.size(); ++i)
      if (done[i] - done[i - 1] > 200000) ++commits;
    return commits;
  }

  // Adds throughput, latency percentiles, requests per commit, and throughput of the
  // first and last tenth.
  void report(Results& out, const std::string& prefix) {
    std::size_t n = latency_us.size();
    if (std::size_t c = commits_observed())
      out.add(prefix + "steps_per_commit", static_cast<double>(n) / static_cast<double>(c));
    out.add(prefix + "per_s", static_cast<double>(n) / seconds);
    out.add(prefix + "p50_ms", percentile(latency_us, 50) / 1e3);
    out.add(prefix + "p99_ms", percentile(latency_us, 99) / 1e3);
    out.add(prefix + "max_ms", latency_us.empty() ? 0 : latency_us.back() / 1e3);
    if (n >= 10 && decile_s[0] > 0 && decile_s[9] > decile_s[8]) {
      double tenth = static_cast<double>(n / 10);
      out.add(prefix + "first10pct_per_s", tenth / decile_s[0]);
      out.add(prefix + "last10pct_per_s", tenth / (decile_s[9] - decile_s[8]));
    }
    if (failures) out.add(prefix + "failures", static_cast<double>(failures));
  }
};

// Runs body in a fresh child process `runs` times; the child sends its Results through a
// pipe. Returns one Results per successful run. The parent must stay single-threaded.
inline std::vector<Results> run_in_children(int runs,
                                            const std::function<void(int run, Results&)>& body) {
  std::vector<Results> all;
  for (int run = 0; run < runs; ++run) {
    int fds[2];
    if (pipe(fds) != 0) {
      std::perror("pipe");
      continue;
    }
    std::fflush(stdout);
    std::fflush(stderr);
    pid_t pid = fork();
    if (pid == 0) {
      close(fds[0]);
      int code = 0;
      try {
        Results r;
        body(run, r);
        std::string text;
        for (auto& [k, v] : r.items) {
          char buf[64];
          std::snprintf(buf, sizeof buf, "%.9g", v);
          text += k + "\t" + buf + "\n";
        }
        for (std::size_t off = 0; off < text.size();) {
          ssize_t w = write(fds[1], text.data() + off, text.size() - off);
          if (w <= 0) break;
          off += static_cast<std::size_t>(w);
        }
      } catch (const std::exception& e) {
        std::fprintf(stderr, "run %d failed: %s\n", run, e.what());
        code = 1;
      }
      close(fds[1]);
      std::fflush(stdout);
      std::fflush(stderr);
      _exit(code);
    }
    close(fds[1]);
    std::string text;
    char buf[4096];
    for (ssize_t n; (n = read(fds[0], buf, sizeof buf)) > 0;)
      text.append(buf, static_cast<std::size_t>(n));
    close(fds[0]);
    int status = 0;
    waitpid(pid, &status, 0);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
      std::fprintf(stderr, "run %d: child exited abnormally (status %d)\n", run, status);
      continue;
    }
    Results r;
    for (std::size_t pos = 0; pos < text.size();) {
      std::size_t eol = text.find('\n', pos), tab = text.find('\t', pos);
      if (eol == std::string::npos || tab == std::string::npos || tab > eol) break;
      r.add(text.substr(pos, tab - pos), std::atof(text.c_str() + tab + 1));
      pos = eol + 1;
    }
    all.push_back(std::move(r));
  }
  return all;
}

// One metric over several runs: its values sorted, and their median.
struct Summary {
  std::string name;
  std::vector<double> sorted;
  double median = 0;
};

// Every metric of `runs`, in the order first seen.
inline std::vector<Summary> summarize(const std::vector<Results>& runs) {
  std::vector<Summary> out;
  std::map<std::string, std::size_t> index;
  for (const auto& r : runs)
    for (const auto& [k, v] : r.items) {
      auto [it, fresh] = index.emplace(k, out.size());
      if (fresh) out.push_back({k, {}, 0});
      out[it->second].sorted.push_back(v);
    }
  for (auto& m : out) {
    auto& v = m.sorted;
    std::sort(v.begin(), v.end());
    m.median = v.size() % 2 ? v[v.size() / 2] : (v[v.size() / 2 - 1] + v[v.size() / 2]) / 2;
  }
  return out;
}

// Prints "label metric median [min .. max] (n runs)" for every metric.
inline void print_summary(const std::string& label, const std::vector<Results>& runs) {
  for (const auto& m : summarize(runs))
    std::printf("%-22s %-34s %14.4g   [%.4g .. %.4g]  n=%zu\n", label.c_str(), m.name.c_str(),
                m.median, m.sorted.front(), m.sorted.back(), m.sorted.size());
  std::fflush(stdout);
}

// Where and how often each measurement runs (set from a benchmark's command line).
struct RunSettings {
  std::string dir = "/var/tmp/bihuan-bench";  // parent of every run's data directory
  bool keep = false;                          // keep the data directories afterwards
  int runs = 3;                               // child processes per measurement
};
inline RunSettings g_runs;

inline std::string run_dir(const std::string& label, int run) {
  return g_runs.dir + "/" + label + "-" + std::to_string(run);
}

inline void clean(const std::string& dir) {
  if (g_runs.keep) return;
  std::error_code ec;
  std::filesystem::remove_all(dir, ec);
  std::filesystem::remove_all(dir + "-backup", ec);
}

// Removes a run's data directory when the run ends, also when it fails.
struct DirGuard {
  std::string dir;
  ~DirGuard() { clean(dir); }
};

// Runs body in g_runs.runs fresh child processes, adds the load average and machine_ms to
// each run's figures and prints the summary. Returns the runs' figures.
inline std::vector<Results> repeat(const std::string& label,
                                   const std::function<void(int, Results&)>& body) {
  std::printf("# %s ...\n", label.c_str());
  std::fflush(stdout);
  auto all = run_in_children(g_runs.runs, [&](int run, Results& r) {
    body(run, r);
    r.add("loadavg_1m", load_average());
    r.add("machine_ms", machine_ms());
  });
  print_summary(label, all);
  return all;
}

}  // namespace bench
