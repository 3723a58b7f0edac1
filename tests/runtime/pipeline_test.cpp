// The durable pipeline (engine/src/runtime/pipeline.cpp): batches executed while the
// previous one commits, another process committing to the same store in between, and
// commits that fail because the file may not grow (RLIMIT_FSIZE: the disk is "full").
#include <signal.h>
#include <sys/resource.h>

#include <atomic>
#include <functional>
#include <future>
#include <mutex>
#include <random>

#include "cli/cli_run.hpp"
#include "engine_fixture.hpp"
#include "family_definitions.hpp"

using namespace bihuan;
using bihuan::testing::at;
using bihuan::testing::EngineTest;

namespace {

const char* kCounter = R"({
  "id": "t.counter", "version": 1, "initial": "OPEN",
  "states": {
    "OPEN": {
      "timers": [{"id": "tick", "after": "P10Y", "set": {"/ticks": {"+": [{"var": "data.ticks"}, 1]}}}],
      "on": {"bump": {"roles": ["USER"], "set": {"/n": {"+": [{"var": "data.n"}, 1]}}},
             "close": {"roles": ["USER"], "target": "DONE"}}
    },
    "DONE": {"type": "final", "outcome": "closed"}
  }
})";

EventRequest bump(const std::string& id, const std::string& event = "bump") {
  EventRequest r;
  r.instance_id = id;
  r.event = event;
  r.actor = {"u1", {"USER"}};
  return r;
}

// Sends `count` events asynchronously (so that batches pipeline) and waits for them all.
std::vector<StepResult> send_all(Engine& e, const std::vector<EventRequest>& requests) {
  std::vector<StepResult> out(requests.size());
  std::vector<std::promise<void>> done(requests.size());
  for (std::size_t i = 0; i < requests.size(); ++i)
    e.send_async(requests[i], [&, i](StepResult r) {
      out[i] = std::move(r);
      done[i].set_value();
    });
  for (auto& d : done) d.get_future().wait();
  return out;
}

}  // namespace

TEST_F(EngineTest, PipelinedStepsOfOneInstanceStayInOrderAcrossBatches) {
  deploy(kCounter);
  std::vector<std::string> ids;
  for (int i = 0; i < 20; ++i)
    ids.push_back(start("t.counter", {{"n", 0}, {"ticks", 0}}).instance->id);
  // 2,000 events on 20 instances, submitted without waiting: many batches, each executed
  // while the one before is committed, reading that one's writes from the overlay.
  std::vector<EventRequest> requests;
  for (int round = 0; round < 100; ++round)
    for (const auto& id : ids) requests.push_back(bump(id));
  auto results = send_all(*engine_, requests);
  std::map<std::string, std::uint64_t> last_version;
  for (std::size_t i = 0; i < results.size(); ++i) {
    ASSERT_TRUE(results[i].ok()) << results[i].message;
    auto& v = last_version[requests[i].instance_id];
    EXPECT_EQ(results[i].instance->version, v ? v + 1 : 2u)
        << "request " << i;  // strictly in submission order
    v = results[i].instance->version;
  }
  EXPECT_GT(engine_->metrics().commits, 2u);
  reopen();
  for (const auto& id : ids) {
    auto got = engine_->get(id);
    ASSERT_TRUE(got);
    EXPECT_EQ(got->data["n"], 100);
    EXPECT_EQ(got->version, 101u);
    EXPECT_EQ(engine_->history(id).size(), 101u);
  }
  EXPECT_TRUE(engine_->verify().ok());
}

