// Concurrent steps share commits; a refused step never poisons its batch; steps of one
// instance stay in order.
#include <future>
#include <thread>

#include "engine_fixture.hpp"

using namespace bihuan;
using bihuan::testing::EngineTest;

namespace {
const char* kCounter = R"({"id": "t.c", "version": 1, "initial": "A", "states": {
  "A": {"on": {"inc": {"roles": ["system"], "set": {"/log/-": {"var": "event.payload.k"}}},
               "end": {"roles": ["system"], "target": "B"}}},
  "B": {"type": "final", "outcome": "ok"}}})";
}

TEST_F(EngineTest, RefusedStepsDoNotPoisonTheirBatchAndOrderIsKept) {
  deploy(kCounter);
  std::vector<std::string> ids;
  for (int i = 0; i < 10; ++i) ids.push_back(start("t.c").instance->id);
  std::vector<std::promise<StepResult>> results(400);
  std::vector<std::future<StepResult>> futures;
  for (auto& p : results) futures.push_back(p.get_future());
  for (int k = 0; k < 400; ++k) {
    EventRequest r;
    r.instance_id = ids[k % 10];
    r.event = k % 4 == 3 ? "nonsense" : "inc";  // every fourth is refused
    r.payload = {{"k", k}};
    r.actor = Actor::system();
    engine_->send_async(r, [&results, k](StepResult res) { results[k].set_value(std::move(res)); });
  }
  int ok = 0, refused = 0;
  for (int k = 0; k < 400; ++k) {
    auto res = futures[k].get();
    if (k % 4 == 3) {
      EXPECT_EQ(res.error, StepError::unknown_event);
      ++refused;
    } else {
      EXPECT_TRUE(res.ok()) << res.message;
      ++ok;
    }
  }
  EXPECT_EQ(ok, 300);
  EXPECT_EQ(refused, 100);
  for (int i = 0; i < 10; ++i) {
    auto v = engine_->get(ids[i]);
    // Steps of one instance applied in submission order.
    std::vector<int> expected;
    for (int k = i; k < 400; k += 10)
      if (k % 4 != 3) expected.push_back(k);
    EXPECT_EQ(v->version, 1 + expected.size());
    EXPECT_EQ(v->data["log"].get<std::vector<int>>(), expected);
  }
  EXPECT_TRUE(engine_->verify().ok());
}

TEST_F(EngineTest, ManyThreadsStartingAndSendingLoseNothing) {
  deploy(kCounter);
  constexpr int kThreads = 8, kPer = 50;
  std::vector<std::thread> threads;
  std::vector<std::vector<std::string>> made(kThreads);
  for (int t = 0; t < kThreads; ++t)
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPer; ++i) {
        StartRequest s;
        s.definition = "t.c";
        s.business_key = "t" + std::to_string(t) + "-" + std::to_string(i);
        auto r = engine_->start(s);
        if (!r.ok()) continue;
        EventRequest e;
        e.instance_id = r.instance->id;
        e.event = "inc";
        e.payload = {{"k", i}};
        e.actor = Actor::system();
        if (engine_->send(e).ok()) made[t].push_back(r.instance->id);
      }
    });
  for (auto& th : threads) th.join();
  std::size_t total = 0;
  for (const auto& m : made) {
    total += m.size();
    for (const auto& id : m) EXPECT_EQ(engine_->get(id)->version, 2u);
  }
  EXPECT_EQ(total, static_cast<std::size_t>(kThreads * kPer));
  reopen();
  EXPECT_EQ(engine_->query({.definition = "t.c", .limit = 1000}).items.size(), total);
}

TEST_F(EngineTest, ACommitGroupCommitsItsAsyncRequestsTogether) {
  deploy(R"({"id": "g.one", "version": 1, "initial": "A", "states": {
    "A": {"on": {"go": {"roles": ["USER"], "target": "B"}}}, "B": {"type": "final", "outcome": "done"}}})");
  std::vector<std::string> ids;
  for (int i = 0; i < 20; ++i) ids.push_back(start("g.one").instance->id);
  auto before = engine_->metrics().commits;
  std::atomic<int> ok = 0, left = 40;
  std::promise<void> all;
  {
    CommitGroup group(*engine_);
    for (const auto& id : ids) {
      EventRequest r;
      r.instance_id = id;
      r.event = "go";
      r.actor = {"u1", {"USER"}};
      auto done = [&](StepResult res) {
        if (res.ok()) ++ok;
        if (--left == 0) all.set_value();
      };
      engine_->send_async(r, done);
      engine_->send_async(r, done);  // the second is refused (the instance has ended)
    }
  }
  all.get_future().wait();
  EXPECT_EQ(ok.load(), 20);
  EXPECT_EQ(engine_->metrics().commits - before, 1u);
}
