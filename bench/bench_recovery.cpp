// Recovery after SIGKILL with a full write-ahead log (issue 24: ready in <= 1 s for
// 100 MB of log). A child process opens a data directory, appends frames of
// instance-like writes (one record put, one history append and two index puts a frame,
// about 2 KB) until the log holds --mib MiB, never checkpointing, and kills itself; the
// parent then times Env::open, which applies the log to LMDB in one transaction.
//
//   ./build/bench/bench_recovery [--mib 100] [--runs 3] [--dir DIR]
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

void fill(const std::string& dir, std::uint64_t bytes) {
  std::string error;
  auto env = Env::open(dir, std::size_t{1} << 30, false, &error);
  if (!env) {
    std::fprintf(stderr, "open: %s\n", error.c_str());
    _exit(2);
  }
  std::string record(1400, 'r'), entry(500, 'h');
  std::uint64_t id = 0;
  while (env->log_bytes() < bytes) {
    int rc = 0;
    auto log = env->log_begin(&rc);
    if (!log) _exit(3);
    ++id;
    std::string inst = be64(id % 20000), hist = be64(id),
                sidx = std::string("def\0OPEN\0", 9) + be64(id % 20000),
                bkey = "key-" + std::to_string(id % 20000);
    std::memcpy(record.data(), &id, sizeof id);
    rc = log->append(4, [&](std::size_t i) {
      switch (i) {
        case 0:
          return OpRef{Db::inst, true, inst, record};
        case 1:
          return OpRef{Db::hist, true, hist, entry};
        case 2:
          return OpRef{Db::sidx, true, sidx, ""};
        default:
          return OpRef{Db::bkey, true, bkey, inst};
      }
    });
    if (rc) _exit(4);
  }
  std::printf("  log %.1f MiB, %llu frames\n", env->log_bytes() / 1048576.0,
              static_cast<unsigned long long>(id));
  std::fflush(stdout);
  ::raise(SIGKILL);
}

}  // namespace

int main(int argc, char** argv) {
  std::uint64_t mib = 100;
  int runs = 3;
  std::string base = "/var/tmp/bihuan-bench-recovery";
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string a = argv[i];
    if (a == "--mib") mib = std::strtoull(argv[i + 1], nullptr, 10);
    if (a == "--runs") runs = std::atoi(argv[i + 1]);
    if (a == "--dir") base = argv[i + 1];
  }
  std::vector<double> ms;
  for (int run = 0; run < runs; ++run) {
    std::string dir = base + "-" + std::to_string(run);
    std::filesystem::remove_all(dir);
    std::filesystem::create_directories(dir);
    std::fflush(stdout);
    pid_t pid = ::fork();
    if (pid == 0) {
      fill(dir, mib << 20);
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
  std::printf("median recovery of %llu MiB of log: %.0f ms\n", static_cast<unsigned long long>(mib),
              ms[ms.size() / 2]);
  return 0;
}