TEST_F(EngineTest, AnotherProcessCommittingInBetweenIsSeen) {
  deploy(kCounter);
  auto id = start("t.counter", {{"n", 0}, {"ticks", 0}}).instance->id;
  ASSERT_TRUE(send(id, "bump").ok());
  // The CLI is another process on the same store (on the real clock, before the timer is
  // due): it appends to the history log and changes the record behind this engine's back.
  auto cli = bihuan::testing::run_bihuan(
      dir_, {"send", "-D", dir_, id, "bump", "--actor", "u2", "--role", "USER"});
  ASSERT_EQ(cli.rc, 0) << cli.out << cli.err;
  // A pipelined event: executed on a snapshot that holds the CLI's step; its log keys
  // come after the CLI's.
  auto e = send(id, "bump");
  ASSERT_TRUE(e.ok()) << e.message;
  EXPECT_EQ(engine_->metrics().reexecuted, 1u);  // its first commit attempt found the CLI's stamp
  EXPECT_EQ(e.instance->data["n"], 3);
  EXPECT_EQ(e.instance->version, 4u);
  cli = bihuan::testing::run_bihuan(
      dir_, {"send", "-D", dir_, id, "bump", "--actor", "u2", "--role", "USER"});
  ASSERT_EQ(cli.rc, 0) << cli.out << cli.err;
  // A timer firing (a direct batch) after another foreign step.
  EXPECT_EQ(engine_->advance_to(at("2033-04-03T10:00:00+08:00")), 1u);
  auto got = engine_->get(id);
  EXPECT_EQ(got->data["n"], 4);
  EXPECT_EQ(got->data["ticks"], 1);
  EXPECT_EQ(got->version, 6u);
  auto history = engine_->history(id);
  ASSERT_EQ(history.size(), 6u);
  EXPECT_EQ(history[2].actor, "u2");
  EXPECT_EQ(history[4].actor, "u2");
  EXPECT_TRUE(engine_->verify().ok());
}

