// The dispatcher against real plugins on a real engine with a virtual clock: delivery,
// retries with backoff, dead letters and their retry, concurrency limits, timeouts of a
// hanging plugin, and task results coming back as events.
#include <filesystem>
#include <thread>

#include "plugin_support.hpp"

namespace bihuan::testing {
namespace {

using namespace std::chrono_literals;

ChannelPolicy policy(std::size_t concurrency, std::uint32_t max_attempts = 8,
                     std::int64_t timeout_ms = 5000) {
  ChannelPolicy p;
  p.concurrency = concurrency;
  p.max_attempts = max_attempts;
  p.timeout_ms = timeout_ms;
  p.backoff_initial_ms = 1000;
  p.backoff_max_ms = 60000;
  return p;
}

class DispatcherTest : public PluginEngineTest {
 protected:
  void SetUp() override {
    PluginEngineTest::SetUp();
    work_ = make_temp_dir("disp");
  }
  void TearDown() override {
    PluginEngineTest::TearDown();
    std::filesystem::remove_all(work_);
  }
  std::vector<OutboxMessage> outbox() { return engine_->outbox(1000, 0); }
  // Moves the virtual clock to the earliest next attempt in the outbox.
  void advance_to_next_attempt() {
    TimePoint next = clock_->now();
    for (const auto& m : outbox())
      if (!m.dead && m.next_attempt_at && (next == clock_->now() || *m.next_attempt_at < next))
        next = *m.next_attempt_at;
    clock_->set(next);
  }
  // Moves the virtual clock past every scheduled attempt.
  void advance_past_all_attempts() {
    for (const auto& m : outbox())
      if (!m.dead && m.next_attempt_at) clock_->set(*m.next_attempt_at);
  }
  std::string work_;
};

TEST(Backoff, ExponentialBoundsCappedAtMax) {
  ChannelPolicy p;
  p.backoff_initial_ms = 1000;
  p.backoff_max_ms = 3600000;
  EXPECT_EQ(Dispatcher::backoff_bound_ms(p, 1), 1000);
  EXPECT_EQ(Dispatcher::backoff_bound_ms(p, 2), 2000);
  EXPECT_EQ(Dispatcher::backoff_bound_ms(p, 3), 4000);
  EXPECT_EQ(Dispatcher::backoff_bound_ms(p, 12), 2048000);
  EXPECT_EQ(Dispatcher::backoff_bound_ms(p, 13), 3600000);
  EXPECT_EQ(Dispatcher::backoff_bound_ms(p, 1000), 3600000);
}

TEST_F(DispatcherTest, DeliversEveryMessageToNotifyLogAndEmptiesTheOutbox) {
  load(config_of({instance("log", "notify.log", {{"path", work_ + "/n.jsonl"}}, policy(4))}));
  deploy(notify_definition("log"));
  std::set<std::string> keys;
  for (int i = 0; i < 25; ++i) start_notify(i);
  for (const auto& m : outbox()) keys.insert(m.idempotency_key);
  ASSERT_EQ(keys.size(), 25u);
  auto d = dispatcher();
  EXPECT_EQ(d->run_once(), 25u);
  EXPECT_TRUE(outbox().empty());
  auto lines = read_json_lines(work_ + "/n.jsonl");
  ASSERT_EQ(lines.size(), 25u);
  std::set<std::string> logged;
  for (const auto& l : lines) {
    logged.insert(l["key"].get<std::string>());
    EXPECT_EQ(l["to"], json::array({"张三"}));
    EXPECT_EQ(l["channel"], "log");
    EXPECT_EQ(l["definition"], "t.notify");
  }
  EXPECT_EQ(logged, keys);
  EXPECT_EQ(lines[0]["text"].get<std::string>().rfind("你好 李四，这是第 ", 0), 0u)
      << lines[0].dump();
  EXPECT_EQ(d->stats().delivered, 25u);
}

TEST_F(DispatcherTest, AFailingAttemptIsRetriedAfterABackoffByTheEngineClock) {
  load(config_of({instance("log", "test.flaky", {{"failures", 2}, {"logPath", work_ + "/ok.txt"}},
                           policy(1))}));
  deploy(notify_definition("log"));
  start_notify(1);
  auto d = dispatcher();
  for (std::uint32_t attempt = 1; attempt <= 2; ++attempt) {
    TimePoint before = clock_->now();
    EXPECT_EQ(d->run_once(), 1u);
    auto box = outbox();
    ASSERT_EQ(box.size(), 1u);
    EXPECT_EQ(box[0].attempts, attempt);
    EXPECT_FALSE(box[0].dead);
    EXPECT_EQ(box[0].last_error, "flaky failure on attempt " + std::to_string(attempt));
    ASSERT_TRUE(box[0].next_attempt_at);
    auto delay = (*box[0].next_attempt_at - before).count();
    EXPECT_GE(delay, 0);
    EXPECT_LE(delay, 1000 << (attempt - 1)) << "full jitter stays under the exponential bound";
    if (delay > 0) {
      EXPECT_EQ(d->run_once(), 0u) << "not before the backoff expires";
    }
    advance_to_next_attempt();
  }
  EXPECT_EQ(d->run_once(), 1u);
  EXPECT_TRUE(outbox().empty());
  EXPECT_EQ(read_text(work_ + "/ok.txt").substr(read_text(work_ + "/ok.txt").size() - 2), "3\n");
  auto s = d->stats();
  EXPECT_EQ(s.attempts, 3u);
  EXPECT_EQ(s.failed, 2u);
  EXPECT_EQ(s.delivered, 1u);
}

TEST_F(DispatcherTest, AfterMaxAttemptsAMessageIsADeadLetterUntilRetried) {
  load(config_of({instance("log", "test.flaky", {{"failures", -1}}, policy(1, 3))}));
  deploy(notify_definition("log"));
  start_notify(1);
  start_notify(2);
  {
    auto d = dispatcher();
    for (int i = 0; i < 3; ++i) {
      EXPECT_EQ(d->run_once(), 2u);
      advance_past_all_attempts();
    }
    clock_->advance(Millis(86400000));
    EXPECT_EQ(d->run_once(), 0u) << "dead letters are not attempted again";
    EXPECT_EQ(d->stats().dead, 2u);
  }
  auto dead = engine_->dead_letters();
  ASSERT_EQ(dead.size(), 2u);
  EXPECT_TRUE(dead[0].dead);
  EXPECT_EQ(dead[0].attempts, 3u);
  EXPECT_EQ(dead[0].last_error, "flaky failure on attempt 3");
  EXPECT_EQ(outbox().size(), 2u) << "dead letters stay in the outbox";

  // The administrator fixes the channel and retries one dead letter.
  registry_ = {};
  load(config_of({instance("log", "notify.log", {{"path", work_ + "/n.jsonl"}}, policy(1, 3))}));
  EXPECT_TRUE(engine_->retry_dead_letter(dead[0].seq));
  EXPECT_FALSE(engine_->retry_dead_letter(dead[0].seq)) << "no longer a dead letter";
  EXPECT_FALSE(engine_->retry_dead_letter(999999)) << "no such message";
  auto d = dispatcher();
  EXPECT_EQ(d->run_once(), 1u);
  auto lines = read_json_lines(work_ + "/n.jsonl");
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_EQ(lines[0]["key"], dead[0].idempotency_key);
  EXPECT_EQ(lines[0]["attempt"], 1) << "attempts restart after a retry";
  ASSERT_EQ(engine_->dead_letters().size(), 1u);
  EXPECT_EQ(engine_->dead_letters()[0].seq, dead[1].seq);
}

TEST_F(DispatcherTest, APermanentFailureIsADeadLetterAtOnce) {
  load(config_of(
      {instance("log", "test.flaky", {{"failures", -1}, {"permanent", true}}, policy(1))}));
  deploy(notify_definition("log"));
  start_notify(1);
  auto d = dispatcher();
  EXPECT_EQ(d->run_once(), 1u);
  auto dead = engine_->dead_letters();
  ASSERT_EQ(dead.size(), 1u);
  EXPECT_EQ(dead[0].attempts, 1u);
}

TEST_F(DispatcherTest, NoMoreCallsThanTheChannelsConcurrencyAreInFlight) {
  std::string stats = work_ + "/stats.txt";
  load(config_of(
      {instance("log", "test.flaky", {{"sleepMs", 20}, {"statsPath", stats}}, policy(3))}));
  deploy(notify_definition("log"));
  for (int i = 0; i < 15; ++i) start_notify(i);
  auto d = dispatcher();
  EXPECT_EQ(d->run_once(), 15u);
  EXPECT_TRUE(outbox().empty());
  long calls = 0, max_in_flight = 0;
  std::istringstream(read_text(stats)) >> calls >> max_in_flight;
  EXPECT_EQ(calls, 15);
  EXPECT_LE(max_in_flight, 3);
  EXPECT_GE(max_in_flight, 2) << "the channel does use its concurrency";
}

// The background loop reads outbox pages without its lock; a message acknowledged between
// that read and the queueing must not be queued again from the stale page. With scans
// back to back (poll_ms 0) and fast deliveries the window is hit often: before the fix
// some of these messages were delivered twice.
TEST_F(DispatcherTest, AMessageAcknowledgedDuringAScanIsNotDeliveredAgain) {
  load(config_of({instance("log", "notify.log", {{"path", work_ + "/n.jsonl"}}, policy(4))}));
  deploy(notify_definition("log"));
  const int n = 300;
  for (int i = 0; i < n; ++i) start_notify(i);
  DispatcherOptions o;
  o.poll_ms = 0;
  auto d = dispatcher(o);
  d->start();
  auto t0 = std::chrono::steady_clock::now();
  while (!outbox().empty() && std::chrono::steady_clock::now() - t0 < 60s)
    std::this_thread::sleep_for(1ms);
  d->stop();
  EXPECT_TRUE(outbox().empty());
  EXPECT_EQ(d->stats().delivered, static_cast<std::uint64_t>(n));
  EXPECT_EQ(d->stats().attempts, static_cast<std::uint64_t>(n));
  EXPECT_EQ(read_json_lines(work_ + "/n.jsonl").size(), static_cast<std::size_t>(n));
}

TEST_F(DispatcherTest, AHangingPluginTimesOutWithoutBlockingOtherChannelsOrSteps) {
  // The hang timeout leaves the other channel and the steps below ample time even on a
  // loaded machine; the assertions are about order, not speed.
  load(config_of({instance("hang", "test.hanging", json::object(), policy(1, 8, 6000)),
                  instance("log", "notify.log", {{"path", work_ + "/n.jsonl"}}, policy(2))}));
  deploy(notify_definition("hang", "t.hang"));
  deploy(notify_definition("log"));
  ASSERT_TRUE(start("t.hang", {{"who", "x"}, {"name", "y"}, {"n", 0}}).ok());
  std::vector<std::string> ids;
  for (int i = 0; i < 5; ++i) ids.push_back(start_notify(i));
  DispatcherOptions o;
  o.poll_ms = 5;
  auto d = dispatcher(o);
  auto t0 = std::chrono::steady_clock::now();
  d->start();
  while (read_json_lines(work_ + "/n.jsonl").size() < 5 &&
         std::chrono::steady_clock::now() - t0 < 5s)
    std::this_thread::sleep_for(2ms);
  EXPECT_EQ(read_json_lines(work_ + "/n.jsonl").size(), 5u);
  EXPECT_EQ(d->stats().timed_out, 0u) << "the other channel did not wait for the hung one";
  // Steps go on while the hung call is in flight. (On a machine so loaded that the five
  // steps end after the 6 s timeout, they cannot show that; they must still succeed.)
  for (const auto& id : ids) EXPECT_TRUE(send(id, "close").ok());
  if (std::chrono::steady_clock::now() - t0 < 5500ms) {
    EXPECT_EQ(d->stats().timed_out, 0u) << "the steps waited for the hung call";
  }
  while (d->stats().timed_out == 0 && std::chrono::steady_clock::now() - t0 < 30s)
    std::this_thread::sleep_for(5ms);
  d->stop();
  auto s = d->stats();
  EXPECT_EQ(s.timed_out, 1u);
  EXPECT_EQ(s.abandoned_running, 1u) << "the hung thread is abandoned, and counted";
  auto box = outbox();
  ASSERT_EQ(box.size(), 1u);
  EXPECT_EQ(box[0].channel, "hang");
  EXPECT_EQ(box[0].attempts, 1u);
  EXPECT_HAS(box[0].last_error, "did not answer within 6000 ms; the call was abandoned");
  EXPECT_HAS(box[0].last_error, faulty("test.hanging"));
}

TEST_F(DispatcherTest, ATaskResultOrFailureComesBackToTheInstanceAsAnEvent) {
  load(config_of({instance("echo", "test.echo-task", json::object(), policy(2))}));
  deploy(task_definition("echo"));
  auto ok = start("t.task", {{"input", {{"x", "值"}}}});
  auto bad = start("t.task", {{"input", "please fail"}});
  auto junk = start("t.task", {{"input", "malformed"}});
  ASSERT_TRUE(ok.ok() && bad.ok() && junk.ok());
  auto d = dispatcher();
  EXPECT_EQ(d->run_once(), 3u);
  EXPECT_TRUE(outbox().empty());
  auto v = engine_->get(ok.instance->id);
  EXPECT_EQ(v->state, "OK");
  EXPECT_EQ(v->data["result"]["echo"], json({{"x", "值"}}));
  v = engine_->get(bad.instance->id);
  EXPECT_EQ(v->state, "BAD");
  EXPECT_EQ(v->data["error"], "the input asked me to fail");
  v = engine_->get(junk.instance->id);
  EXPECT_EQ(v->state, "BAD");
  EXPECT_HAS(v->data["error"].get<std::string>(), "run_task returned malformed JSON");
}

// A task deep in nested states with long names: its message key (instance, step, the
// action's pointer) is longer than the engine takes as an idempotency key, so the result
// event is keyed by the key's digest, and a second delivery still replays.
TEST_F(DispatcherTest, ATaskResultArrivesFromDeepInNestedStatesWithLongNames) {
  load(config_of({instance("echo", "test.echo-task", json::object(), policy(2))}));
  const std::string a(63, 'A'), b(63, 'B'), c(63, 'C'), e(63, 'E');
  deploy(R"({"id": "t.nested-task", "version": 1, "initial": ")" + a + R"(", "states": {
    ")" + a +
         R"(": {"type": "compound", "initial": ")" + b + R"(", "states": {
      ")" +
         b + R"(": {"type": "compound", "initial": ")" + c + R"(", "states": {
        ")" +
         c + R"(": {"type": "compound", "initial": ")" + e + R"(", "states": {
          ")" +
         e +
         R"(": {"onEntry": [{"task": "echo", "input": {"var": "data"}, "onResult": "done"}]}}}}}},
      "on": {"done": {"target": "OK", "set": {"/result": {"var": "event.payload"}}}}},
    "OK": {"type": "final", "outcome": "ok"}}})");
  auto s = start("t.nested-task", {{"n", 1}});
  ASSERT_TRUE(s.ok()) << s.message;
  auto pending = outbox();
  ASSERT_EQ(pending.size(), 1u);
  EXPECT_GT(pending[0].idempotency_key.size() + 7, kMaxKeyBytes) << pending[0].idempotency_key;
  auto d = dispatcher();
  EXPECT_EQ(d->run_once(), 1u);
  EXPECT_TRUE(outbox().empty());
  auto v = engine_->get(s.instance->id);
  EXPECT_EQ(v->state, "OK");
  EXPECT_EQ(v->data["result"]["echo"], json({{"n", 1}}));
}

