// Timer look-ahead (engine/src/runtime/ahead.cpp): a burst of timers due in one
// millisecond is executed before it falls due and committed when the clock reaches it.
// The look-ahead only runs with a clock that is not virtual, so these tests drive a
// ManualClock (time moves only when the test sets it) and wake the writer with a request;
// they wait only for conditions the engine reports (metrics), never for time to pass.
#include <gtest/gtest.h>

#include <sys/wait.h>

#include <chrono>
#include <cstdlib>
#include <thread>

#include "cli/cli_run.hpp"
#include "engine_fixture.hpp"

namespace bihuan::testing {
namespace {

class ManualClock final : public Clock {
 public:
  explicit ManualClock(TimePoint t) : ms_(t.time_since_epoch().count()) {}
  TimePoint now() const override { return TimePoint(Millis(ms_.load())); }
  void set(TimePoint t) { ms_ = t.time_since_epoch().count(); }

 private:
  std::atomic<std::int64_t> ms_;
};

// Polls `done` (1 ms apart, 10 s at most) for something another thread of the engine
// does; true once it holds. Used only for what the engine reports, never to let time pass.
template <class Done>
bool eventually(Done done) {
  for (int i = 0; i < 10000; ++i) {
    if (done()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  return done();
}

const char* kBurst = R"({
  "id": "t.burst", "version": 1, "initial": "WAIT",
  "states": {
    "WAIT": {
      "timers": [{"id": "due", "at": {"var": "data.due"}, "event": "ring"}],
      "on": {"ring": {"roles": ["system"], "target": "RUNG", "set": {"/rungAt": {"var": "now"}}},
             "leave": {"roles": ["USER"], "target": "DONE"}}
    },
    "RUNG": {"timers": [{"id": "later", "after": "PT1H", "target": "DONE"}]},
    "DONE": {"type": "final", "outcome": "done"}
  }
})";

constexpr int kBurstSize = 100;  // above the look-ahead's minimum of 64

// On a shared store the engine does not execute bursts ahead: its committer would hold
// the writer's turn, and with it every other node, until the due time (engine_impl.cpp,
// schedule_timers).
constexpr const char* kNoAheadOnSharedStores = "no look-ahead on a shared store";

class AheadTest : public EngineTest {
 protected:
  void SetUp() override {
    dir_ = make_temp_dir("ahead");
    init_store();
    manual_ = std::make_shared<ManualClock>(at("2033-04-03T09:00:00Z"));
    open_with(options());
    deploy(kBurst);
    for (int i = 0; i < kBurstSize; ++i)
      ids_.push_back(start("t.burst", {{"due", "2033-04-03T10:00:00Z"}}).instance->id);
    far_ = start("t.burst", {{"due", "2033-05-01T00:00:00Z"}}).instance->id;
  }
  EngineOptions options() const {
    EngineOptions o = base_options();
    o.clock = manual_;  // not virtual: the engine fires timers by itself
    return o;
  }
  // Moves the clock to `before` the burst (400 ms: long before the committer's lead of
  // 10 ms) and wakes the writer with a step; waits until the engine says it executed the
  // burst ahead.
  void prepare(Millis before = Millis(400)) {
    manual_->set(due_ - before);
    before_ = engine_->metrics().timers_ahead;
    ASSERT_TRUE(start("t.burst", {{"due", "2033-06-01T00:00:00Z"}}).ok());
    ASSERT_TRUE(
        eventually([&] { return engine_->metrics().timers_ahead == before_ + kBurstSize; }));
  }
  int in_state(const std::string& state) const {
    int n = 0;
    for (const auto& id : ids_) n += engine_->get(id)->state == state;
    return n;
  }

