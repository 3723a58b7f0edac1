// notify.webhook, the real library the build made, against real HTTP servers on loopback
// started by the test: the signed JSON body and its headers; 500/429 retry, 400 fails; a
// hanging server times out (retry) within the configured time; a slow one within it is
// fine; https with a self-signed certificate (a Python server); end to end through the
// dispatcher.
#include <openssl/hmac.h>

#include <filesystem>

#include "child_process.hpp"
#include "loopback_http.hpp"
#include "plugin_support.hpp"

namespace bihuan::testing {
namespace {

using namespace std::chrono_literals;

std::string hmac_hex(const std::string& key, const std::string& data) {
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
       reinterpret_cast<const unsigned char*>(data.data()), data.size(), mac, &len);
  std::string out;
  char buf[3];
  for (unsigned i = 0; i < len; ++i) std::snprintf(buf, sizeof buf, "%02x", mac[i]), out += buf;
  return out;
}

OutboxMessage webhook_message(
    const std::string& key = "0000000000000007:3:/states/OPEN/onEntry/0") {
  OutboxMessage m;
  m.seq = 7;
  m.kind = "notify";
  m.channel = "hook";
  m.instance_id = "0000000000000007";
  m.idempotency_key = key;
  m.body = {{"to", {"张三"}},        {"text", "请审批 王五 的请假（3 天）"},
            {"subject", "请假审批"}, {"definition", "t.notify"},
            {"state", "OPEN"},       {"businessKey", "BK-7"}};
  return m;
}

class WebhookTest : public ::testing::Test {
 protected:
  std::shared_ptr<PluginObject> create(const json& config, Problems* problems = nullptr) {
    return create_bundled(lib_, "notify.webhook", "hook", config, nullptr, problems);
  }
  std::shared_ptr<PluginLibrary> lib_;
};

TEST_F(WebhookTest, PostsTheMessageAsJsonSignedWithHmacAndTheIdempotencyKey) {
  LoopbackHttpServer server([](const HttpReceived&) { return HttpReply{}; });
  auto hook = create({{"url", server.url("/hooks/bihuan?x=1")},
                      {"secret", "s3cret-密钥"},
                      {"timeoutMs", 10000},
                      {"headers", {{"Authorization", "Bearer t0ken"}}}});
  ASSERT_TRUE(hook);
  auto r = hook->notify(webhook_message(), 2);
  ASSERT_TRUE(r.ok()) << r.body;
  EXPECT_EQ(r.body, "HTTP 200");
  auto got = server.received();
  ASSERT_EQ(got.size(), 1u);
  const auto& req = got[0];
  EXPECT_EQ(req.method, "POST");
  EXPECT_EQ(req.target, "/hooks/bihuan?x=1");
  EXPECT_HAS(req.header("content-type"), "application/json");
  EXPECT_EQ(req.header("authorization"), "Bearer t0ken");
  EXPECT_EQ(req.header("idempotency-key"), "0000000000000007:3:/states/OPEN/onEntry/0");
  EXPECT_FALSE(req.header("x-bihuan-timestamp").empty());
  EXPECT_GT(std::stoll(req.header("x-bihuan-timestamp")), 1600000000000LL);
  // The signature verifies over the exact body bytes with the secret.
  EXPECT_EQ(req.header("x-bihuan-signature"), "sha256=" + hmac_hex("s3cret-密钥", req.body));
  EXPECT_NE(req.header("x-bihuan-signature"), "sha256=" + hmac_hex("wrong", req.body));
  json body = json::parse(req.body);
  EXPECT_EQ(body["key"], "0000000000000007:3:/states/OPEN/onEntry/0");
  EXPECT_EQ(body["text"], "请审批 王五 的请假（3 天）");
  EXPECT_EQ(body["subject"], "请假审批");
  EXPECT_EQ(body["to"], json::array({"张三"}));
  EXPECT_EQ(body["attempt"], 2);
  EXPECT_EQ(body["businessKey"], "BK-7");

  // A host name goes through the resolver (an IP address does not).
  auto by_name = create(
      {{"url", "http://localhost:" + std::to_string(server.port()) + "/by-name"}, {"secret", "k"}});
  ASSERT_TRUE(by_name);
  r = by_name->notify(webhook_message(), 1);
  ASSERT_TRUE(r.ok()) << r.body;
  EXPECT_EQ(server.received().back().target, "/by-name");
}

TEST_F(WebhookTest, ServerErrorsAndTooManyRequestsRetryOtherClientErrorsFail) {
  int status = 500;
  LoopbackHttpServer server([&](const HttpReceived&) {
    return HttpReply{status, R"({"error":"数据库不可用"})"};
  });
  auto hook = create({{"url", server.url()}, {"secret", "k"}});
  ASSERT_TRUE(hook);
  auto r = hook->notify(webhook_message(), 1);
  EXPECT_EQ(r.status, PluginResult::Status::retry) << r.body;
  EXPECT_HAS(r.body, "HTTP 500");
  EXPECT_HAS(r.body, "数据库不可用");
  EXPECT_HAS(r.body, server.url());
  status = 429;
  EXPECT_EQ(hook->notify(webhook_message(), 2).status, PluginResult::Status::retry);
  status = 503;
  EXPECT_EQ(hook->notify(webhook_message(), 3).status, PluginResult::Status::retry);
  status = 400;
  r = hook->notify(webhook_message(), 4);
  EXPECT_EQ(r.status, PluginResult::Status::fail) << r.body;
  EXPECT_HAS(r.body, "HTTP 400");
  status = 404;
  EXPECT_EQ(hook->notify(webhook_message(), 5).status, PluginResult::Status::fail);
  status = 204;
  EXPECT_TRUE(hook->notify(webhook_message(), 6).ok());
  EXPECT_EQ(server.received().size(), 6u);
}

TEST_F(WebhookTest, ALongAnswerIsQuotedInTheErrorCutAtACharacterBoundary) {
  std::string long_body;
  for (int i = 0; i < 200; ++i) long_body += "错";  // 600 bytes of 3-byte characters
  LoopbackHttpServer server([&](const HttpReceived&) {
    return HttpReply{502, long_body, "text/plain"};
  });
  auto hook = create({{"url", server.url()}, {"secret", "k"}});
  ASSERT_TRUE(hook);
  auto r = hook->notify(webhook_message(), 1);
  EXPECT_EQ(r.status, PluginResult::Status::retry);
  EXPECT_HAS(r.body, "HTTP 502: 错错");
  EXPECT_EQ(r.body.substr(r.body.size() - 3), "…");
  EXPECT_NO_THROW(json(r.body).dump()) << "the error text must stay valid UTF-8";
  EXPECT_LT(r.body.size(), 400u);
}

TEST_F(WebhookTest, AHangingServerTimesOutAsARetryWithinTheConfiguredTime) {
  LoopbackHttpServer server([](const HttpReceived&) {
    HttpReply r;
    r.hang = true;
    return r;
  });
  auto hook = create({{"url", server.url()}, {"secret", "k"}, {"timeoutMs", 1000}});
  ASSERT_TRUE(hook);
  auto t0 = std::chrono::steady_clock::now();
  auto r = hook->notify(webhook_message(), 1);
  auto elapsed = std::chrono::steady_clock::now() - t0;
  EXPECT_EQ(r.status, PluginResult::Status::retry) << r.body;
  EXPECT_HAS(r.body, "timed out after 1000 ms");
  EXPECT_GE(elapsed, 900ms);  // it did wait for the answer...
  EXPECT_LT(elapsed, 10s);    // ...but not for ever (generous: a loaded 2-core machine)
  EXPECT_EQ(server.received().size(), 1u);  // the request arrived; the answer never came
}

TEST_F(WebhookTest, ASlowServerWithinTheTimeoutIsFine) {
  LoopbackHttpServer server([](const HttpReceived&) {
    HttpReply r;
    r.delay = 700ms;
    return r;
  });
  auto hook = create({{"url", server.url()}, {"secret", "k"}, {"timeoutMs", 15000}});
  ASSERT_TRUE(hook);
  auto t0 = std::chrono::steady_clock::now();
  auto r = hook->notify(webhook_message(), 1);
  EXPECT_TRUE(r.ok()) << r.body;
  EXPECT_GE(std::chrono::steady_clock::now() - t0, 600ms);
}

TEST_F(WebhookTest, NoServerListeningIsARetry) {
  int port;
  {
    LoopbackHttpServer closed;
    port = closed.port();
  }
  auto hook = create({{"url", "http://127.0.0.1:" + std::to_string(port) + "/x"},
                      {"secret", "k"},
                      {"timeoutMs", 5000}});
  ASSERT_TRUE(hook);
  auto r = hook->notify(webhook_message(), 1);
  EXPECT_EQ(r.status, PluginResult::Status::retry) << r.body;
  EXPECT_HAS(r.body, "cannot connect");
}

TEST_F(WebhookTest, BadConfigurationsAreRefusedWithTheReason) {
  Problems p;
  EXPECT_FALSE(create({{"url", "ftp://example.com/"}, {"secret", "k"}}, &p));
  EXPECT_HAS(problems_text(p), "/plugins/hook/config/url");
  Problems p2;
  EXPECT_FALSE(create({{"url", "http://127.0.0.1:1/"}}, &p2));
  EXPECT_HAS(problems_text(p2), "secret");
  Problems p3;
  EXPECT_FALSE(create(
      {{"url", "http://127.0.0.1:1/"}, {"secret", "k"}, {"headers", {{"idempotency-key", "x"}}}},
      &p3));
  EXPECT_HAS(problems_text(p3), "header idempotency-key is set by notify.webhook itself");
  Problems p4;
  EXPECT_FALSE(create({{"url", "http://127.0.0.1:99999/"}, {"secret", "k"}}, &p4));
  EXPECT_HAS(problems_text(p4), "the port must be 1..65535");
}

TEST_F(WebhookTest, HttpsWithASelfSignedCertificateVerifiesAgainstCaFile) {
  auto dir = make_temp_dir("https");
  std::string cert = dir + "/cert.pem", key = dir + "/key.pem", log = dir + "/received.jsonl";
  std::string cmd =
      "openssl req -x509 -newkey rsa:2048 -nodes -keyout " + key + " -out " + cert +
      " -days 2 -subj /CN=127.0.0.1 -addext subjectAltName=IP:127.0.0.1 >/dev/null 2>&1";
  ASSERT_EQ(std::system(cmd.c_str()), 0) << "openssl could not make a test certificate";
  ChildProcess server(
      {"/usr/bin/python3", BIHUAN_SOURCE_DIR "/tests/plugins/https_server.py", cert, key, log});
  auto port = server.read_line(30s);
  ASSERT_TRUE(port) << "the Python HTTPS server did not start";
  std::string url = "https://127.0.0.1:" + *port + "/secure";

  auto trusted = create({{"url", url}, {"secret", "k"}, {"caFile", cert}, {"timeoutMs", 20000}});
  ASSERT_TRUE(trusted);
  auto r = trusted->notify(webhook_message(), 1);
  ASSERT_TRUE(r.ok()) << r.body;
  auto lines = read_json_lines(log);
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_EQ(lines[0]["path"], "/secure");
  EXPECT_EQ(json::parse(lines[0]["body"].get<std::string>())["text"], "请审批 王五 的请假（3 天）");
  EXPECT_EQ(lines[0]["signature"], "sha256=" + hmac_hex("k", lines[0]["body"].get<std::string>()));

  // Without the CA the certificate is not trusted: a (retryable) TLS error, nothing sent.
  auto untrusted = create({{"url", url}, {"secret", "k"}, {"timeoutMs", 20000}});
  ASSERT_TRUE(untrusted);
  r = untrusted->notify(webhook_message(), 1);
  EXPECT_EQ(r.status, PluginResult::Status::retry) << r.body;
  EXPECT_HAS(r.body, "TLS handshake");
  EXPECT_EQ(read_json_lines(log).size(), 1u);
  std::filesystem::remove_all(dir);
}

class WebhookDispatchTest : public PluginEngineTest {};

TEST_F(WebhookDispatchTest, TheDispatcherDeliversEveryOutboxMessageToTheReceiver) {
  LoopbackHttpServer server;
  ChannelPolicy policy;
  policy.concurrency = 2;
  policy.timeout_ms = 20000;
  load(config_of(
      {instance("hook", "notify.webhook", {{"url", server.url()}, {"secret", "k"}}, policy)}));
  deploy(notify_definition("hook"));
  std::set<std::string> keys;
  for (int i = 0; i < 5; ++i) start_notify(i);
  for (const auto& m : engine_->outbox(100, 0)) keys.insert(m.idempotency_key);
  ASSERT_EQ(keys.size(), 5u);
  auto d = dispatcher();
  EXPECT_EQ(d->run_once(), 5u);
  EXPECT_TRUE(engine_->outbox(100, 0).empty());
  std::set<std::string> received;
  for (const auto& r : server.received()) {
    received.insert(r.header("idempotency-key"));
    EXPECT_EQ(r.header("x-bihuan-signature"), "sha256=" + hmac_hex("k", r.body));
    EXPECT_HAS(r.body, "你好 李四");
  }
  EXPECT_EQ(received, keys);
}

}  // namespace
}  // namespace bihuan::testing