// A damaged outbox record (docs/storage.md, "Damaged records") whose onResult is not a
// name: the task runs, and its result is taken as for a task step without onResult
// (acknowledged), instead of an exception out of the dispatcher.
TEST_F(DispatcherTest, ATaskMessageWithADamagedOnResultIsAcknowledgedWithoutThrowing) {
  deploy(task_definition("echo"));
  auto id = start("t.task", {{"input", {{"x", 1}}}}).instance->id;
  auto box = outbox();
  ASSERT_EQ(box.size(), 1u);
  reopen_after_raw_edit([&](storage::Txn& txn) {
    edit_map(txn, storage::Db::outbox, storage::be64(box[0].seq), [](json& m) {
      ASSERT_TRUE(m["body"].contains("onResult"));
      m["body"]["onResult"] = 5;
    });
  });
  load(config_of({instance("echo", "test.echo-task", json::object(), policy(1))}));
  auto d = dispatcher();
  EXPECT_EQ(d->run_once(), 1u);
  EXPECT_TRUE(outbox().empty());
  EXPECT_EQ(engine_->get(id)->state, "WORK");
}

TEST_F(DispatcherTest, APluginCanSendAnEventToAnInstanceThroughTheHost) {
  load(config_of({instance("echo", "test.echo-task", json::object(), policy(1))}));
  deploy(task_definition("echo"));
  auto r = start("t.task", {{"input", "emit"}});
  ASSERT_TRUE(r.ok());
  auto d = dispatcher();
  EXPECT_EQ(d->run_once(), 1u);
  auto v = engine_->get(r.instance->id);
  EXPECT_EQ(v->state, "OK");
  EXPECT_EQ(v->data["poked"], "echo") << v->data.dump();
  bool by_plugin = false;
  for (const auto& h : engine_->history(r.instance->id))
    if (h.event == "poke") by_plugin = h.actor == "plugin:echo";
  EXPECT_TRUE(by_plugin) << "the event is recorded as sent by the plugin instance";
}

