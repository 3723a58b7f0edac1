// Crash test: a child process runs a concurrent durable workload on the real clock and is
// killed with SIGKILL at a random moment; the parent then reopens the same data directory
// and checks that no acknowledged step was lost, no step was half applied, every timer
// fired at most once and promptly after the restart, and that retries with the same
// idempotency keys converge. Rounds accumulate in one data directory.
//
// BIHUAN_CRASH_ROUNDS (default 12) sets the number of kills, BIHUAN_CRASH_SEED the seed
// (logged; it fixes the kill delays and the workload's choices, not thread timing), and
// BIHUAN_CRASH_MAP_BYTES the LMDB map size. See docs/testing.md.
#include <gtest/gtest.h>
#include <poll.h>
#include <sys/wait.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <iostream>

#include "crash_checks.hpp"
#include "crash_child.hpp"

using namespace bihuan;
using namespace bihuan::crash;

namespace {

// Rounds that accumulate in one data directory before a long run starts a fresh one.
constexpr int kRoundsPerDirectory = 50;

std::uint64_t env_number(const char* name, std::uint64_t fallback) {
  const char* v = std::getenv(name);
  if (!v || !*v) return fallback;
  return std::strtoull(v, nullptr, 10);
}

using Steady = std::chrono::steady_clock;

// Reads journal lines until `until`; returns false at end of file (every writer gone).
bool pump(int fd, std::string& buffer, Journal& journal, Steady::time_point until) {
  while (true) {
    auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(until - Steady::now()).count();
    if (left <= 0) return true;
    pollfd p{fd, POLLIN, 0};
    int n = ::poll(&p, 1, static_cast<int>(left));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return true;
    char chunk[8192];
    ssize_t got = ::read(fd, chunk, sizeof chunk);
    if (got < 0 && errno == EINTR) continue;
    if (got <= 0) return false;
    buffer.append(chunk, static_cast<std::size_t>(got));
    std::size_t start = 0;
    for (std::size_t nl; (nl = buffer.find('\n', start)) != std::string::npos; start = nl + 1)
      journal.feed(buffer.substr(start, nl - start));
    buffer.erase(0, start);
  }
}

struct ChildRun {
  Journal journal;
  int kill_after_ms = 0;
  bool died_at_point = false;  // the child killed itself at its crash point first
  std::string failure;         // the child did not end by our SIGKILL, or never got ready
};

// Forks the child, lets it work for kill_after_ms after it is ready, kills it, reaps it and
// reads the rest of its journal. The parent holds no engine (and no threads) here.
// The write-ahead log's crash points (storage/crash_point.hpp): odd rounds set one, so the
// child kills itself there (at its n-th pass) unless the parent's kill comes first.
const char* const kPoints[] = {"log-written", "log-synced", "checkpoint-applied",
                               "checkpoint-committed"};

ChildRun run_child_round(const std::string& dir, int round, std::uint64_t seed, int kill_after_ms,
                         const std::string& point) {
  ChildRun run;
  run.kill_after_ms = kill_after_ms;
  int fds[2];
  if (::pipe(fds) != 0) {
    run.failure = "pipe() failed";
    return run;
  }
  std::fflush(nullptr);
  std::cout.flush();
  pid_t pid = ::fork();
  if (pid < 0) {
    run.failure = "fork() failed";
    return run;
  }
  if (pid == 0) {
    ::close(fds[0]);
    if (!point.empty()) ::setenv("BIHUAN_CRASH_POINT", point.c_str(), 1);
    run_child(dir, fds[1], round, seed);  // never returns
  }
  ::close(fds[1]);
  std::string buffer;
  bool open = true;
  auto ready_by = Steady::now() + std::chrono::seconds(20);
  while (open && !run.journal.ready && Steady::now() < ready_by)
    open = pump(fds[0], buffer, run.journal,
                std::min(ready_by, Steady::now() + std::chrono::milliseconds(10)));
  if (run.journal.ready) {
    auto kill_at = Steady::now() + std::chrono::milliseconds(kill_after_ms);
    while (open && Steady::now() < kill_at) open = pump(fds[0], buffer, run.journal, kill_at);
  } else {
    run.failure = "the child never got ready";
  }
  int status = 0;
  run.died_at_point = !point.empty() && ::waitpid(pid, &status, WNOHANG) == pid;
  if (!run.died_at_point) {
    ::kill(pid, SIGKILL);
    while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
  }
  auto drain_by = Steady::now() + std::chrono::seconds(5);
  while (open && Steady::now() < drain_by) open = pump(fds[0], buffer, run.journal, drain_by);
  ::close(fds[0]);
  if (!(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL) && run.failure.empty())
    run.failure = WIFEXITED(status)
                      ? "the child exited with status " + std::to_string(WEXITSTATUS(status))
                      : "the child died of signal " + std::to_string(WTERMSIG(status));
  return run;
}

std::unique_ptr<Engine> open_engine(const std::string& dir) {
  EngineOptions o;
  o.data_dir = dir;
  o.clock = std::make_shared<SystemClock>();
  o.durable = true;
  o.initial_map_bytes = map_bytes();
  Problems p;
  auto engine = Engine::open(o, p);
  EXPECT_TRUE(engine) << (p.items().empty() ? "" : p.items()[0].to_string());
  return engine;
}

std::string first_lines(const std::vector<std::string>& lines, std::size_t n) {
  std::string out;
  for (std::size_t i = 0; i < lines.size() && i < n; ++i) out += "  " + lines[i] + "\n";
  if (lines.size() > n) out += "  ... and " + std::to_string(lines.size() - n) + " more\n";
  return out;
}

}  // namespace

