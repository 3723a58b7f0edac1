// Durable steps per second through the engine's C++ API and through the C API (bihuan.h),
// the same definition and requests, so the difference is the binding's cost (JSON text in
// and out, the boundary). bench/python_steps.py measures the Python binding the same way.
//
//   bench_capi [--steps N] [--instances K] [--nosync] DATA_ROOT
//
// Each measure uses a fresh store under DATA_ROOT and prints one JSON line:
//   sync:  N events sent one at a time, each waiting for its durable commit;
//   async: N events submitted at once over K instances (group commits), waiting for all.
#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <iostream>
#include <mutex>

#include "bihuan.h"
#include "bihuan/engine.hpp"

namespace {

const char* kTick = R"({"id": "bench.tick", "version": 1, "initial": "on",
  "states": {"on": {"on": {"tick": {"roles": ["system"], "target": "on"},
                           "stop": {"roles": ["system"], "target": "off"}}},
             "off": {"type": "final", "outcome": "stopped"}}})";

struct Args {
  int steps = 2000, instances = 100;
  bool durable = true;
  std::string root;
};

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

void report(const char* api, const char* mode, const Args& a, double secs) {
  bihuan::json line = {{"api", api},       {"mode", mode},
                       {"steps", a.steps}, {"durable", a.durable},
                       {"seconds", secs},  {"stepsPerSecond", a.steps / secs}};
  std::cout << line.dump() << std::endl;
}

// Counts completions down to zero.
struct Latch {
  std::mutex mu;
  std::condition_variable cv;
  int left;
  void count_down() {
    std::lock_guard lock(mu);
    if (--left == 0) cv.notify_all();
  }
  void wait() {
    std::unique_lock lock(mu);
    cv.wait(lock, [&] { return left == 0; });
  }
};

void cpp_bench(const Args& a, bool async) {
  std::string dir = a.root + (async ? "/cpp-async" : "/cpp-sync");
  std::filesystem::remove_all(dir);
  bihuan::EngineOptions o;
  o.data_dir = dir;
  o.durable = a.durable;
  bihuan::Problems problems;
  auto engine = bihuan::Engine::open(o, problems);
  if (!engine || !engine->deploy(bihuan::json::parse(kTick), "tick").ok) std::exit(1);
  std::vector<std::string> ids;
  for (int i = 0; i < (async ? a.instances : 1); ++i)
    ids.push_back(engine->start({.definition = "bench.tick"}).instance->id);
  auto request = [&](int i) {
    bihuan::EventRequest r;
    r.instance_id = ids[i % ids.size()];
    r.event = "tick";
    r.actor = bihuan::Actor::system();
    return r;
  };
  auto t0 = std::chrono::steady_clock::now();
  if (async) {
    Latch latch{.left = a.steps};
    for (int i = 0; i < a.steps; ++i)
      engine->send_async(request(i), [&](bihuan::StepResult) { latch.count_down(); });
    latch.wait();
  } else {
    for (int i = 0; i < a.steps; ++i)
      if (!engine->send(request(i)).ok()) std::exit(1);
  }
  report("c++", async ? "async" : "sync", a, seconds_since(t0));
  engine->close();
}

std::string take(char* p) {
  std::string s = p ? p : "";
  bihuan_free(p);
  return s;
}

void capi_bench(const Args& a, bool async) {
  std::string dir = a.root + (async ? "/capi-async" : "/capi-sync");
  std::filesystem::remove_all(dir);
  bihuan::json options = {{"dataDir", dir}, {"durable", a.durable}};
  bihuan_engine* engine = nullptr;
  if (bihuan_open(options.dump().c_str(), BIHUAN_ABI_VERSION, &engine, nullptr) != BIHUAN_OK ||
      bihuan_deploy(engine, kTick, "tick", nullptr, nullptr) != BIHUAN_OK)
    std::exit(1);
  std::vector<std::string> requests;
  for (int i = 0; i < (async ? a.instances : 1); ++i) {
    char* result = nullptr;
    bihuan_start(engine, R"({"definition": "bench.tick"})", &result, nullptr);
    auto id = bihuan::json::parse(take(result))["id"].get<std::string>();
    requests.push_back(bihuan::json{{"instance", id}, {"event", "tick"}}.dump());
  }
  auto t0 = std::chrono::steady_clock::now();
  if (async) {
    Latch latch{.left = a.steps};
    auto done = [](void* user, int, const char*) { static_cast<Latch*>(user)->count_down(); };
    for (int i = 0; i < a.steps; ++i)
      bihuan_send_async(engine, requests[i % requests.size()].c_str(), done, &latch, nullptr);
    latch.wait();
  } else {
    for (int i = 0; i < a.steps; ++i) {
      char* result = nullptr;
      if (bihuan_send(engine, requests[0].c_str(), &result, nullptr) != BIHUAN_OK) std::exit(1);
      bihuan_free(result);
    }
  }
  report("c", async ? "async" : "sync", a, seconds_since(t0));
  bihuan_release(engine);
}

}  // namespace

int main(int argc, char** argv) {
  Args a;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg == "--steps" && i + 1 < argc)
      a.steps = std::stoi(argv[++i]);
    else if (arg == "--instances" && i + 1 < argc)
      a.instances = std::stoi(argv[++i]);
    else if (arg == "--nosync")
      a.durable = false;
    else
      a.root = arg;
  }
  if (a.root.empty()) {
    std::cerr << "usage: bench_capi [--steps N] [--instances K] [--nosync] DATA_ROOT\n";
    return 2;
  }
  for (bool async : {false, true}) {
    cpp_bench(a, async);
    capi_bench(a, async);
  }
  std::filesystem::remove_all(a.root);
  return 0;
}
