// Outbox delivery throughput: how many messages per second the dispatcher takes from a
// durable outbox, hands to a real plugin and acknowledges durably. The plugin is
// notify.log (one JSON line per message) or notify.webhook POSTing to a local receiver
// (tests/plugins/loopback_http.hpp: 127.0.0.1, a thread per connection, answers 200 at
// once; its time is part of the measurement). Each run: N instances whose entry notifies
// "out" are started in no-sync mode, the engine is reopened durable, then the clock starts
// and the dispatcher delivers until the outbox is empty.
//
//   ./build/bench/bench_outbox [--plugin log|webhook] [--n 20000] [--runs 3] [--concurrency 4]
//                              [--fsync] [--mode background|once] [--dir /var/tmp/bihuan-bench]
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <future>
#include <iostream>
#include <thread>
#include <vector>

#include "../tests/plugins/loopback_http.hpp"
#include "bihuan/config.hpp"
#include "bihuan/dispatcher.hpp"
#include "bihuan/plugin_host.hpp"

namespace {

using namespace bihuan;
namespace fs = std::filesystem;

struct Options {
  int n = 20000, runs = 3;
  std::size_t concurrency = 4;
  bool fsync = false;
  std::string mode = "background";
  std::string plugin = "log";
  std::string dir = "/var/tmp/bihuan-bench";
};

const char* kDefinition = R"({"id": "bench.notify", "version": 1, "initial": "OPEN",
  "states": {"OPEN": {"onEntry": [{"notify": "out", "to": {"var": "data.who"},
                                   "template": "您好 {{data.who}}，第 {{data.n}} 条通知"}],
                      "on": {"close": {"target": "DONE"}}},
             "DONE": {"type": "final", "outcome": "done"}}})";

std::unique_ptr<Engine> open(const std::string& dir, bool durable) {
  EngineOptions o;
  o.data_dir = dir;
  o.durable = durable;
  o.initial_map_bytes = std::size_t{1} << 30;
  Problems p;
  auto e = Engine::open(o, p);
  if (!e) {
    for (const auto& x : p.items()) std::cerr << x.to_string() << "\n";
    std::exit(1);
  }
  return e;
}

void populate(const std::string& dir, int n) {
  auto e = open(dir, false);
  if (!e->deploy(json::parse(kDefinition), "bench").ok) std::exit(1);
  std::atomic<int> left{n};
  std::promise<void> done;
  for (int i = 0; i < n; ++i) {
    StartRequest s;
    s.definition = "bench.notify";
    s.data = {{"who", "用户" + std::to_string(i)}, {"n", i}};
    e->start_async(s, [&](StepResult) {
      if (--left == 0) done.set_value();
    });
  }
  done.get_future().wait();
  e->close();
}

double run_once(const Options& o, int run) {
  std::string dir = o.dir + "/outbox-" + std::to_string(::getpid()) + "-" + std::to_string(run);
  fs::remove_all(dir);
  fs::create_directories(dir);
  populate(dir, o.n);
  auto engine = open(dir, true);
  EngineConfig config;
  config.plugin_dirs = EngineConfig::default_plugin_dirs();
  std::unique_ptr<bihuan::testing::LoopbackHttpServer> receiver;
  PluginInstanceConfig out;
  out.name = "out";
  out.policy.concurrency = o.concurrency;
  if (o.plugin == "webhook") {
    receiver = std::make_unique<bihuan::testing::LoopbackHttpServer>();
    out.plugin = "notify.webhook";
    out.config = {
        {"url", receiver->url("/bench")}, {"secret", "bench-secret"}, {"timeoutMs", 10000}};
    out.policy.timeout_ms = 20000;
  } else {
    out.plugin = "notify.log";
    out.config = {{"path", dir + "/notifications.jsonl"}, {"fsync", o.fsync}};
  }
  config.plugins["out"] = out;
  Problems p;
  auto registry = PluginRegistry::load(config, nullptr, p);
  if (p.has_errors()) {
    for (const auto& x : p.items()) std::cerr << x.to_string() << "\n";
    std::exit(1);
  }
  DispatcherOptions dopts;
  dopts.poll_ms = 5;
  Dispatcher d(*engine, Dispatcher::channels_of(registry, config), dopts);
  auto t0 = std::chrono::steady_clock::now();
  if (o.mode == "once") {
    d.drain(std::chrono::minutes(10));
  } else {
    d.start();
    while (!engine->outbox(1, 0).empty()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
    d.stop();
  }
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  auto s = d.stats();
  engine->close();
  if (receiver && receiver->count() < static_cast<std::size_t>(o.n))
    std::cerr << "the receiver answered only " << receiver->count() << " requests\n";
  if (s.delivered < static_cast<std::uint64_t>(o.n))
    std::cerr << "only " << s.delivered << " delivered\n";
  fs::remove_all(dir);
  return o.n / secs;
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto next = [&] { return i + 1 < argc ? std::string(argv[++i]) : std::string(); };
    if (a == "--n")
      o.n = std::stoi(next());
    else if (a == "--runs")
      o.runs = std::stoi(next());
    else if (a == "--concurrency")
      o.concurrency = std::stoul(next());
    else if (a == "--fsync")
      o.fsync = true;
    else if (a == "--mode")
      o.mode = next();
    else if (a == "--dir")
      o.dir = next();
    else if (a == "--plugin")
      o.plugin = next();
    else {
      std::cerr << "usage: bench_outbox [--plugin log|webhook] [--n N] [--runs R] [--concurrency "
                   "C] [--fsync] "
                   "[--mode background|once] [--dir D]\n";
      return 2;
    }
  }
  if (o.plugin != "log" && o.plugin != "webhook") {
    std::cerr << "bench_outbox: --plugin is log or webhook\n";
    return 2;
  }
  std::vector<double> rates;
  for (int r = 0; r < o.runs; ++r) {
    double rate = run_once(o, r);
    rates.push_back(rate);
    std::cout << "run " << r + 1 << ": " << static_cast<long>(rate) << " messages/s\n";
  }
  std::sort(rates.begin(), rates.end());
  std::cout << "outbox delivery to "
            << (o.plugin == "webhook" ? "notify.webhook (loopback receiver)" : "notify.log")
            << ": n=" << o.n << " concurrency=" << o.concurrency
            << " fsync=" << (o.fsync ? "yes" : "no") << " mode=" << o.mode << ": median "
            << static_cast<long>(rates[rates.size() / 2]) << " messages/s ["
            << static_cast<long>(rates.front()) << " .. " << static_cast<long>(rates.back())
            << "]\n";
}
