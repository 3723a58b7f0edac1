// task.http, the real library the build made, against a real HTTP server on loopback
// started by the test: the URL template filled from the task input (percent-encoded), the
// input as the JSON body, the response JSON as the result; non-JSON answers and error
// statuses fail with a clear message, 5xx and timeouts retry; end to end, the result
// reaches the instance as its onResult event and a failure as onError.
#include "loopback_http.hpp"
#include "plugin_support.hpp"

namespace bihuan::testing {
namespace {

using namespace std::chrono_literals;

OutboxMessage task(json input,
                   const std::string& key = "000000000000000a:1:/states/WORK/onEntry/0") {
  OutboxMessage m;
  m.seq = 10;
  m.kind = "task";
  m.channel = "check";
  m.instance_id = "000000000000000a";
  m.idempotency_key = key;
  m.body = {{"input", std::move(input)}, {"definition", "t.task"}, {"state", "WORK"}};
  return m;
}

class TaskHttpTest : public ::testing::Test {
 protected:
  std::shared_ptr<PluginObject> create(const json& config, Problems* problems = nullptr) {
    return create_bundled(lib_, "task.http", "check", config, nullptr, problems);
  }
  std::shared_ptr<PluginLibrary> lib_;
};

TEST_F(TaskHttpTest, CallsTheTemplatedUrlWithTheInputAndReturnsTheResponseJson) {
  LoopbackHttpServer server([](const HttpReceived&) {
    return HttpReply{200, R"({"passed": true, "score": 95, "备注": "合格"})"};
  });
  auto check = create({{"url", "http://127.0.0.1:" + std::to_string(server.port()) +
                                   "/inspections/{business}?by={cadre}"},
                       {"headers", {{"X-Api-Key", "k1"}}}});
  ASSERT_TRUE(check);
  EXPECT_EQ(check->kind(), PluginKind::task_handler);
  json input = {{"business", "B 1/2"}, {"cadre", "张三"}, {"items", {1, 2}}};
  auto r = check->run_task(task(input), 1);
  ASSERT_TRUE(r.ok()) << r.body;
  EXPECT_EQ(r.value, json::parse(R"({"passed": true, "score": 95, "备注": "合格"})"));
  auto got = server.received();
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].method, "POST");
  EXPECT_EQ(got[0].target, "/inspections/B%201%2F2?by=%E5%BC%A0%E4%B8%89");
  EXPECT_EQ(json::parse(got[0].body), input);
  EXPECT_HAS(got[0].header("content-type"), "application/json");
  EXPECT_EQ(got[0].header("idempotency-key"), "000000000000000a:1:/states/WORK/onEntry/0");
  EXPECT_EQ(got[0].header("x-api-key"), "k1");
}

TEST_F(TaskHttpTest, GetSendsNoBody) {
  LoopbackHttpServer server([](const HttpReceived&) { return HttpReply{200, R"([1, 2])"}; });
  auto check = create({{"url", server.url("/licence/{id}")}, {"method", "GET"}});
  ASSERT_TRUE(check);
  auto r = check->run_task(task({{"id", 42}}), 1);
  ASSERT_TRUE(r.ok()) << r.body;
  EXPECT_EQ(r.value, json::parse("[1, 2]"));
  ASSERT_EQ(server.received().size(), 1u);
  EXPECT_EQ(server.received()[0].method, "GET");
  EXPECT_EQ(server.received()[0].target, "/licence/42");
  EXPECT_TRUE(server.received()[0].body.empty());
}

TEST_F(TaskHttpTest, NonJsonAnswersAndErrorStatusesFailClearlyServerErrorsAndTimeoutsRetry) {
  HttpReply reply;
  LoopbackHttpServer server([&](const HttpReceived&) { return reply; });
  auto check = create({{"url", server.url("/x/{id}")}, {"timeoutMs", 1000}});
  ASSERT_TRUE(check);
  reply = HttpReply{200, "<html>维护中</html>", "text/html"};
  auto r = check->run_task(task({{"id", 1}}), 1);
  EXPECT_EQ(r.status, PluginResult::Status::fail) << r.body;
  EXPECT_HAS(r.body,
             "POST " + server.url("/x/1") +
                 ": HTTP 200 answered with a body that is not JSON (Content-Type: text/html)");
  reply = HttpReply{404, R"({"error": "no such business"})"};
  r = check->run_task(task({{"id", 1}}), 1);
  EXPECT_EQ(r.status, PluginResult::Status::fail) << r.body;
  EXPECT_HAS(r.body, "HTTP 404: {\"error\": \"no such business\"}");
  reply = HttpReply{503, "busy"};
  EXPECT_EQ(check->run_task(task({{"id", 1}}), 1).status, PluginResult::Status::retry);
  reply = HttpReply{204, ""};
  r = check->run_task(task({{"id", 1}}), 1);
  ASSERT_TRUE(r.ok()) << r.body;
  EXPECT_EQ(r.value, json::object());
  r = check->run_task(task({{"other", 1}}), 1);
  EXPECT_EQ(r.status, PluginResult::Status::fail);
  EXPECT_HAS(r.body, "the task input has no field \"id\" for the URL template");
  reply = HttpReply{};
  reply.hang = true;
  auto t0 = std::chrono::steady_clock::now();
  r = check->run_task(task({{"id", 1}}), 1);
  EXPECT_EQ(r.status, PluginResult::Status::retry) << r.body;
  EXPECT_HAS(r.body, "timed out after 1000 ms");
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 10s);
}

TEST_F(TaskHttpTest, BadUrlTemplatesAreRefusedAtStart) {
  Problems p;
  EXPECT_FALSE(create({{"url", "http://127.0.0.1:8080/{unclosed"}}, &p));
  EXPECT_HAS(problems_text(p), "unclosed {");
  Problems p2;
  EXPECT_FALSE(create({{"url", "http://127.0.0.1:8080/"}, {"method", "BREW"}}, &p2));
  EXPECT_HAS(problems_text(p2), "/plugins/check/config/method");
}

class TaskHttpDispatchTest : public PluginEngineTest {};

TEST_F(TaskHttpDispatchTest, TheResultBecomesTheOnResultEventAndAFailureTheOnErrorEvent) {
  LoopbackHttpServer server([](const HttpReceived& r) {
    json in = json::parse(r.body);
    if (in.value("id", 0) == 2) return HttpReply{422, R"({"error": "营业执照已过期"})"};
    return HttpReply{200, json{{"checked", in["id"]}, {"结论", "合格"}}.dump()};
  });
  ChannelPolicy policy;
  policy.concurrency = 2;
  policy.timeout_ms = 20000;
  load(config_of({instance("check", "task.http", {{"url", server.url("/check")}}, policy)}));
  deploy(task_definition("check"));
  auto ok = start("t.task", {{"input", {{"id", 1}}}});
  auto bad = start("t.task", {{"input", {{"id", 2}}}});
  ASSERT_TRUE(ok.ok() && bad.ok());
  auto d = dispatcher();
  EXPECT_EQ(d->run_once(), 2u);
  EXPECT_TRUE(engine_->outbox(10, 0).empty());
  auto v = engine_->get(ok.instance->id);
  EXPECT_EQ(v->state, "OK");
  EXPECT_EQ(v->data["result"], json::parse(R"({"checked": 1, "结论": "合格"})"));
  v = engine_->get(bad.instance->id);
  EXPECT_EQ(v->state, "BAD");
  EXPECT_HAS(v->data["error"].get<std::string>(), "HTTP 422");
  EXPECT_HAS(v->data["error"].get<std::string>(), "营业执照已过期");
}

}  // namespace
}  // namespace bihuan::testing
