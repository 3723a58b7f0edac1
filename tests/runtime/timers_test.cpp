// Every timer kind on the virtual clock: no sleeps, exact due times.
#include <atomic>
#include <future>

#include "engine_fixture.hpp"

using namespace bihuan;
using bihuan::testing::at;
using bihuan::testing::EngineTest;

namespace {

const char* kTimers = R"({
  "id": "t.timers", "version": 1, "calendar": "cn-mainland", "initial": "WAIT",
  "states": {
    "WAIT": {
      "timers": [
        {"id": "soon", "after": "PT2H", "event": "ring"},
        {"id": "tick", "every": "P1D", "limit": 3, "set": {"/ticks": {"+": [{"var": "data.ticks"}, 1]}}}
      ],
      "on": {"ring": {"roles": ["system"], "target": "RUNG", "set": {"/rungAt": {"var": "now"}}},
             "leave": {"roles": ["USER"], "target": "RUNG"}}
    },
    "RUNG": {
      "timers": [{"id": "wd", "after": "P2D", "workingDays": true, "target": "WORKDAY"},
                 {"id": "fixed", "at": {"var": "data.fixedAt"}, "target": "FIXED"}],
      "on": {"skip": {"roles": ["USER"], "target": "DONE"}}
    },
    "WORKDAY": {"timers": [{"id": "q", "after": "P3M", "target": "DONE"}]},
    "FIXED": {"type": "final", "outcome": "fixed"},
    "DONE": {"type": "final", "outcome": "done"}
  }
})";

const char* kDeadline = R"({
  "id": "t.deadline", "version": 1, "calendar": "cn-mainland", "initial": "TASK",
  "states": {
    "TASK": {
      "deadline": {"after": "P3D", "workingDays": true,
                   "remind": [{"offset": "-P1D", "actions": [{"notify": "log", "to": "cadre-1", "template": "提醒：{{data.name}} 明天到期"}]}],
                   "overdue": {"set": {"/overdue": true}, "actions": [{"notify": "log", "to": "admin", "template": "逾期"}]},
                   "escalate": [{"offset": "P2D", "event": "escalate"}]},
      "on": {"done": {"roles": ["USER"], "target": "DONE"},
             "escalate": {"roles": ["system"], "target": "ESCALATED"}}
    },
    "ESCALATED": {"on": {"done": {"roles": ["BOSS"], "target": "DONE"}}, "deadline": {"after": "P1D"}},
    "DONE": {"type": "final", "outcome": "done"}
  }
})";

}  // namespace

TEST_F(EngineTest, AfterTimerFiresExactlyAtDueAndOnce) {
  deploy(kTimers);
  auto id = start("t.timers", {{"ticks", 0}, {"fixedAt", nullptr}}).instance->id;
  EXPECT_EQ(engine_->next_timer_due(), at("2023-04-03T11:00:00+08:00"));
  EXPECT_EQ(engine_->advance_to(at("2023-04-03T10:59:59+08:00")), 0u);
  EXPECT_EQ(engine_->get(id)->state, "WAIT");
  EXPECT_EQ(engine_->advance_to(at("2023-04-03T11:00:00+08:00")), 1u);
  auto v = engine_->get(id);
  EXPECT_EQ(v->state, "RUNG");
  EXPECT_EQ(v->data["rungAt"], "2023-04-03T11:00:00+08:00");
  EXPECT_EQ(v->data["ticks"], 0);  // the daily tick was cancelled when WAIT was left
  auto h = engine_->history(id);
  ASSERT_EQ(h.size(), 2u);
  EXPECT_EQ(h[1].kind, "timer");
  EXPECT_EQ(h[1].event, "ring");
  EXPECT_EQ(h[1].actor, "system");
}

TEST_F(EngineTest, RepeatingTimerHonoursLimitAndStopsOnExit) {
  json def = json::parse(kTimers);
  def["states"]["WAIT"]["timers"][0]["after"] = "P10D";
  deploy(def.dump());
  auto id = start("t.timers", {{"ticks", 0}}).instance->id;
  EXPECT_EQ(engine_->advance_to(at("2023-04-08T09:00:00+08:00")), 3u);
  EXPECT_EQ(engine_->get(id)->data["ticks"], 3);
  EXPECT_EQ(engine_->get(id)->version, 4u);
  EXPECT_EQ(engine_->pending_timers(), 1u);  // only "soon" is left
}

