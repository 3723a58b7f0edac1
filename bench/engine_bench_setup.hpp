// Engine set-up for bench_engine: the benchmark definitions, opening an engine on a data
// directory, async start/event submission for bench::ClosedLoop, and creating a population
// of instances (in no-sync mode, to build large data sets quickly).
#pragma once

#include <fcntl.h>

#include <cstdio>
#include <functional>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "bihuan/engine.hpp"
#include "bihuan/postgres.hpp"
#include "engine_bench_support.hpp"

namespace bench {

using bihuan::Engine;
using bihuan::json;

// The definition of the issue: one state with a 30-day timer and a counter event.
inline const char* kTaskDefinition = R"({"id":"bench.task","version":1,"initial":"OPEN","states":{
  "OPEN":{"timers":[{"id":"t","after":"P30D","event":"expire"}],
          "on":{"touch":{"roles":["system"],"set":{"/n":{"+":[{"var":"data.n"},1]}}},
                "expire":{"roles":["system"],"target":"DONE"}}},
  "DONE":{"type":"final","outcome":"done"}}})";

// A timer at an absolute time taken from the data (real-clock timer bursts).
inline const char* kAtDefinition = R"({"id":"bench.at","version":1,"initial":"WAIT","states":{
  "WAIT":{"timers":[{"id":"t","at":{"var":"data.due"},"event":"expire"}],
          "on":{"expire":{"roles":["system"],"target":"DONE"}}},
  "DONE":{"type":"final","outcome":"done"}}})";

struct Opened {
  std::unique_ptr<Engine> engine;
  double open_seconds = 0;
};

// Initial LMDB map size for every engine the benchmark opens (0: the engine's default).
// A large map avoids growing it mid-run (see docs/PERFORMANCE.md on map growth).
inline std::size_t g_map_bytes = std::size_t{16} << 30;
// EngineOptions::pipeline for every engine the benchmark opens (--no-pipeline: false).
inline bool g_pipeline = true;
// EngineOptions::store for every engine the benchmark opens (--store SPEC; "": LMDB in the
// run's directory). A PostgreSQL database is shared by the runs: give an empty one.
inline std::string g_store;

// The command line of an engine benchmark. `own(name, value)` handles the benchmark's own
// options (value() takes the next argument; answers false for an unknown name); the shared
// ones are --quick, --runs R, --dir DIR, --keep, --map-mib M (initial LMDB map) and --store
// SPEC. Returns
// false, having said why, on an unknown option or a bad value. Afterwards g_runs.runs is R,
// else 1 with --quick, else 3.
inline bool parse_command_line(
    int argc, char** argv, bool& quick,
    const std::function<bool(const std::string&, const std::function<std::string()>&)>& own) {
  int runs = 0;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    std::function<std::string()> value = [&]() -> std::string {
      if (i + 1 >= argc) throw std::runtime_error(a + " needs a value");
      return argv[++i];
    };
    try {
      if (a == "--quick")
        quick = true;
      else if (a == "--runs")
        runs = std::stoi(value());
      else if (a == "--dir")
        g_runs.dir = value();
      else if (a == "--keep")
        g_runs.keep = true;
      else if (a == "--map-mib")
        g_map_bytes = std::stoull(value()) << 20;
      else if (a == "--store")
        g_store = value();
      else if (!own(a, value)) {
        std::fprintf(stderr, "unknown option %s\n", a.c_str());
        return false;
      }
    } catch (const std::exception& e) {
      std::fprintf(stderr, "%s: %s\n", a.c_str(), e.what());
      return false;
    }
  }
  g_runs.runs = runs > 0 ? runs : quick ? 1 : 3;
  return true;
}

inline Opened open_engine(const std::string& dir, bool durable,
                          std::shared_ptr<bihuan::Clock> clock = nullptr) {
  bihuan::EngineOptions o;
  o.data_dir = dir;
  o.durable = durable;
  if (g_map_bytes) o.initial_map_bytes = g_map_bytes;
  o.pipeline = g_pipeline;
  o.store = g_store;
  if (!g_store.empty()) bihuan::enable_postgres();
  if (clock) o.clock = std::move(clock);
  bihuan::Problems p;
  auto t0 = SteadyClock::now();
  Opened out;
  out.engine = Engine::open(o, p);
  out.open_seconds = seconds_since(t0);
  if (!out.engine)
    throw std::runtime_error("cannot open engine in " + dir + ": " +
                             (p.items().empty() ? "" : p.items()[0].to_string()));
  for (const char* text : {kTaskDefinition, kAtDefinition}) {
    auto r = out.engine->deploy(json::parse(text), "bench");
    if (!r.ok)
      throw std::runtime_error("deploy failed: " + (r.problems.items().empty()
                                                        ? ""
                                                        : r.problems.items()[0].to_string()));
  }
  return out;
}

inline std::string business_name(std::size_t i) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "business-%05zu", i % 100000);
  return buf;
}

// Starts instance i of bench.task; stores its id in (*ids)[i] if ids is given.
template <class Done>
void start_task(Engine& e, std::size_t i, Done done, std::vector<std::string>* ids = nullptr) {
  bihuan::StartRequest r;
  r.definition = "bench.task";
  r.data = {{"n", 0}, {"name", business_name(i)}};
  e.start_async(std::move(r), [done, ids, i](bihuan::StepResult res) {
    if (ids && res.instance) (*ids)[i] = res.instance->id;
    done(res.ok(), res.message);
  });
}

template <class Done>
void touch(Engine& e, const std::string& id, Done done) {
  bihuan::EventRequest r;
  r.instance_id = id;
  r.event = "touch";
  r.actor = bihuan::Actor::system();
  e.send_async(std::move(r), [done](bihuan::StepResult res) { done(res.ok(), res.message); });
}

// Creates n bench.task instances in `dir` in no-sync mode and closes the engine (which
// flushes). Returns their ids in creation (= id) order.
inline std::vector<std::string> create_population(const std::string& dir, std::size_t n,
                                                  std::shared_ptr<bihuan::Clock> clock = nullptr) {
  auto opened = open_engine(dir, false, std::move(clock));
  std::vector<std::string> ids(n);
  ClosedLoop loop;
  loop.window = 256;
  loop.run(n, [&](std::size_t i, auto done) { start_task(*opened.engine, i, done, &ids); });
  if (loop.failures)
    throw std::runtime_error("population: " + std::to_string(loop.failures) +
                             " starts failed: " + loop.first_failure);
  opened.engine->close();
  return ids;
}

// Drops the data file's pages from the page cache (clean pages only; a cold-cache reopen).
inline void evict_from_page_cache(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY);
  if (fd < 0) return;
  fdatasync(fd);
  posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
  ::close(fd);
}

}  // namespace bench