TEST_F(DispatcherTest, AMessageForTheWrongKindOfPluginIsADeadLetterAndUnknownChannelsWait) {
  load(config_of({instance("echo", "test.echo-task", json::object(), policy(1))}));
  deploy(notify_definition("echo"));
  deploy(notify_definition("nobody", "t.nobody"));
  start_notify(1);
  ASSERT_TRUE(start("t.nobody", {{"who", "x"}, {"name", "y"}, {"n", 0}}).ok());
  auto d = dispatcher();
  EXPECT_EQ(d->run_once(), 1u);
  auto dead = engine_->dead_letters();
  ASSERT_EQ(dead.size(), 1u);
  EXPECT_HAS(dead[0].last_error,
             "channel \"echo\" is a task handler (plugin test.echo-task), it cannot deliver a "
             "notify message");
  auto box = outbox();
  ASSERT_EQ(box.size(), 2u);
  EXPECT_EQ(box[1].channel, "nobody");
  EXPECT_EQ(box[1].attempts, 0u) << "kept, untouched, for when that channel is configured";
}

}  // namespace
}  // namespace bihuan::testing

namespace bihuan::testing {
namespace {

// A definition asking the engine's own data source (bihuan/engine_source.hpp) to count
// the instances of its own definition, grouped by `group`.
std::string own_count_definition(const std::string& group) {
  return R"({"id": "t.own", "version": 1, "initial": "WORK",
    "states": {
      "WORK": {"onEntry": [{"task": "engine", "query": "count",
                            "input": {"definition": "t.own", "groupBy": {"n": ")" +
         group + R"("}},
                            "onResult": "done", "onError": "failed"}],
               "on": {"done": {"target": "OK", "set": {"/rows": {"var": "event.payload.rows"}}},
                      "failed": {"target": "BAD", "set": {"/error": {"var": "event.payload.error"}}}}},
      "OK": {"type": "final", "outcome": "ok"},
      "BAD": {"type": "final", "outcome": "bad"}}})";
}

