// What one dispatcher poll costs when the outbox holds a large pile of dead letters
// (docs/PERFORMANCE.md, "Outbox poll"). Set-up, once: 100,000 messages in a no-sync store
// (virtual clock), every one made a dead letter through Engine::record_delivery_failure,
// and a dispatcher with the one channel "out" (notify.log). Then:
//   BM_PollNothingDue  Dispatcher::run_once() with nothing due: the poll alone.
//   BM_PollTenDue      10 new messages (their steps are outside the timing), then
//                      run_once(): the poll, 10 deliveries and their acknowledgements.
// Only the public API is used, so the same file builds on older commits (the "before").
//
//   ./build/bench/bench_outbox_poll --benchmark_repetitions=5
//   --benchmark_report_aggregates_only=true BIHUAN_BENCH_DEAD=100000
//   BIHUAN_BENCH_DIR=/var/tmp/bihuan-bench (defaults)
#include <benchmark/benchmark.h>

#include <unistd.h>
#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <future>
#include <iostream>

#include "bihuan/config.hpp"
#include "bihuan/dispatcher.hpp"
#include "bihuan/plugin_host.hpp"

namespace {

using namespace bihuan;
namespace fs = std::filesystem;

const char* kDefinition = R"({"id": "bench.poll", "version": 1, "initial": "OPEN",
  "states": {"OPEN": {"onEntry": [{"notify": "out", "to": "x", "template": "message {{data.n}}"}],
                      "on": {"close": {"target": "DONE"}}},
             "DONE": {"type": "final", "outcome": "done"}}})";

std::size_t env_size(const char* name, std::size_t fallback) {
  const char* v = std::getenv(name);
  return v && *v ? std::stoul(v) : fallback;
}

void fail(const std::string& what) {
  std::cerr << "bench_outbox_poll: " << what << "\n";
  std::exit(1);
}

// Starts n instances (one message each) as one group commit per 2,048.
void start_many(Engine& e, std::size_t n, std::size_t from) {
  std::atomic<std::size_t> left{n};
  std::promise<void> done;
  {
    CommitGroup group(e);
    for (std::size_t i = 0; i < n; ++i) {
      StartRequest s;
      s.definition = "bench.poll";
      s.data = {{"n", from + i}};
      e.start_async(s, [&](StepResult r) {
        if (!r.ok()) fail("start refused: " + r.message);
        if (--left == 0) done.set_value();
      });
    }
  }
  done.get_future().wait();
}

struct World {
  std::string dir;
  std::shared_ptr<VirtualClock> clock;
  std::unique_ptr<Engine> engine;
  PluginRegistry registry;
  std::unique_ptr<Dispatcher> dispatcher;
  std::size_t started = 0;

  World() {
    std::size_t dead = env_size("BIHUAN_BENCH_DEAD", 100000);
    const char* base = std::getenv("BIHUAN_BENCH_DIR");
    dir = std::string(base && *base ? base : "/var/tmp/bihuan-bench") + "/outbox-poll-" +
          std::to_string(::getpid());
    fs::remove_all(dir);
    fs::create_directories(dir);
    clock = std::make_shared<VirtualClock>(TimePoint(Millis(1'800'000'000'000)));
    EngineOptions o;
    o.data_dir = dir;
    o.durable = false;
    o.clock = clock;
    o.initial_map_bytes = std::size_t{1} << 30;
    Problems p;
    engine = Engine::open(o, p);
    if (!engine) fail("cannot open " + dir);
    if (!engine->deploy(json::parse(kDefinition), "bench").ok) fail("deploy failed");
    start_many(*engine, dead, 0);
    started = dead;
    // Every message becomes a dead letter, as after a long outage of its channel.
    std::atomic<std::size_t> left{0};
    std::promise<void> marked;
    std::vector<std::uint64_t> seqs;
    for (std::uint64_t after = 0;;) {
      auto page = engine->outbox(4096, after);
      if (page.empty()) break;
      after = page.back().seq;
      for (const auto& m : page) seqs.push_back(m.seq);
    }
    if (seqs.size() != dead)
      fail("expected " + std::to_string(dead) + " messages, found " + std::to_string(seqs.size()));
    left = seqs.size();
    {
      CommitGroup group(*engine);
      for (auto seq : seqs)
        engine->record_delivery_failure_async(seq, "the receiver was down", clock->now(), true,
                                              [&](bool ok) {
                                                if (!ok) fail("record_delivery_failure failed");
                                                if (--left == 0) marked.set_value();
                                              });
    }
    marked.get_future().wait();
    if (engine->dead_letters(1).empty()) fail("no dead letters");
    EngineConfig config;
    config.plugin_dirs = EngineConfig::default_plugin_dirs();
    PluginInstanceConfig out;
    out.name = "out";
    out.plugin = "notify.log";
    out.config = {{"path", dir + "/notifications.jsonl"}};
    config.plugins["out"] = out;
    Problems pp;
    registry = PluginRegistry::load(config, nullptr, pp);
    if (pp.has_errors()) fail("cannot load notify.log");
    dispatcher = std::make_unique<Dispatcher>(*engine, Dispatcher::channels_of(registry, config));
  }
  ~World() {
    dispatcher.reset();
    engine->close();
    engine.reset();
    fs::remove_all(dir);
  }
};

World& world() {
  static World w;
  return w;
}

void BM_PollNothingDue(benchmark::State& state) {
  World& w = world();
  for (auto _ : state) {
    std::size_t attempts = w.dispatcher->run_once();
    if (attempts != 0) fail("a poll with nothing due made attempts");
    benchmark::DoNotOptimize(attempts);
  }
}
BENCHMARK(BM_PollNothingDue)->Unit(benchmark::kMicrosecond);

void BM_PollTenDue(benchmark::State& state) {
  World& w = world();
  for (auto _ : state) {
    state.PauseTiming();
    start_many(*w.engine, 10, w.started);
    w.started += 10;
    state.ResumeTiming();
    std::size_t attempts = w.dispatcher->run_once();
    if (attempts != 10) fail("expected 10 attempts, made " + std::to_string(attempts));
  }
}
BENCHMARK(BM_PollTenDue)->Unit(benchmark::kMicrosecond);

}  // namespace

BENCHMARK_MAIN();