TEST_F(EngineTest, WorkingDayTimerSkipsTheNationalDayHoliday) {
  clock_->set(at("2023-09-28T09:00:00+08:00"));
  deploy(kTimers);
  auto id = start("t.timers", {{"ticks", 0}}).instance->id;
  ASSERT_TRUE(send(id, "leave").ok());
  // Sep 29 - Oct 6 is a holiday; Oct 7 (Sat) and Oct 8 (Sun) are make-up working days.
  EXPECT_EQ(engine_->next_timer_due(), at("2023-10-08T09:00:00+08:00"));
  engine_->advance_to(at("2023-10-08T09:00:00+08:00"));
  EXPECT_EQ(engine_->get(id)->state, "WORKDAY");
  EXPECT_EQ(engine_->next_timer_due(), at("2024-01-08T09:00:00+08:00"));  // P3M, calendar time
  engine_->advance_to(at("2024-01-08T09:00:00+08:00"));
  EXPECT_EQ(engine_->get(id)->status, InstanceStatus::completed);
  EXPECT_EQ(engine_->pending_timers(), 0u);
}

TEST_F(EngineTest, AbsoluteTimerFromData) {
  deploy(kTimers);
  auto id =
      start("t.timers", {{"ticks", 0}, {"fixedAt", "2023-04-03T15:30:00+08:00"}}).instance->id;
  ASSERT_TRUE(send(id, "leave").ok());
  engine_->advance_to(at("2023-04-03T15:29:59+08:00"));
  EXPECT_EQ(engine_->get(id)->state, "RUNG");
  engine_->advance_to(at("2023-04-03T16:00:00+08:00"));
  EXPECT_EQ(engine_->get(id)->outcome, "fixed");
}

TEST_F(EngineTest, TimersSurviveRestartAndLateOnesFireInDueOrder) {
  deploy(kTimers);
  auto a = start("t.timers", {{"ticks", 0}}).instance->id;
  clock_->advance(std::chrono::minutes(30));
  auto b = start("t.timers", {{"ticks", 0}}).instance->id;
  reopen();
  EXPECT_EQ(engine_->pending_timers(), 4u);
  engine_->advance_to(at("2023-04-03T12:00:00+08:00"));
  auto ha = engine_->history(a), hb = engine_->history(b);
  ASSERT_EQ(ha.size(), 2u);
  ASSERT_EQ(hb.size(), 2u);
  EXPECT_EQ(ha[1].at, at("2023-04-03T11:00:00+08:00"));
  EXPECT_EQ(hb[1].at, at("2023-04-03T11:30:00+08:00"));
  EXPECT_TRUE(engine_->verify().ok());
}

TEST_F(EngineTest, DeadlineRemindsThenMarksOverdueThenEscalates) {
  deploy(kDeadline);
  // Mon 2023-04-03 09:00 + 3 working days = Thu 04-06 09:00 (Apr 5 is Qingming).
  auto s = start("t.deadline", {{"name", "食堂"}});
  ASSERT_TRUE(s.ok()) << s.message;
  EXPECT_EQ(*s.instance->deadline, at("2023-04-07T09:00:00+08:00"));
  auto id = s.instance->id;
  // Reminder one working day before: 04-06 (04-05 is a holiday, so -1 WD from 04-07 is 04-06).
  engine_->advance_to(at("2023-04-06T09:00:00+08:00"));
  auto out = engine_->outbox();
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].body["text"], "提醒：食堂 明天到期");
  EXPECT_EQ(out[0].body["to"], json::array({"cadre-1"}));
  engine_->advance_to(at("2023-04-07T09:00:00+08:00"));
  EXPECT_EQ(engine_->get(id)->data["overdue"], true);
  EXPECT_EQ(engine_->get(id)->state, "TASK");
  EXPECT_EQ(engine_->outbox().size(), 2u);
  // Escalation two working days after the deadline (Fri): Tue 04-11 (weekend skipped).
  engine_->advance_to(at("2023-04-11T08:59:59+08:00"));
  EXPECT_EQ(engine_->get(id)->state, "TASK");
  engine_->advance_to(at("2023-04-11T09:00:00+08:00"));
  EXPECT_EQ(engine_->get(id)->state, "ESCALATED");
  EXPECT_EQ(send(id, "done").error, StepError::role_not_allowed);
  EXPECT_TRUE(send(id, "done", json::object(), {"boss", {"BOSS"}}).ok());
}

TEST_F(EngineTest, RefusedTimerEventIsConsumedAndRecorded) {
  json def = json::parse(kTimers);
  def["states"]["WAIT"]["on"]["ring"]["guard"] =
      json::parse(R"({"==": [{"var": "data.allow"}, true]})");
  deploy(def.dump());
  auto id = start("t.timers", {{"ticks", 0}, {"allow", false}}).instance->id;
  engine_->advance_to(at("2023-04-03T11:00:00+08:00"));
  auto v = engine_->get(id);
  EXPECT_EQ(v->state, "WAIT");
  auto h = engine_->history(id);
  ASSERT_EQ(h.size(), 2u);
  EXPECT_EQ(h[1].payload["refused"], "guard-false");
  EXPECT_EQ(engine_->advance_to(at("2023-04-03T12:00:00+08:00")), 0u);  // not fired twice
  EXPECT_TRUE(engine_->verify().ok());
}

