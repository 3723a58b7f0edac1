// Kill the process mid-delivery: a child process runs the engine and the dispatcher
// delivering thousands of notifications through the real notify.log plugin and is
// SIGKILLed part-way. After a restart the dispatcher runs to completion: every message
// the steps produced is in the log at least once (duplicates allowed: at-least-once) and
// the outbox is empty. Nothing is lost.
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>
#ifdef __linux__
#include <sys/prctl.h>
#endif

#include <atomic>
#include <filesystem>
#include <future>
#include <thread>

#include "plugin_support.hpp"

namespace bihuan::testing {
namespace {

using namespace std::chrono_literals;

constexpr int kMessages = 10000;
// Kill once this many lines are in the log: early enough that a parent descheduled for a
// while (CI runs tests in parallel) still finds the child mid-work (it delivers about
// 25,000 messages/s, so the rest takes ~0.35 s).
constexpr int kKillAfter = kMessages / 10;

std::unique_ptr<Engine> open_engine(const std::string& dir) {
  EngineOptions o;
  o.data_dir = dir;
  o.calendars = shipped_calendars();
  Problems p;
  auto e = Engine::open(o, p);
  if (!e) ADD_FAILURE() << problems_text(p);
  return e;
}

EngineConfig log_config(const std::string& log) {
  ChannelPolicy p;
  p.concurrency = 4;
  p.backoff_initial_ms = 10;
  p.backoff_max_ms = 100;
  return config_of({instance("log", "notify.log", {{"path", log}}, p)});
}

std::size_t count_lines(const std::string& path) {
  std::string text = read_text(path);
  return static_cast<std::size_t>(std::count(text.begin(), text.end(), '\n'));
}

// The child: deliver until killed. Never returns into the test framework.
[[noreturn]] void deliver_until_killed(const std::string& dir, const std::string& log) {
#ifdef __linux__
  prctl(PR_SET_PDEATHSIG, SIGKILL);
#endif
  auto engine = open_engine(dir);
  if (!engine) _exit(3);
  Problems p;
  auto config = log_config(log);
  auto registry = PluginRegistry::load(config, nullptr, p);
  if (p.has_errors()) _exit(4);
  DispatcherOptions o;
  o.poll_ms = 5;
  Dispatcher d(*engine, Dispatcher::channels_of(registry, config), o);
  d.start();
  while (true) pause();
}

TEST(KillDuringDelivery, EveryMessageIsDeliveredAtLeastOnceAfterARestart) {
  std::string dir = make_temp_dir("kill");
  std::string log = dir + "/notifications.jsonl";
  std::set<std::string> keys;
  {
    auto engine = open_engine(dir);
    ASSERT_TRUE(engine);
    auto r = engine->deploy(json::parse(notify_definition("log")), "kill");
    ASSERT_TRUE(r.ok);
    std::atomic<int> left{kMessages}, failed{0};
    std::promise<void> all;
    for (int i = 0; i < kMessages; ++i) {
      StartRequest s;
      s.definition = "t.notify";
      s.data = {{"who", "收件人" + std::to_string(i)}, {"name", "名字"}, {"n", i}};
      engine->start_async(s, [&](StepResult res) {
        if (!res.ok()) ++failed;
        if (--left == 0) all.set_value();
      });
    }
    all.get_future().wait();
    ASSERT_EQ(failed.load(), 0);
    for (const auto& m : engine->outbox(kMessages + 10, 0)) keys.insert(m.idempotency_key);
    ASSERT_EQ(keys.size(), static_cast<std::size_t>(kMessages));
    engine->close();
  }

  pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) deliver_until_killed(dir, log);
  // Kill it once it is well into the work, but not done.
  auto t0 = std::chrono::steady_clock::now();
  while (count_lines(log) < kKillAfter && std::chrono::steady_clock::now() - t0 < 20s)
    std::this_thread::sleep_for(1ms);
  ASSERT_EQ(kill(child, SIGKILL), 0);
  int status = 0;
  ASSERT_EQ(waitpid(child, &status, 0), child);
  ASSERT_TRUE(WIFSIGNALED(status)) << "the child ended by itself (status " << status << ")";
  std::size_t before = count_lines(log);
  ASSERT_GE(before, static_cast<std::size_t>(kKillAfter))
      << "the child delivered too little before the deadline";

  auto engine = open_engine(dir);
  ASSERT_TRUE(engine);
  std::size_t left_after_kill = engine->outbox(kMessages + 10, 0).size();
  EXPECT_GT(left_after_kill, 0u) << "killed before it finished";
  Problems p;
  auto config = log_config(log);
  auto registry = PluginRegistry::load(config, nullptr, p);
  ASSERT_FALSE(p.has_errors()) << problems_text(p);
  Dispatcher d(*engine, Dispatcher::channels_of(registry, config));
  EXPECT_TRUE(d.drain(20s));
  EXPECT_TRUE(engine->outbox(10, 0).empty());

  std::map<std::string, int> seen;
  std::size_t lines = 0;
  {
    std::ifstream in(log);
    for (std::string line; std::getline(in, line);) {
      ++lines;
      auto j = json::parse(line, nullptr, false);
      ASSERT_FALSE(j.is_discarded()) << "a torn line in the log: " << line;
      ++seen[j["key"].get<std::string>()];
    }
  }
  std::size_t missing = 0;
  for (const auto& k : keys) missing += seen.count(k) ? 0 : 1;
  EXPECT_EQ(missing, 0u) << "messages lost";
  EXPECT_EQ(seen.size(), keys.size()) << "no message that was never produced";
  std::cout << "kill test: " << before << " lines before SIGKILL, " << left_after_kill
            << " messages left in the outbox, " << lines - keys.size()
            << " duplicates after restart\n";
  engine->close();
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace bihuan::testing
