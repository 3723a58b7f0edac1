// Recovery after SIGKILL with a full write-ahead log (issue 24: ready in <= 1 s for
// 100 MB of log). A child process opens a data directory, appends frames of
// instance-like writes (one record put, one history append and two index puts a frame,
// about 2 KB) until the log holds --mib MiB, never checkpointing, and kills itself; the
// parent then times Env::open, which applies the log to LMDB in one transaction.
// --group K puts K such steps in each frame (a group commit, as under load): frames of
// 4 KiB or more are stored compressed, so the log's MiB hold more writes; --content then
// fills until the frames hold --mib MiB of keys and values (what the engine's checkpoint
// trigger counts) instead of --mib MiB of log file.
//
//   ./build/bench/bench_recovery [--mib 100] [--runs 3] [--dir DIR] [--group K] [--content]
// Prints one line per run and the median (docs/PERFORMANCE.md).
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <string>
#include <vector>

#include "storage/lmdb_env.hpp"

using namespace bihuan::storage;

namespace {

void fill(const std::string& dir, std::uint64_t bytes, std::size_t group, bool content) {
  std::string error;
  auto env = Env::open(dir, std::size_t{1} << 30, false, &error);
  if (!env) {
    std::fprintf(stderr, "open: %s\n", error.c_str());
    _exit(2);
  }
  std::uint64_t id = 0, frames = 0;
  struct Step {
    std::string inst, hist, sidx, bkey, record, entry;
  };
  std::vector<Step> steps(group);
  // Records of varied text (a record's data differs from step to step, as real ones do).
  auto text = [&](std::size_t n, std::uint64_t seed) {
    static const char* words[] = {"rectifying", "closed",   "inspector", "cadre",      "note",
                                  "updatedAt",  "deadline", "evidence",  "2026-12-07", "P000"};
    std::string s;
    std::uint64_t x = seed * 0x9e3779b97f4a7c15ull + 1;
    while (s.size() < n) {
      x ^= x << 13, x ^= x >> 7, x ^= x << 17;
      s += words[x % 10];
      s += std::to_string(x % 1000);
    }
    s.resize(n);
    return s;
  };
  while ((content ? env->log_content_bytes() : env->log_bytes()) < bytes) {
    int rc = 0;
    auto log = env->log_begin(&rc);
    if (!log) _exit(3);
    for (Step& s : steps) {
      ++id;
      s.inst = be64(id % 20000), s.hist = be64(id),
      s.sidx = std::string("def\0OPEN\0", 9) + be64(id % 20000),
      s.bkey = "key-" + std::to_string(id % 20000);
      s.record = text(1400, id);
      s.entry = text(500, ~id);
    }
    ++frames;
    rc = log->append(4 * group, [&](std::size_t i) {
      const Step& s = steps[i / 4];
      switch (i % 4) {
        case 0:
          return OpRef{Db::inst, true, s.inst, s.record};
        case 1:
          return OpRef{Db::hist, true, s.hist, s.entry};
        case 2:
          return OpRef{Db::sidx, true, s.sidx, ""};
        default:
          return OpRef{Db::bkey, true, s.bkey, s.inst};
      }
    });
    if (rc) _exit(4);
  }
  std::printf("  log %.1f MiB holding %.1f MiB of keys and values, %llu frames of %zu steps\n",
              env->log_bytes() / 1048576.0, env->log_content_bytes() / 1048576.0,
              static_cast<unsigned long long>(frames), group);
  std::fflush(stdout);
  ::raise(SIGKILL);
}

}  // namespace

int main(int argc, char** argv) {
  std::uint64_t mib = 100;
  int runs = 3;
  std::string base = "/var/tmp/bihuan-bench-recovery";
  std::size_t group = 1;
  bool content = false;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--content") {
      content = true;
      continue;
    }
    if (i + 1 >= argc) break;
    if (a == "--mib") mib = std::strtoull(argv[i + 1], nullptr, 10);
    if (a == "--runs") runs = std::atoi(argv[i + 1]);
    if (a == "--dir") base = argv[i + 1];
    if (a == "--group") group = std::max<std::size_t>(1, std::strtoull(argv[i + 1], nullptr, 10));
    ++i;
  }
  std::vector<double> ms;
  for (int run = 0; run < runs; ++run) {
    std::string dir = base + "-" + std::to_string(run);
    std::filesystem::remove_all(dir);
    std::filesystem::create_directories(dir);
    std::fflush(stdout);
    pid_t pid = ::fork();
    if (pid == 0) {
      fill(dir, mib << 20, group, content);
    }
    int status = 0;
    ::waitpid(pid, &status, 0);
    if (!WIFSIGNALED(status)) {
      std::fprintf(stderr, "the child did not die by SIGKILL\n");
      return 1;
    }
    auto t0 = std::chrono::steady_clock::now();
    std::string error;
    auto env = Env::open(dir, std::size_t{1} << 30, false, &error);
    auto t1 = std::chrono::steady_clock::now();
    if (!env) {
      std::fprintf(stderr, "recovery failed: %s\n", error.c_str());
      return 1;
    }
    double took = std::chrono::duration<double, std::milli>(t1 - t0).count();
    ms.push_back(took);
    std::printf("run %d: recovered in %.0f ms (log left: %llu bytes)\n", run, took,
                static_cast<unsigned long long>(env->log_bytes()));
    env.reset();
    std::filesystem::remove_all(dir);
  }
  std::sort(ms.begin(), ms.end());
  std::printf("median recovery of %llu MiB of %s: %.0f ms\n", static_cast<unsigned long long>(mib),
              content ? "keys and values" : "log", ms[ms.size() / 2]);
  return 0;
}