TEST_F(EngineTest, AYearOfQuarterlyTimersRunsInstantly) {
  const char* quarterly = R"({"id": "t.q", "version": 1, "initial": "RUN", "states": {
    "RUN": {"timers": [{"id": "q", "every": "P3M", "set": {"/n": {"+": [{"var": "data.n"}, 1]}}}],
            "on": {"stop": {"roles": ["ADMIN"], "target": "END"}}, "deadline": {"after": "P2Y"}},
    "END": {"type": "final", "outcome": "stopped"}}})";
  deploy(quarterly);
  std::vector<std::string> ids;
  for (int i = 0; i < 100; ++i) ids.push_back(start("t.q", {{"n", 0}}).instance->id);
  EXPECT_EQ(engine_->advance_to(at("2024-04-03T09:00:00+08:00")), 400u);
  for (const auto& id : ids) EXPECT_EQ(engine_->get(id)->data["n"], 4);
}

TEST_F(EngineTest, OneAdvanceIsOneCommitAndEachTimerSeesItsOwnDueTime) {
  deploy(kTimers);
  // Ten instances started a minute apart: ten distinct due times (11:00 .. 11:09).
  std::vector<std::string> ids;
  for (int i = 0; i < 10; ++i) {
    ids.push_back(start("t.timers", {{"ticks", 0}}).instance->id);
    clock_->advance(std::chrono::minutes(1));
  }
  auto before = engine_->metrics();
  EXPECT_EQ(engine_->advance_to(at("2023-04-03T12:00:00+08:00")), 10u);
  EXPECT_EQ(engine_->metrics().commits - before.commits, 1u);
  EXPECT_EQ(engine_->metrics().timers_fired - before.timers_fired, 10u);
  for (int i = 0; i < 10; ++i) {
    auto h = engine_->history(ids[i]);
    ASSERT_EQ(h.size(), 2u);
    EXPECT_EQ(h[1].at, at("2023-04-03T11:00:00+08:00") + std::chrono::minutes(i));
    EXPECT_EQ(engine_->get(ids[i])->data["rungAt"],
              format_time(h[1].at, *TimeZone::load("Asia/Shanghai")));
  }
  EXPECT_EQ(clock_->now(), at("2023-04-03T12:00:00+08:00"));
  EXPECT_TRUE(engine_->verify().ok());
}

TEST_F(EngineTest, TimersArmedByASweepAndDueWithinItFireInTheSameSweep) {
  // Each step arms the next state's timer one hour later: three hops within one advance.
  deploy(R"({"id": "t.chain", "version": 1, "initial": "A", "states": {
    "A": {"timers": [{"id": "a", "after": "PT1H", "target": "B"}]},
    "B": {"timers": [{"id": "b", "after": "PT1H", "target": "C"}]},
    "C": {"timers": [{"id": "c", "after": "PT1H", "target": "D"}]},
    "D": {"type": "final", "outcome": "done"}}})");
  auto id = start("t.chain").instance->id;
  auto before = engine_->metrics().commits;
  EXPECT_EQ(engine_->advance_to(at("2023-04-03T11:30:00+08:00")), 2u);
  EXPECT_EQ(engine_->metrics().commits - before, 1u);
  EXPECT_EQ(engine_->get(id)->state, "C");
  EXPECT_EQ(engine_->advance_to(at("2023-04-03T12:00:00+08:00")), 1u);
  auto h = engine_->history(id);
  ASSERT_EQ(h.size(), 4u);
  EXPECT_EQ(h[3].at, at("2023-04-03T12:00:00+08:00"));
  EXPECT_EQ(engine_->get(id)->outcome, "done");
}

// A sweep walks on from the key it fired, and the next sweep from where the last one
// ended (EngineImpl's timer floor): a timer armed with a due time before either position
// (an `at` already past) must still fire, in the same sweep or the next one.
const char* kPast = R"({"id": "t.past", "version": 1, "initial": "A", "states": {
  "A": {"timers": [{"id": "a", "after": "PT1H", "target": "B"}],
        "on": {"go": {"roles": ["USER"], "target": "B"}}},
  "B": {"timers": [{"id": "b", "at": {"var": "data.pastAt"}, "target": "C"}]},
  "C": {"type": "final", "outcome": "done"}}})";

