// Map growth while another process writes the same data directory (issue 19).
//
// LMDB's rule: mdb_env_set_mapsize only with no transaction of this process active. A
// map grown by another process shows as MDB_MAP_RESIZED when this process begins a
// transaction; adopting the new size must wait until no read transaction, write
// transaction or online backup of ours is open. The child (this test binary run again
// with BIHUAN_GROW_CHILD set) writes large steps through its own engine, whose map starts
// small and doubles, while this process reads, backs up and writes on several threads.
#include <gtest/gtest.h>

#include <sys/wait.h>

#include <atomic>
#include <cstdlib>
#include <fstream>
#include <mutex>
#include <sstream>
#include <thread>

#include "engine_fixture.hpp"

namespace bihuan::testing {
namespace {

const char* kGrow = R"({"id": "t.grow", "version": 1, "initial": "A", "states": {
  "A": {"on": {"go": {"roles": ["system"], "set": {"/blob": {"var": "event.payload.blob"}}},
               "end": {"roles": ["system"], "target": "B"}}},
  "B": {"type": "final", "outcome": "ok"}}})";

constexpr std::size_t kSmallMap = 256u << 10;  // both processes start here and grow
constexpr int kChildSteps = 320;               // x 48 KB: about 15 MiB from the child

std::string quote_arg(const std::string& s) {
  std::string out = "'";
  for (char c : s) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

std::string read_text(const std::filesystem::path& p) {
  std::ifstream in(p);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

EngineOptions grow_options(const std::string& dir) {
  EngineOptions o;
  o.data_dir = dir;
  o.clock = std::make_shared<VirtualClock>(at("2033-04-03T09:00:00Z"));
  o.initial_map_bytes = kSmallMap;
  return o;
}

// Collects the first failure any thread saw (threads cannot ASSERT).
struct Failures {
  std::mutex mu;
  std::string first;
  std::atomic<int> count{0};
  void add(const std::string& what) {
    if (count++ == 0) {
      std::lock_guard lock(mu);
      first = what;
    }
  }
};

}  // namespace

// The child process. Skipped unless run by the test below.
TEST(MapGrowthChild, WritesLargeStepsFromAnotherProcess) {
  const char* dir = std::getenv("BIHUAN_GROW_CHILD");
  if (!dir) GTEST_SKIP() << "the child of MapGrowth.AnotherProcessGrowsTheMap...";
  Problems p;
  auto engine = Engine::open(grow_options(dir), p);
  ASSERT_TRUE(engine) << (p.items().empty() ? "" : p.items()[0].to_string());
  std::string blob(48000, 'c');
  for (int i = 0; i < kChildSteps; ++i) {
    StartRequest r;
    r.definition = "t.grow";
    r.data = {{"blob", blob}, {"n", i}};
    r.business_key = "child-" + std::to_string(i);
    auto res = engine->start(r);
    ASSERT_TRUE(res.ok()) << i << ": " << res.message;
  }
  engine->close();
}

TEST(MapGrowth, AnotherProcessGrowsTheMapWhileThisOneReadsBacksUpAndWrites) {
  const std::string dir = make_temp_dir("grow");
  Problems p;
  auto engine = Engine::open(grow_options(dir), p);
  ASSERT_TRUE(engine) << (p.items().empty() ? "" : p.items()[0].to_string());
  ASSERT_TRUE(engine->deploy(json::parse(kGrow), "test").ok);
  std::vector<std::string> ids;
  for (int i = 0; i < 16; ++i) {
    StartRequest r;
    r.definition = "t.grow";
    auto res = engine->start(r);
    ASSERT_TRUE(res.ok()) << res.message;
    ids.push_back(res.instance->id);
  }

  std::atomic<bool> child_done{false};
  int child_status = -1;
  std::thread child([&] {
    std::string exe = std::filesystem::read_symlink("/proc/self/exe").string();
    std::string cmd = "BIHUAN_GROW_CHILD=" + quote_arg(dir) + " timeout 60 " + quote_arg(exe) +
                      " --gtest_filter=MapGrowthChild.* >" + quote_arg(dir + "/child.txt") +
                      " 2>&1";
    child_status = std::system(cmd.c_str());
    child_done = true;
  });

  Failures failures;
  std::atomic<std::uint64_t> reads{0}, backups{0}, writes{0};
  std::vector<std::thread> threads;
  // Readers: every instance of ours is there, at least as new as its last acknowledged step.
  std::vector<std::atomic<std::uint64_t>> acked(ids.size());
  for (auto& a : acked) a = 1;
  for (int t = 0; t < 2; ++t)
    threads.emplace_back([&, t] {
      while (!child_done) {
        for (std::size_t i = t; i < ids.size(); i += 2) {
          std::uint64_t at_least = acked[i].load();
          auto v = engine->get(ids[i]);
          if (!v)
            failures.add("get " + ids[i] + ": missing");
          else if (v->version < at_least)
            failures.add("get " + ids[i] + ": version went back");
          if (engine->history(ids[i]).size() < at_least)
            failures.add("history " + ids[i] + ": entries missing");
        }
        InstanceQuery q;
        q.definition = "t.grow";
        q.limit = 1000;
        if (engine->query(q).items.size() < ids.size()) failures.add("query: instances missing");
        ++reads;
      }
    });
  // Online backups into fresh directories, one after another.
  threads.emplace_back([&] {
    for (int n = 0; !child_done; ++n) {
      std::string to = dir + "/backup-" + std::to_string(n), error;
      if (!engine->backup(to, &error))
        failures.add("backup: " + error);
      else
        ++backups;
      if (n > 0) std::filesystem::remove_all(dir + "/backup-" + std::to_string(n - 1));
    }
  });
  // Writers: steps that grow this process's map too.
  for (int t = 0; t < 2; ++t)
    threads.emplace_back([&, t] {
      std::string blob(20000, static_cast<char>('a' + t));
      while (!child_done) {
        for (std::size_t i = t; i < ids.size() && !child_done; i += 2) {
          EventRequest e;
          e.instance_id = ids[i];
          e.event = "go";
          e.payload = {{"blob", blob}};
          e.actor = Actor::system();
          auto res = engine->send(e);
          if (!res.ok())
            failures.add("send " + ids[i] + ": " + res.message);
          else
            acked[i] = res.instance->version;
          ++writes;
        }
      }
    });
  child.join();
  for (auto& th : threads) th.join();

  ASSERT_TRUE(WIFEXITED(child_status) && WEXITSTATUS(child_status) == 0)
      << read_text(dir + "/child.txt");
  EXPECT_EQ(failures.count.load(), 0) << failures.first;
  EXPECT_GT(reads.load(), 0u);
  EXPECT_GT(backups.load(), 0u);
  EXPECT_GT(writes.load(), 0u);
  // Every step of both processes is there, chains intact.
  for (std::size_t i = 0; i < ids.size(); ++i)
    EXPECT_EQ(engine->get(ids[i])->version, acked[i].load());
  for (int i = 0; i < kChildSteps; i += 37)
    EXPECT_TRUE(engine->get_by_business_key("child-" + std::to_string(i)));
  InstanceQuery q;
  q.definition = "t.grow";
  q.limit = 1000;
  EXPECT_EQ(engine->query(q).items.size(), ids.size() + kChildSteps);
  {
    auto report = engine->verify();
    EXPECT_TRUE(report.ok()) << ::testing::PrintToString(report.broken);
  }
  EXPECT_GT(engine->metrics().map_bytes, 8u << 20);
  // The last backup is a sound store.
  std::string last;
  for (const auto& e : std::filesystem::directory_iterator(dir))
    if (e.path().filename().string().rfind("backup-", 0) == 0) last = e.path().string();
  ASSERT_FALSE(last.empty());
  engine->close();
  engine.reset();
  Problems bp;
  auto copy = Engine::open(grow_options(last), bp);
  ASSERT_TRUE(copy) << (bp.items().empty() ? "" : bp.items()[0].to_string());
  EXPECT_TRUE(copy->verify().ok());
  copy->close();
  std::filesystem::remove_all(dir);
}

}  // namespace bihuan::testing
