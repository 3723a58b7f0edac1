// Retention benchmark (docs/PERFORMANCE.md, "Retention"): the archiving rate (instances/s)
// while steps run at a fixed rate, those steps' p99 during it against without it, and the
// bytes per archived instance in the archive against the live store (a compacted copy).
//   bench_retention [finished instances, default 20000] [steps per second, default 5000]
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <mutex>
#include <random>
#include <thread>

#include "bihuan/engine.hpp"
#include "bihuan/retention.hpp"

using namespace bihuan;
using Steady = std::chrono::steady_clock;

namespace {

const char* kCase = R"({"id": "b.case", "version": 1, "initial": "OPEN",
  "states": {"OPEN": {"on": {
    "note": {"set": {"/notes/-": {"var": "event.payload.text"}, "/n": {"+": [{"var": "data.n"}, 1]}}},
    "close": {"target": "DONE", "set": {"/closedBy": {"var": "actor.id"}}}}},
    "DONE": {"type": "final", "outcome": "done"}}})";

std::uintmax_t dir_bytes(const std::filesystem::path& p) {
  std::uintmax_t n = 0;
  for (const auto& f : std::filesystem::recursive_directory_iterator(p))
    if (f.is_regular_file()) n += f.file_size();
  return n;
}

// Sends `rate` events per second to the running instances for `seconds` (or until `stop`),
// returns the latencies (submit to acknowledgement), in ms.
std::vector<double> load(Engine& e, const std::vector<std::string>& running, int rate,
                         double seconds, const std::atomic<bool>* stop) {
  std::mutex mu;
  std::vector<double> lat;
  std::atomic<std::size_t> pending{0};
  auto start = Steady::now();
  std::size_t sent = 0;
  std::mt19937 rng(7);
  while (true) {
    double elapsed = std::chrono::duration<double>(Steady::now() - start).count();
    if (stop ? stop->load() : elapsed >= seconds) break;
    std::size_t due = static_cast<std::size_t>(elapsed * rate);
    for (; sent < due; ++sent) {
      EventRequest r;
      r.instance_id = running[rng() % running.size()];
      r.event = "note";
      r.payload = {{"text", "a note of some length, as an inspector writes it"}};
      auto t0 = Steady::now();
      ++pending;
      e.send_async(r, [&, t0](StepResult) {
        double ms = std::chrono::duration<double, std::milli>(Steady::now() - t0).count();
        std::lock_guard lock(mu);
        lat.push_back(ms);
        --pending;
      });
    }
    std::this_thread::sleep_for(std::chrono::microseconds(200));
  }
  while (pending) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  std::lock_guard lock(mu);
  return lat;
}

double p99(std::vector<double> v) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, v.size() * 99 / 100)];
}

}  // namespace

int main(int argc, char** argv) {
  std::setvbuf(stdout, nullptr, _IOLBF, 0);
  const int finished = argc > 1 ? std::atoi(argv[1]) : 20000;
  const int rate = argc > 2 ? std::atoi(argv[2]) : 5000;
  auto dir = std::filesystem::temp_directory_path() /
             ("bihuan-bench-retention-" + std::to_string(std::random_device{}()));
  EngineOptions o;
  o.data_dir = (dir / "data").string();
  Problems p;
  auto e = Engine::open(o, p);
  if (!e || !e->deploy(json::parse(kCase), "bench").ok) return 1;
  // The instances to archive: start, 3 notes, close (5 history entries each).
  std::vector<std::string> done_ids, running;
  std::mt19937_64 rng(11);
  for (int i = 0; i < finished + 2000; i += 1000) {
    std::vector<std::string> ids(1000);
    std::atomic<int> left{1000};
    {
      CommitGroup g(*e);
      for (int k = 0; k < 1000; ++k) {
        StartRequest s;
        s.definition = "b.case";
        s.data = {{"n", 0}, {"notes", json::array()}, {"serial", i + k}};  // no two alike
        e->start_async(s, [&, k](StepResult r) {
          ids[k] = r.instance ? r.instance->id : "";
          --left;
        });
      }
    }
    while (left) std::this_thread::sleep_for(std::chrono::milliseconds(1));
    bool keep_running = i >= finished;
    for (const char* ev : {"note", "note", "note", "close"}) {
      if (keep_running && std::string(ev) == "close") break;
      std::atomic<int> n{1000};
      {
        CommitGroup g(*e);
        for (const auto& id : ids) {
          EventRequest r;
          r.instance_id = id;
          r.event = ev;
          r.payload = {{"text", "note " + std::to_string(rng()) + " as an inspector writes it"}};
          e->send_async(r, [&](StepResult) { --n; });
        }
      }
      while (n) std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    for (auto& id : ids) (keep_running ? running : done_ids).push_back(id);
  }
  e->backup((dir / "copy").string(), nullptr);
  std::uintmax_t live = dir_bytes(dir / "copy");
  std::printf("store: %d finished + %zu running instances; compacted copy %.1f MiB\n", finished,
              running.size(), live / 1048576.0);

  auto quiet = load(*e, running, rate, 5.0, nullptr);
  std::printf("steps alone: %zu at %d/s, p99 %.2f ms\n", quiet.size(), rate, p99(quiet));

  std::atomic<bool> stop{false};
  RetentionReport rep;
  double secs = 0;
  std::thread archiver([&] {
    RetentionRun run;
    run.retention = Duration{};
    run.options.archive_dir = (dir / "archives").string();
    auto t0 = Steady::now();
    rep = run_retention(*e, run);
    secs = std::chrono::duration<double>(Steady::now() - t0).count();
    stop = true;
  });
  auto during = load(*e, running, rate, 0, &stop);
  archiver.join();
  std::uintmax_t archived = dir_bytes(dir / "archives");
  std::printf("archiving: %zu instances in %.2f s = %.0f instances/s (%zu archives)%s%s\n",
              rep.removed, secs, rep.removed / secs, rep.archives.size(),
              rep.error.empty() ? "" : "; error: ", rep.error.c_str());
  std::printf("steps during archiving: %zu at %d/s, p99 %.2f ms\n", during.size(), rate,
              p99(during));
  std::printf("bytes per instance: archive %.0f, live store (compacted copy, all %zu) %.0f\n",
              rep.removed ? double(archived) / rep.removed : 0.0, done_ids.size() + running.size(),
              double(live) / (done_ids.size() + running.size()));
  e->close();
  if (!std::getenv("BENCH_KEEP"))
    std::filesystem::remove_all(dir);
  else
    std::printf("kept %s\n", dir.c_str());
  return 0;
}