TEST_F(EngineTest, ATimerArmedBeforeTheSweepsPositionFiresInTheSameSweep) {
  deploy(kPast);
  // Fired at 10:00, A arms B's timer for 09:30: before the key just fired.
  auto id = start("t.past", {{"pastAt", "2023-04-03T09:30:00+08:00"}}).instance->id;
  EXPECT_EQ(engine_->advance_to(at("2023-04-03T10:30:00+08:00")), 2u);
  EXPECT_EQ(engine_->get(id)->outcome, "done");
}

TEST_F(EngineTest, ATimerArmedInThePastAfterASweepFiresAtTheNextSweep) {
  deploy(kPast);
  auto a = start("t.past", {{"pastAt", "2023-04-03T12:00:00+08:00"}}).instance->id;
  EXPECT_EQ(engine_->advance_to(at("2023-04-03T11:00:00+08:00")), 1u);  // A -> B at 10:00
  EXPECT_EQ(engine_->get(a)->state, "B");
  // After that sweep, a step arms a timer due at 09:45, before where the sweep ended.
  auto b = start("t.past", {{"pastAt", "2023-04-03T09:45:00+08:00"}}).instance->id;
  ASSERT_TRUE(send(b, "go").ok());
  EXPECT_EQ(engine_->next_timer_due(), at("2023-04-03T09:45:00+08:00"));
  EXPECT_EQ(engine_->advance_to(at("2023-04-03T11:00:01+08:00")), 1u);
  EXPECT_EQ(engine_->get(b)->outcome, "done");
  EXPECT_EQ(engine_->get(a)->state, "B");
  EXPECT_EQ(engine_->advance_to(at("2023-04-03T12:00:00+08:00")), 1u);
  EXPECT_EQ(engine_->get(a)->outcome, "done");
  reopen();  // and the same from the store alone
  auto c = start("t.past", {{"pastAt", "2023-04-03T09:50:00+08:00"}}).instance->id;
  ASSERT_TRUE(send(c, "go").ok());
  EXPECT_EQ(engine_->advance_to(at("2023-04-03T12:00:01+08:00")), 1u);
  EXPECT_EQ(engine_->get(c)->outcome, "done");
  EXPECT_TRUE(engine_->verify().ok());
}

TEST_F(EngineTest, AsyncAdvanceSharesTheCommitOfAHeldGroupAndLaterRequestsSeeTheNewTime) {
  deploy(kTimers);
  auto a = start("t.timers", {{"ticks", 0}}).instance->id;
  auto b = start("t.timers", {{"ticks", 0}}).instance->id;
  auto before = engine_->metrics().commits;
  std::promise<void> all;
  std::atomic<int> left = 3;
  std::size_t fired = 0;
  StepResult leave;
  {
    CommitGroup group(*engine_);
    engine_->advance_to_async(at("2023-04-03T11:00:00+08:00"), [&](std::size_t n) {
      fired = n;
      if (--left == 0) all.set_value();
    });
    EventRequest r;
    r.instance_id = b;  // already RUNG by the sweep queued before it
    r.event = "skip";
    r.actor = {"u1", {"USER"}};
    engine_->send_async(r, [&](StepResult res) {
      leave = std::move(res);
      if (--left == 0) all.set_value();
    });
    StartRequest s;
    s.definition = "t.timers";
    s.data = {{"ticks", 0}};
    engine_->start_async(s, [&](StepResult) {
      if (--left == 0) all.set_value();
    });
  }
  all.get_future().wait();
  EXPECT_EQ(engine_->metrics().commits - before, 1u);
  EXPECT_EQ(fired, 2u);
  EXPECT_EQ(engine_->get(a)->state, "RUNG");
  ASSERT_TRUE(leave.ok()) << leave.message;
  EXPECT_EQ(leave.instance->state, "DONE");
  auto h = engine_->history(b);
  EXPECT_EQ(h.back().at, at("2023-04-03T11:00:00+08:00"));
}

TEST_F(EngineTest, ASynchronousCallDuringAHoldIsNotHeld) {
  deploy(kTimers);
  std::promise<void> done;
  CommitGroup group(*engine_);
  StartRequest s;
  s.definition = "t.timers";
  s.data = {{"ticks", 0}};
  engine_->start_async(s, [&](StepResult) { done.set_value(); });
  auto r = start("t.timers", {{"ticks", 0}});  // would hang if it were held
  EXPECT_TRUE(r.ok());
  // Queued before the synchronous call, the async start was taken with it: already done.
  EXPECT_EQ(done.get_future().wait_for(std::chrono::seconds(0)), std::future_status::ready);
}