TEST_F(DispatcherTest, TheEnginesOwnDataSourceAnswersATaskQueryLikeAPlugin) {
  load(config_of({}));
  deploy(own_count_definition("/n"));
  for (int n : {1, 1, 2}) ASSERT_TRUE(start("t.own", {{"n", n}}).ok());
  auto d = dispatcher();
  EXPECT_EQ(d->run_once(), 3u);
  auto all = engine_->query(InstanceQuery{"t.own"});
  ASSERT_EQ(all.items.size(), 3u);
  for (const auto& v : all.items) {
    EXPECT_EQ(v.state, "OK") << v.data.dump();
    // Counted at delivery: every instance was there, waiting in WORK.
    EXPECT_EQ(v.data["rows"], json::parse(R"([{"n":1,"count":2},{"n":2,"count":1}])"))
        << v.data.dump();
  }
  EXPECT_TRUE(outbox().empty());
}

TEST_F(DispatcherTest, AWrongEngineQueryComesBackAsTheTasksErrorNamingTheInput) {
  load(config_of({}));
  deploy(own_count_definition("size"));
  auto id = start("t.own", json::object()).instance->id;
  auto d = dispatcher();
  EXPECT_EQ(d->run_once(), 1u);
  auto v = engine_->get(id);
  EXPECT_EQ(v->state, "BAD");
  EXPECT_HAS(v->data["error"].get<std::string>(),
             "engine query \"count\": input/groupBy/n: expected a field");
  EXPECT_TRUE(engine_->dead_letters().empty()) << "a failure with onError is the task's answer";
}

}  // namespace
}  // namespace bihuan::testing