  std::shared_ptr<ManualClock> manual_;
  const TimePoint due_ = at("2033-04-03T10:00:00Z");
  std::vector<std::string> ids_;
  std::string far_;
  std::uint64_t before_ = 0;
};

TEST_F(AheadTest, ABurstExecutedAheadIsCommittedAtItsDueTimeAsIfItFiredThen) {
  SKIP_ON_PG(kNoAheadOnSharedStores);
  prepare();
  // Executed, not written: the store still holds every timer and every instance waits.
  EXPECT_EQ(engine_->pending_timers(), static_cast<std::size_t>(kBurstSize + 2));
  EXPECT_EQ(in_state("WAIT"), kBurstSize);

  manual_->set(due_ + Millis(7));
  engine_->advance_to(manual_->now());  // a sweep: the writer hands the burst off first
  EXPECT_EQ(in_state("RUNG"), kBurstSize);
  for (const auto& id : ids_) {
    auto h = engine_->history(id);
    ASSERT_EQ(h.size(), 2u);
    EXPECT_EQ(h.back().kind, "timer");
    EXPECT_EQ(h.back().at, due_) << "fired at its due time, not when the clock was looked at";
    EXPECT_EQ(engine_->get(id)->data["rungAt"], "2033-04-03T18:00:00+08:00");  // the default zone
  }
  // What the firings armed is relative to the due time: RUNG's timer, one hour later.
  EXPECT_EQ(engine_->next_timer_due(), due_ + std::chrono::hours(1));
  auto m = engine_->metrics();
  EXPECT_EQ(m.timers_ahead_dropped, 0u);
  EXPECT_GE(m.timers_fired, static_cast<std::uint64_t>(kBurstSize));
  EXPECT_TRUE(engine_->verify().ok());

  // Durable: the commit is there after a restart, and the timers it consumed are gone.
  reopen_with(options());
  EXPECT_EQ(in_state("RUNG"), kBurstSize);
  EXPECT_EQ(engine_->get(far_)->state, "WAIT");
  EXPECT_EQ(engine_->pending_timers(), static_cast<std::size_t>(kBurstSize + 2));  // RUNG's + 2 far
}

TEST_F(AheadTest, AStepBeforeTheDueTimeDropsTheBurstAndTheTimersFireTheUsualWay) {
  SKIP_ON_PG(kNoAheadOnSharedStores);
  prepare();
  // A person acts before the due time: the burst was executed on a store this step
  // changes, so it is dropped unwritten.
  ASSERT_TRUE(send(ids_[0], "leave").ok());
  EXPECT_EQ(engine_->metrics().timers_ahead_dropped, static_cast<std::uint64_t>(kBurstSize));
  EXPECT_EQ(engine_->get(ids_[0])->state, "DONE");
  EXPECT_EQ(in_state("WAIT"), kBurstSize - 1);
  EXPECT_EQ(engine_->history(ids_[1]).size(), 1u);

  // The usual sweep fires the rest once, at the clock's reading.
  manual_->set(due_ + Millis(5));
  engine_->advance_to(manual_->now());
  EXPECT_EQ(in_state("RUNG"), kBurstSize - 1);
  EXPECT_EQ(engine_->history(ids_[1]).back().at, due_ + Millis(5));
  EXPECT_EQ(engine_->history(ids_[1]).size(), 2u);
  EXPECT_EQ(engine_->history(ids_[0]).size(), 2u);  // start, leave: no firing after it
  // The ids and log numbers the dropped burst took are given back: the next ones follow on.
  EXPECT_TRUE(start("t.burst", {{"due", "2033-06-01T00:00:00Z"}}).ok());
  EXPECT_TRUE(engine_->verify().ok());
}

TEST_F(AheadTest, AnotherProcessCommittingFirstSendsTheBurstBackAndNothingFiresEarly) {
  SKIP_ON_PG(kNoAheadOnSharedStores);
  prepare();
  // The CLI is another process on the same store (on the real clock, years before these
  // timers are due): it commits while the committer holds
  // the burst (before the burst's transaction begins, 10 ms before the due time here).
  auto cli =
      run_bihuan(dir_, {"send", "-D", dir_, ids_[0], "leave", "--actor", "u2", "--role", "USER"});
  ASSERT_EQ(cli.rc, 0) << cli.out << cli.err;
  // 5 ms before the due time the committer begins the transaction, finds the CLI's
  // commit and hands the burst's sweep back, which runs again at once: up to the clock,
  // not up to the due time, so nothing fires yet.
  manual_->set(due_ - Millis(5));
  ASSERT_TRUE(eventually([&] { return engine_->metrics().reexecuted == 1; }));
  ASSERT_TRUE(
      start("t.burst", {{"due", "2033-06-01T00:00:00Z"}}).ok());  // after the sweep sent back
  EXPECT_EQ(in_state("WAIT"), kBurstSize - 1);
  EXPECT_EQ(engine_->history(ids_[1]).size(), 1u);
  EXPECT_EQ(engine_->get(ids_[0])->state, "DONE");

  manual_->set(due_ + Millis(7));
  engine_->advance_to(manual_->now());
  EXPECT_EQ(in_state("RUNG"), kBurstSize - 1);
  EXPECT_EQ(engine_->history(ids_[1]).size(), 2u);
  EXPECT_EQ(engine_->history(ids_[0]).size(), 2u);  // start and the CLI's leave
  EXPECT_TRUE(engine_->verify().ok());
}

TEST_F(AheadTest, TheBurstsTransactionIsLetGoWhenTheClockDoesNotReachTheDueTime) {
  SKIP_ON_PG(kNoAheadOnSharedStores);
  // 5 ms before the due time, inside its lead of 10 ms, the committer begins the burst's
  // transaction as soon as it gets the burst, and holds it; this clock then stands still,
  // as a wall clock set back would.
  prepare(Millis(5));
  // Another process needs the writer lock. The committer holds the transaction at most
  // twice the lead (steady time), then lets it go for a lead's time: the CLI gets through
  // (`timeout` turns a writer lock held for good into a failure instead of a hang).
  std::string cmd = "cd " + shell_quote(dir_) + " && timeout 20 env -u BIHUAN_DATA " +
                    shell_quote(BIHUAN_CLI) + " send -D " + shell_quote(dir_) + " " + ids_[0] +
                    " leave --actor u2 --role USER >out.txt 2>err.txt";
  int status = std::system(cmd.c_str());
  ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0)
      << read_file(std::filesystem::path(dir_) / "err.txt");
  // The burst, executed on the store before the CLI's step, is sent back and nothing fires
  // before the due time.
  EXPECT_TRUE(eventually([&] { return engine_->metrics().reexecuted == 1; }));
  ASSERT_TRUE(start("t.burst", {{"due", "2033-06-01T00:00:00Z"}}).ok());
  EXPECT_EQ(in_state("WAIT"), kBurstSize - 1);
  manual_->set(due_ + Millis(7));
  engine_->advance_to(manual_->now());
  EXPECT_EQ(in_state("RUNG"), kBurstSize - 1);
  EXPECT_EQ(engine_->history(ids_[1]).size(), 2u);
  EXPECT_TRUE(engine_->verify().ok());
}

TEST_F(AheadTest, ClosingBeforeTheDueTimeWritesNothingOfTheBurst) {
  SKIP_ON_PG(kNoAheadOnSharedStores);
  prepare();
  engine_->close();
  manual_->set(due_ - Millis(2000));  // the next engine looks further ahead than this
  reopen_with(options());
  EXPECT_EQ(in_state("WAIT"), kBurstSize);
  EXPECT_EQ(engine_->pending_timers(), static_cast<std::size_t>(kBurstSize + 2));
  manual_->set(due_ + Millis(1));
  engine_->advance_to(manual_->now());
  EXPECT_EQ(in_state("RUNG"), kBurstSize);
  for (const auto& id : ids_) EXPECT_EQ(engine_->history(id).size(), 2u);  // fired once
  EXPECT_TRUE(engine_->verify().ok());
}

TEST_F(AheadTest, FewTimersDueTogetherFireTheUsualWay) {
  // Fewer than the minimum due in one millisecond: nothing is executed ahead.
  std::vector<std::string> few;
  for (int i = 0; i < 10; ++i)
    few.push_back(start("t.burst", {{"due", "2033-04-03T09:30:00Z"}}).instance->id);
  manual_->set(at("2033-04-03T09:30:00Z") - Millis(400));
  ASSERT_TRUE(start("t.burst", {{"due", "2033-06-01T00:00:00Z"}}).ok());
  manual_->set(at("2033-04-03T09:30:00Z"));
  engine_->advance_to(manual_->now());
  for (const auto& id : few) EXPECT_EQ(engine_->get(id)->state, "RUNG");
  EXPECT_EQ(engine_->metrics().timers_ahead, 0u);
}

// Found by the crash test's burst rounds: the writer sets its timer right after it hands a
// batch to the committer, before that commit records the batch's timers. On an engine
// with no other timer pending it then slept until the next request, and a timer the
// batch armed did not fire when due. The committer now wakes it for a sooner timer.
TEST(RealClockTimers, ATimerArmedByTheOnlyBatchOfAnIdleEngineFiresWhenDue) {
  auto dir = make_temp_dir("idle-timer");
  auto clock = std::make_shared<ManualClock>(at("2033-04-03T09:00:00Z"));
  EngineOptions o;
  o.data_dir = dir;
  o.store = bihuan::testing::fresh_store();
  o.clock = clock;  // not virtual: the engine fires timers by itself
  Problems p;
  auto engine = Engine::open(o, p);
  ASSERT_TRUE(engine);
  ASSERT_TRUE(engine->deploy(json::parse(kBurst), "test").ok);
  StartRequest r;
  r.definition = "t.burst";
  r.data = {{"due", "2033-04-03T09:00:00.050Z"}};
  auto id = engine->start(r).instance->id;
  clock->set(at("2033-04-03T09:00:00.050Z"));
  // No request follows: only the engine's own timer can fire it (it looks at the clock
  // at most 50 ms after it is due here).
  EXPECT_TRUE(eventually([&] { return engine->get(id)->state == "RUNG"; }));
  engine->close();
  engine.reset();
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace bihuan::testing