TEST(Crash, KilledWorkloadLosesNothingAndRetriesConverge) {
  const auto rounds = static_cast<int>(env_number("BIHUAN_CRASH_ROUNDS", 12));
  const std::uint64_t seed = env_number("BIHUAN_CRASH_SEED", std::random_device{}());
  std::mt19937_64 rng(seed);
  auto base = std::filesystem::temp_directory_path() /
              ("bihuan-crash-" + std::to_string(seed) + "-" + std::to_string(::getpid()));
  std::cout << "[crash] seed " << seed << ", " << rounds << " rounds, data in " << base.string()
            << "-<n> (repeat with BIHUAN_CRASH_SEED=" << seed << ")" << std::endl;

  std::filesystem::path dir;
  std::set<std::string> all_start_keys;  // of the current data directory
  for (int round = 0; round < rounds; ++round) {
    if (round % kRoundsPerDirectory == 0) {  // checks read everything: keep their cost bounded
      if (!dir.empty()) std::filesystem::remove_all(dir);
      dir = base.string() + "-" + std::to_string(round / kRoundsPerDirectory);
      std::filesystem::remove_all(dir);
      std::filesystem::create_directories(dir);
      all_start_keys.clear();
    }
    int kill_after_ms = 20 + static_cast<int>(rng() % 281);
    std::string point;
    if (round % 2 == 1)
      point = std::string(kPoints[(round / 2) % std::size(kPoints)]) + ":" +
              std::to_string(1 + rng() % 12);
    ChildRun run = run_child_round(dir.string(), round, rng(), kill_after_ms, point);
    ASSERT_TRUE(run.failure.empty())
        << "round " << round << " (seed " << seed << "): " << run.failure << "\n"
        << first_lines(run.journal.failures, 10);
    ASSERT_TRUE(run.journal.failures.empty())
        << "round " << round << " (seed " << seed << "), data kept in " << dir.string()
        << ": the child reported\n"
        << first_lines(run.journal.failures, 10);
    for (const auto& [key, s] : run.journal.starts) all_start_keys.insert(key);

    TimePoint reopened = SystemClock().now();
    auto engine = open_engine(dir.string());
    ASSERT_TRUE(engine);
    std::vector<std::string> problems;
    RoundStats stats;
    RoundChecker checker(*engine, run.journal, problems);
    auto waiting = checker.waiting_instances();
    checker.check_timers_after_restart(waiting, reopened, stats);
    checker.check_acknowledged();
    checker.check_retries(stats);
    checker.check_all_instances(all_start_keys, stats);
    engine->close();
    engine.reset();  // nothing open when the next child is forked

    std::size_t attempted_events = run.journal.events.size();
    std::cout << "[crash] round " << round << ": "
              << (run.died_at_point ? "died at " + point
                                    : "killed after " + std::to_string(kill_after_ms) + " ms")
              << "; acked " << run.journal.acked_starts << "/" << run.journal.starts.size()
              << " starts, " << run.journal.acked_events << "/" << attempted_events << " events; "
              << stats.due_at_reopen << " timers due across the restart, all fired (settled in "
              << stats.timers_settled_ms << " ms); unacked retried: starts "
              << stats.retried_starts_replayed << " replayed + " << stats.retried_starts_new
              << " new, events " << stats.retried_events_replayed << " replayed + "
              << stats.retried_events_new << " new; " << stats.instances << " instances, "
              << stats.ticked << " ticked, " << checker.fired_on_due_ms << " on their due ms"
              << std::endl;
    ASSERT_TRUE(problems.empty()) << "round " << round << " (seed " << seed << "), data kept in "
                                  << dir.string() << ":\n"
                                  << first_lines(problems, 20);
  }
  std::filesystem::remove_all(dir);
}
