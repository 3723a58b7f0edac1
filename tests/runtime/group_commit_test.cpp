// Concurrent steps share commits; a refused step never poisons its batch; steps of one
// instance stay in order.
#include <atomic>
#include <future>
#include <map>
#include <mutex>
#include <set>
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

// Duplicates racing each other: the same idempotency keys and business keys submitted from
// several threads at once, so that copies share a batch, sit in consecutive pipelined
// batches (one executing while the other commits) or in separate ones. Exactly one
// instance per key, every copy answered with it, and an event applied once per key.
TEST_F(EngineTest, ConcurrentDuplicatesMakeOneInstanceAndApplyOneEventPerKey) {
  deploy(kCounter);
  constexpr int kThreads = 4, kKeys = 25, kCopies = 4;  // each thread sends every key kCopies times
  std::mutex mu;
  std::map<std::string, std::set<std::string>> by_idem, by_bkey;
  std::atomic<int> left{kThreads * kKeys * kCopies * 2}, wrong{0};
  std::promise<void> all;
  auto finish = [&] {
    if (--left == 0) all.set_value();
  };
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t)
    threads.emplace_back([&, t] {
      for (int c = 0; c < kCopies; ++c)
        for (int k = 0; k < kKeys; ++k) {
          std::string key = std::to_string((k + t * 7) % kKeys);  // threads interleave keys
          StartRequest a;
          a.definition = "t.c";
          a.idempotency_key = "idem-" + key;
          engine_->start_async(a, [&, key](StepResult r) {
            std::lock_guard lock(mu);
            if (!r.ok() || !r.instance)
              ++wrong;
            else
              by_idem[key].insert(r.instance->id);
            finish();
          });
          StartRequest b;
          b.definition = "t.c";
          b.business_key = "bk-" + key;
          b.return_existing = (c % 2) == 1;
          engine_->start_async(b, [&, key](StepResult r) {
            std::lock_guard lock(mu);
            if (r.ok() && r.instance) {
              by_bkey[key].insert(r.instance->id);
            } else if (r.error != StepError::duplicate_business_key) {
              ++wrong;
            }
            finish();
          });
        }
    });
  for (auto& th : threads) th.join();
  ASSERT_EQ(all.get_future().wait_for(std::chrono::seconds(60)), std::future_status::ready);
  EXPECT_EQ(wrong.load(), 0);
  ASSERT_EQ(by_idem.size(), static_cast<std::size_t>(kKeys));
  for (const auto& [key, ids] : by_idem) EXPECT_EQ(ids.size(), 1u) << "idempotency key " << key;
  ASSERT_EQ(by_bkey.size(), static_cast<std::size_t>(kKeys));
  for (const auto& [key, ids] : by_bkey) EXPECT_EQ(ids.size(), 1u) << "business key " << key;
  EXPECT_EQ(engine_->query({.definition = "t.c", .limit = 1000}).items.size(),
            static_cast<std::size_t>(2 * kKeys));

  // The same event (one idempotency key per instance) from every thread at once.
  std::vector<std::string> targets;
  for (const auto& [key, ids] : by_idem) targets.push_back(*ids.begin());
  std::atomic<int> sent_left{kThreads * static_cast<int>(targets.size()) * kCopies};
  std::promise<void> sent_all;
  threads.clear();
  for (int t = 0; t < kThreads; ++t)
    threads.emplace_back([&] {
      for (int c = 0; c < kCopies; ++c)
        for (const auto& id : targets) {
          EventRequest e;
          e.instance_id = id;
          e.event = "inc";
          e.payload = {{"k", 1}};
          e.actor = Actor::system();
          e.idempotency_key = "once";
          engine_->send_async(e, [&](StepResult r) {
            if (!r.ok()) ++wrong;
            if (--sent_left == 0) sent_all.set_value();
          });
        }
    });
  for (auto& th : threads) th.join();
  ASSERT_EQ(sent_all.get_future().wait_for(std::chrono::seconds(60)), std::future_status::ready);
  EXPECT_EQ(wrong.load(), 0);
  reopen();
  for (const auto& id : targets) {
    auto v = engine_->get(id);
    ASSERT_TRUE(v);
    EXPECT_EQ(v->version, 2u) << id;
    EXPECT_EQ(v->data["log"], json::array({1})) << id;
  }
  EXPECT_TRUE(engine_->verify().ok());
}

// Engine::barrier() returns only after every request submitted before it has run its
// callback to the end: what a front end waits for before it destroys what the callbacks
// post to (api/src/server.cpp, at shutdown).
TEST_F(EngineTest, ABarrierReturnsAfterTheCallbacksOfEarlierRequests) {
  deploy(R"({"id": "t.b", "version": 1, "initial": "A",
             "states": {"A": {"on": {"go": {"roles": ["USER"], "target": "B"}}},
                        "B": {"type": "final", "outcome": "done"}}})");
  std::promise<void> release;
  std::atomic<int> order{0};
  int callback_ended = 0, barrier_returned = 0;
  StartRequest s;
  s.definition = "t.b";
  engine_->start_async(s, [&, gate = release.get_future().share()](StepResult) {
    gate.wait();  // held until the test has seen that the barrier waits
    callback_ended = ++order;
  });
  auto barrier = std::async(std::launch::async, [&] {
    engine_->barrier();
    barrier_returned = ++order;
  });
  // The callback is held: a barrier that did not wait for it would return now.
  EXPECT_EQ(barrier.wait_for(std::chrono::milliseconds(200)), std::future_status::timeout);
  release.set_value();
  barrier.get();
  EXPECT_EQ(callback_ended, 1);
  EXPECT_EQ(barrier_returned, 2);
}