// Two nodes on one shared store (PostgreSQL only): once each has had a commit refused by
// the other's, each executes in the writer's turn (runtime/turn.cpp) on a snapshot that
// holds the other's commits, so neither executes a step twice again, one at a time or
// with many in flight on both at once.
TEST_F(EngineTest, TwoNodesOnOneSharedStoreTakeTurnsAndNeitherExecutesAStepTwice) {
  if (!bihuan::testing::on_pg()) GTEST_SKIP() << "a shared store only";
  deploy(kCounter);
  auto id = start("t.counter", {{"n", 0}, {"ticks", 0}}).instance->id;
  EngineOptions o = base_options();
  o.data_dir = bihuan::testing::make_temp_dir("node2");
  Problems p;
  auto second = Engine::open(o, p);
  ASSERT_TRUE(second) << (p.items().empty() ? "" : p.items()[0].to_string());
  for (int i = 0; i < 10; ++i) {
    auto a = send(id, "bump");
    ASSERT_TRUE(a.ok()) << a.message;
    EXPECT_EQ(a.instance->data["n"], 2 * i + 1);
    auto b = second->send(bump(id));
    ASSERT_TRUE(b.ok()) << b.message;
    EXPECT_EQ(b.instance->data["n"], 2 * i + 2);
  }
  // Each had at most its first commit after the other's refused; then they take turns.
  const std::uint64_t refused_first = engine_->metrics().reexecuted,
                      refused_second = second->metrics().reexecuted;
  EXPECT_LE(refused_first, 1u);
  EXPECT_LE(refused_second, 1u);
  // Many in flight on both nodes at once.
  std::vector<EventRequest> many(100, bump(id));
  std::vector<StepResult> on_second;
  std::thread other([&] { on_second = send_all(*second, many); });
  auto on_first = send_all(*engine_, many);
  other.join();
  for (const auto* results : {&on_first, &on_second})
    for (const auto& r : *results) ASSERT_TRUE(r.ok()) << r.message;
  EXPECT_EQ(engine_->get(id)->data["n"], 220);
  EXPECT_EQ(second->get(id)->version, 221u);  // the start and 220 bumps
  for (auto [e, refused] :
       {std::pair{engine_.get(), refused_first}, {second.get(), refused_second}}) {
    auto m = e->metrics();
    EXPECT_GT(m.turns_taken, 0u);
    // A wait for the turn that ran out (a loaded machine: 2 s) executes without it.
    if (m.turn_waits_expired == 0) {
      EXPECT_EQ(m.reexecuted, refused);
    }
  }
  // One of them delivers the outbox (the first to look); when it stops, the other does.
  EXPECT_TRUE(engine_->delivers_outbox());
  EXPECT_FALSE(second->delivers_outbox());
  engine_->close();
  engine_.reset();
  // Its database session ends as its process would let go of it: polled, as a
  // dispatcher does, until the server has ended it.
  bool took = false;
  for (int i = 0; i < 1000 && !(took = second->delivers_outbox()); ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  EXPECT_TRUE(took);
  second->close();
  second.reset();
  std::filesystem::remove_all(o.data_dir);
  open();
  EXPECT_TRUE(engine_->delivers_outbox());
  EXPECT_EQ(engine_->history(id).size(), 221u);
  EXPECT_TRUE(engine_->verify().ok());
}

namespace {

// Limits the size of files this process may write (EFBIG beyond; SIGXFSZ ignored).
struct FileSizeLimit {
  rlimit saved{};
  explicit FileSizeLimit(rlim_t bytes) {
    signal(SIGXFSZ, SIG_IGN);
    getrlimit(RLIMIT_FSIZE, &saved);
    rlimit r = saved;
    r.rlim_cur = bytes;
    setrlimit(RLIMIT_FSIZE, &r);
  }
  void lift() { setrlimit(RLIMIT_FSIZE, &saved); }
  ~FileSizeLimit() { lift(); }
};

}  // namespace

class FullDiskTest : public EngineTest, public ::testing::WithParamInterface<bool> {};

TEST_P(FullDiskTest, AFailedCommitFailsItsStepsAndLosesNothingAcknowledged) {
  SKIP_ON_PG("a full disk under LMDB's map");
  EngineOptions o = base_options();
  o.pipeline = GetParam();
  // At most 50 events (about 200 KB) per batch: however the batches fall on a loaded
  // machine, the first ones fit in the limit below.
  o.max_batch = 50;
  reopen_with(o);
  deploy(kCounter);
  std::vector<std::string> ids;
  for (int i = 0; i < 40; ++i)
    ids.push_back(start("t.counter", {{"n", 0}, {"ticks", 0}}).instance->id);
  // 4,000 events with 3 KB payloads (kept in the history: about a page each), round robin,
  // submitted without waiting: consecutive batches hold steps of the same instances. The
  // payloads are random letters, so that the log's compressed frames still fill the disk.
  std::vector<EventRequest> requests;
  std::mt19937 rng(7);
  for (int round = 0; round < 100; ++round)
    for (const auto& id : ids) {
      requests.push_back(bump(id));
      std::string pad(3000, 'x');
      for (char& c : pad) c = static_cast<char>('a' + rng() % 26);
      requests.back().payload = {{"pad", pad}};
    }
  std::vector<StepResult> results;
  {
    // The file may grow by about 1 MiB more: some hundred events fit, then commits fail.
    std::error_code ec;
    auto size = std::filesystem::file_size(std::filesystem::path(dir_) / "data.mdb", ec);
    ASSERT_FALSE(ec);
    FileSizeLimit limit(size + (1u << 20));
    // The disk gets space again as soon as the first failure is reported: the batches
    // executed on top of the failed one must not commit as they were.
    std::atomic<bool> lifted{false};
    results.resize(requests.size());
    std::vector<std::promise<void>> done(requests.size());
    for (std::size_t i = 0; i < requests.size(); ++i)
      engine_->send_async(requests[i], [&, i](StepResult r) {
        if (!r.ok() && !lifted.exchange(true)) limit.lift();
        results[i] = std::move(r);
        done[i].set_value();
      });
    for (auto& d : done) d.get_future().wait();
  }
  std::map<std::string, std::uint64_t> version;  // per instance: the last acknowledged
  for (const auto& id : ids) version[id] = 1;
  std::size_t ok = 0, failed = 0;
  for (std::size_t i = 0; i < results.size(); ++i) {
    const auto& r = results[i];
    if (r.ok()) {
      ++ok;
      // Acknowledged steps of an instance follow each other: none was built on a lost one.
      auto& v = version[requests[i].instance_id];
      EXPECT_EQ(r.instance->version, v + 1) << "request " << i;
      v = r.instance->version;
    } else {
      ++failed;
      EXPECT_EQ(r.error, StepError::storage_error);
      EXPECT_NE(r.message.find("storage failed, the step was not applied"), std::string::npos)
          << r.message;
    }
  }
  EXPECT_GT(ok, 0u);
  EXPECT_GT(failed, 0u);
  // The limit is gone: the engine goes on where it stopped.
  auto later = send(ids[0], "bump");
  ASSERT_TRUE(later.ok()) << later.message;
  EXPECT_EQ(later.instance->version, version[ids[0]] + 1);
  version[ids[0]]++;
  reopen();
  for (const auto& id : ids) {
    auto got = engine_->get(id);
    ASSERT_TRUE(got);
    EXPECT_EQ(got->version, version[id]) << id;
    EXPECT_EQ(got->data["n"], version[id] - 1) << id;
  }
  EXPECT_TRUE(engine_->verify().ok());
}

INSTANTIATE_TEST_SUITE_P(PipelineOnAndOff, FullDiskTest, ::testing::Bool());

namespace {

// A script of dependent requests addressed by business key, all queued without waiting;
// with max_batch 1 each is its own batch, executed while the one before commits.
// Returns every instance (by business key) as it ends up, and the pending timers.
std::string run_script(const std::string& dir, bool pipeline, std::shared_ptr<VirtualClock> clock) {
  EngineOptions o;
  o.data_dir = dir;
  o.store = bihuan::testing::fresh_store();
  o.clock = std::move(clock);
  o.pipeline = pipeline;
  o.max_batch = 1;
  Problems p;
  auto engine = Engine::open(o, p);
  EXPECT_TRUE(engine);
  if (!engine) return {};
  EXPECT_TRUE(engine->deploy(json::parse(bihuan::testing::kChild), "t").ok);
  EXPECT_TRUE(engine->deploy(json::parse(bihuan::testing::kParent), "t").ok);
  std::vector<std::function<void(std::function<void(StepResult)>)>> script;
  std::vector<std::string> keys;
  for (int n = 0; n < 6; ++n) {
    std::string parent = "P" + std::to_string(n);
    std::vector<std::string> items;
    for (int k = 0; k < 3; ++k) items.push_back(parent + "-" + std::to_string(k));
    keys.push_back(parent);
    for (const auto& i : items) keys.push_back("child:" + i);
    script.push_back([&, parent, items](auto done) {
      StartRequest r;
      r.definition = "t.parent";
      r.business_key = parent;
      r.data = {{"items", items}, {"owner", "w1"}, {"done", 0}};
      engine->start_async(std::move(r), std::move(done));
    });
    auto event = [&](std::string key, std::string name, json payload) {
      script.push_back([&, key, name, payload](auto done) {
        EventRequest r;
        r.business_key = key;
        r.event = name;
        r.payload = payload;
        r.actor = {"w1", {"ADMIN", "WORKER"}};
        engine->send_async(std::move(r), std::move(done));
      });
    };
    event(parent, "poke", {{"which", items[1]}});
    event("child:" + items[0], "finish", json::object());
    event("child:" + items[1], "finish", json::object());
    if (n % 2 == 0) event("child:" + items[2], "finish", json::object());
    event("child:" + items[0], "finish", json::object());  // refused: already ended
  }
  std::vector<std::promise<StepResult>> results(script.size());
  for (std::size_t i = 0; i < script.size(); ++i)
    script[i]([&results, i](StepResult r) { results[i].set_value(std::move(r)); });
  std::string out;
  for (auto& r : results) {
    auto got = r.get_future().get();
    out += got.ok() ? "ok " : std::string(to_string(got.error)) + " ";
  }
  out += "\n";
  for (const auto& key : keys) {
    auto v = engine->get_by_business_key(key);
    if (!v) {
      out += key + ": missing\n";
      continue;
    }
    out += key + ": " + v->state + " v" + std::to_string(v->version) + " " +
           std::string(to_string(v->status)) + " " + v->data.dump() + "\n";
  }
  out += "timers " + std::to_string(engine->pending_timers()) + " outbox " +
         std::to_string(engine->outbox(1000, 0).size()) + " verify " +
         (engine->verify().ok() ? "ok" : "FAILED");
  engine->close();
  return out;
}

}  // namespace

TEST_F(EngineTest, PipelinedBatchesGiveTheSameResultsAsOneBatchAtATime) {
  auto one_at_a_time = run_script(dir_ + "/direct", false, clock_);
  auto pipelined = run_script(dir_ + "/pipelined", true, clock_);
  EXPECT_EQ(pipelined, one_at_a_time);
  // The script did what it says: children finished, parents heard of it, pokes arrived.
  EXPECT_NE(pipelined.find("P0: ALL_DONE"), std::string::npos) << pipelined;
  EXPECT_NE(pipelined.find("P1: RUN"), std::string::npos) << pipelined;
  EXPECT_NE(pipelined.find("\"pokedBy\":\"w1\""), std::string::npos) << pipelined;
  EXPECT_NE(pipelined.find("instance-ended"), std::string::npos) << pipelined;
  EXPECT_NE(pipelined.find("verify ok"), std::string::npos) << pipelined;
}
