// Bad input, limits, slow and vanishing clients, concurrency, TLS and shutdown, against a
// real server: it answers correctly and stays up.
#include <atomic>
#include <thread>

#include <boost/asio/ssl.hpp>
#include <boost/beast/ssl.hpp>

#include "server_fixture.hpp"
#include "storage/lmdb_env.hpp"

using namespace bihuan;
using namespace bihuan::test;

TEST_F(ServerTest, MalformedBodiesAreClearProblemsWithPointers) {
  serve();
  HttpClient c(port_, "clerk-token");
  std::string id = start_counter(c);
  std::string events = "/v1/instances/" + id + "/events";

  auto broken = c.request(http::verb::post, events, "{\"event\": \"bump\",");
  EXPECT_EQ(broken.status, 400);
  EXPECT_EQ(broken.json_body()["code"], "invalid-json");
  EXPECT_NE(broken.json_body()["detail"].get<std::string>().find("line 1"), std::string::npos);

  auto utf8 = c.request(http::verb::post, events, "{\"event\": \"b\xff\xfe\"}");
  EXPECT_EQ(utf8.status, 400);

  auto wrong_type = c.post(events, {{"event", 42}});
  EXPECT_EQ(wrong_type.status, 422);
  EXPECT_EQ(wrong_type.json_body()["errors"][0]["pointer"], "/event");

  auto payload_type = c.post(events, {{"event", "bump"}, {"payload", "text"}});
  EXPECT_EQ(payload_type.status, 422);
  EXPECT_EQ(payload_type.json_body()["errors"][0]["pointer"], "/payload");

  auto no_type = c.request(http::verb::post, events, "{\"event\": \"bump\"}", {}, "text/plain");
  EXPECT_EQ(no_type.status, 415);
  auto empty = c.request(http::verb::post, events, "");
  EXPECT_EQ(empty.status, 400);
  auto array = c.post("/v1/instances", json::array({1, 2}));
  EXPECT_EQ(array.status, 422);
  auto missing = c.post("/v1/instances", json::object());
  EXPECT_EQ(missing.status, 422);
  EXPECT_EQ(missing.json_body()["errors"][0]["pointer"], "/definition");
  auto no_def = c.post("/v1/instances", {{"definition", "t.none"}});
  EXPECT_EQ(no_def.status, 404);
  auto bad_match = c.post(events, {{"event", "bump"}}, {{"If-Match", "yesterday"}});
  EXPECT_EQ(bad_match.status, 400);
  EXPECT_EQ(bad_match.json_body()["errors"][0]["pointer"], "header:If-Match");

  EXPECT_EQ(c.get("/v1/nothing-here").status, 404);
  auto wrong_method = c.request(http::verb::delete_, "/v1/instances");
  EXPECT_EQ(wrong_method.status, 405);
  EXPECT_NE(wrong_method.header("Allow").find("GET"), std::string::npos);
  EXPECT_EQ(c.get("/v1/instances/%zz").status, 400);
  EXPECT_EQ(c.get("/v1/instances/" + id).json_body()["version"], 1) << "nothing was applied";
}

TEST_F(ServerTest, BodyAndHeaderLimitsAnswer413And431) {
  ServerConfig cfg = config();
  cfg.body_limit = 4096;
  cfg.header_limit = 2048;
  serve(cfg);
  HttpClient c(port_, "clerk-token");
  std::string big =
      "{\"definition\": \"t.counter\", \"data\": {\"x\": \"" + std::string(10000, 'a') + "\"}}";
  auto r = c.request(http::verb::post, "/v1/instances", big);
  EXPECT_EQ(r.status, 413);
  EXPECT_EQ(r.json_body()["code"], "body-too-large");
  auto h = c.get("/v1/definitions", {{"X-Padding", std::string(5000, 'p')}});
  EXPECT_EQ(h.status, 431);
  EXPECT_EQ(c.get("/healthz").status, 200) << "still serving";
}

TEST_F(ServerTest, SlowClientsAreCutOffAndAbruptDisconnectsHarmNothing) {
  ServerConfig cfg = config();
  cfg.request_timeout = std::chrono::milliseconds(300);
  serve(cfg);
  // A client that sends half a request line and then nothing: the server closes it after
  // the request timeout (the read returns well before the 5 s the client would wait).
  auto t0 = std::chrono::steady_clock::now();
  std::string answer = raw_exchange(port_, "GET /healthz HTTP/1.1\r\nHost: x\r\n", 5000);
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::milliseconds(4000));
  EXPECT_EQ(answer, "");
  // Disconnects in the middle of a body and right after a request.
  for (int i = 0; i < 20; ++i) {
    boost::asio::io_context ioc;
    tcp::socket s(ioc);
    s.connect(tcp::endpoint(boost::asio::ip::address_v4::loopback(), port_));
    std::string part =
        "POST /v1/instances HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer clerk-token\r\n"
        "Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"defin";
    boost::asio::write(s, boost::asio::buffer(part));
    s.close();
  }
  HttpClient c(port_, "clerk-token");
  EXPECT_EQ(c.get("/healthz").status, 200);
  std::string id = start_counter(c);
  EXPECT_FALSE(id.empty());
}

TEST_F(ServerTest, ThousandsOfRandomRequestsLeaveTheServerServing) {
  serve();
  std::mt19937 rng(20231128);
  const char* methods[] = {"GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "BREW", ""};
  const char* paths[] = {"/v1/instances",
                         "/v1/instances/0000000000000001/events",
                         "/v1/definitions",
                         "/v1/stats?groupBy=",
                         "/healthz",
                         "/%",
                         "/v1/instances?limit=99999999999999999999",
                         "*",
                         "/v1/inbox",
                         "/v1/../../etc/passwd"};
  auto random_bytes = [&](std::size_t n) {
    std::string s;
    for (std::size_t i = 0; i < n; ++i) s += static_cast<char>(rng() % 256);
    return s;
  };
  int answered = 0;
  for (int i = 0; i < 1500; ++i) {
    std::string req;
    switch (rng() % 4) {
      case 0:
        req = random_bytes(rng() % 200);
        break;   // garbage
      case 1: {  // a plausible request with a random body
        std::string body = random_bytes(rng() % 100);
        req = std::string(methods[rng() % 8]) + " " + paths[rng() % 10] +
              " HTTP/1.1\r\nHost: x\r\n" +
              "Authorization: Bearer clerk-token\r\nContent-Type: "
              "application/json\r\nContent-Length: " +
              std::to_string(body.size()) + "\r\nConnection: close\r\n\r\n" + body;
        break;
      }
      case 2: {  // broken headers
        req = "GET /v1/definitions HTTP/1.1\r\n" + random_bytes(rng() % 60) + "\r\n\r\n";
        break;
      }
      default: {  // valid JSON of a random shape
        json body = rng() % 2 ? json({{"event", random_bytes(5)}, {"payload", {{"x", rng()}}}})
                              : json::array({rng(), "x"});
        std::string text = body.dump(-1, ' ', false, json::error_handler_t::replace);
        req = std::string("POST ") + paths[rng() % 3] +
              " HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer clerk-token\r\n" +
              "Content-Type: application/json\r\nConnection: close\r\nContent-Length: " +
              std::to_string(text.size()) + "\r\n\r\n" + text;
      }
    }
    std::string answer = raw_exchange(port_, req, 3000, true);
    int status = raw_status(answer);
    if (status) ++answered;
    EXPECT_TRUE(status == 0 || (status >= 200 && status < 600)) << answer.substr(0, 80);
    EXPECT_NE(status, 500) << "request " << i << " made the server fail: " << answer.substr(0, 200);
  }
  EXPECT_GT(answered, 500);
  HttpClient c(port_, "clerk-token");
  EXPECT_EQ(c.get("/healthz").status, 200);
  EXPECT_FALSE(start_counter(c).empty());
  auto v = engine_->verify();
  EXPECT_TRUE(v.ok());
}

TEST_F(ServerTest, ManyClientsOnOneAndOnManyInstancesLoseNothing) {
  serve();
  HttpClient setup(port_, "clerk-token");
  std::string shared = start_counter(setup);
  constexpr int kClients = 8, kPer = 40;
  std::atomic<int> shared_ok{0}, conflicts{0}, own_ok{0}, failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kClients; ++t)
    threads.emplace_back([&, t] {
      HttpClient c(port_, "clerk-token");
      std::string own = c.post("/v1/instances", {{"definition", "t.counter"}, {"data", {{"n", 0}}}})
                            .json_body()
                            .value("id", "");
      for (int k = 0; k < kPer; ++k) {
        // Optimistic concurrency on the shared instance: read the version, send with If-Match.
        auto cur = c.get("/v1/instances/" + shared);
        auto r = c.post("/v1/instances/" + shared + "/events", {{"event", "bump"}},
                        {{"If-Match", cur.header("ETag")}});
        if (r.status == 200)
          ++shared_ok;
        else if (r.status == 412)
          ++conflicts;
        else
          ++failures;
        auto o = c.post("/v1/instances/" + own + "/events", {{"event", "bump"}});
        if (o.status == 200)
          ++own_ok;
        else
          ++failures;
      }
      (void)t;
    });
  for (auto& th : threads) th.join();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_EQ(own_ok.load(), kClients * kPer);
  EXPECT_EQ(shared_ok.load() + conflicts.load(), kClients * kPer);
  auto v = setup.get("/v1/instances/" + shared).json_body();
  EXPECT_EQ(v["data"]["n"], shared_ok.load()) << "every acknowledged step is there, and only those";
  EXPECT_EQ(v["version"], 1 + shared_ok.load());
  auto stats = setup.get("/v1/stats?definition=t.counter");
  EXPECT_EQ(stats.json_body()["total"], 1 + kClients);
  EXPECT_TRUE(engine_->verify().ok());
}

TEST_F(ServerTest, OverTheConnectionLimitANewConnectionGets503) {
  ServerConfig cfg = config();
  cfg.max_connections = 2;
  serve(cfg);
  HttpClient a(port_, "clerk-token"), b(port_, "clerk-token");
  EXPECT_EQ(a.get("/healthz").status, 200);
  EXPECT_EQ(b.get("/healthz").status, 200);
  std::string answer = raw_exchange(port_, "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n", 3000);
  EXPECT_EQ(raw_status(answer), 503);
  EXPECT_EQ(a.get("/healthz").status, 200) << "the open connections still work";
}

TEST_F(ServerTest, ShutdownFinishesWhatIsInFlightAndThenRefuses) {
  serve();
  HttpClient c(port_, "clerk-token");
  std::string id = start_counter(c);
  std::atomic<int> ok{0};
  std::thread sender([&] {
    HttpClient s(port_, "clerk-token");
    for (int i = 0; i < 50; ++i) {
      try {
        if (s.post("/v1/instances/" + id + "/events", {{"event", "bump"}}).status == 200) ++ok;
      } catch (const std::exception&) {
        break;  // the server went away between requests: fine
      }
    }
  });
  std::this_thread::sleep_for(
      std::chrono::milliseconds(20));  // let some requests run (not a wait for a result)
  server_->shutdown(std::chrono::seconds(5));
  sender.join();
  EXPECT_EQ(engine_->get(id)->data["n"], ok.load()) << "every answered step is durable, no more";
  boost::asio::io_context ioc;
  tcp::socket s(ioc);
  boost::system::error_code ec;
  s.connect(tcp::endpoint(boost::asio::ip::address_v4::loopback(), port_), ec);
  EXPECT_TRUE(ec) << "no longer accepting";
}

TEST_F(ServerTest, ServesOverTlsWithTheConfiguredCertificate) {
  std::string cert = dir_ + "/cert.pem", key = dir_ + "/key.pem";
  std::string cmd =
      "openssl req -x509 -newkey rsa:2048 -nodes -subj /CN=127.0.0.1 -days 2 -keyout " + key +
      " -out " + cert + " >/dev/null 2>&1";
  ASSERT_EQ(std::system(cmd.c_str()), 0) << "openssl must be installed (scripts/setup.sh)";
  ServerConfig cfg = config();
  cfg.tls = TlsConfig{cert, key};
  serve(cfg);
  namespace ssl = boost::asio::ssl;
  boost::asio::io_context ioc;
  ssl::context ctx(ssl::context::tls_client);
  ctx.load_verify_file(cert);
  ctx.set_verify_mode(ssl::verify_peer);
  boost::beast::ssl_stream<tcp::socket> stream(ioc, ctx);
  stream.next_layer().connect(tcp::endpoint(boost::asio::ip::address_v4::loopback(), port_));
  stream.handshake(ssl::stream_base::client);
  http::request<http::string_body> req{http::verb::get, "/v1/definitions", 11};
  req.set(http::field::host, "127.0.0.1");
  req.set(http::field::authorization, "Bearer admin-token");
  http::write(stream, req);
  boost::beast::flat_buffer buf;
  http::response<http::string_body> res;
  http::read(stream, buf, res);
  EXPECT_EQ(res.result_int(), 200u);
  EXPECT_NE(res.body().find("t.counter"), std::string::npos);
  // Plain HTTP on the TLS port gets no answer, and the server keeps serving.
  EXPECT_EQ(raw_status(raw_exchange(port_, "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n", 3000)), 0);
  boost::system::error_code ec;
  stream.shutdown(ec);
}

TEST(ServerConfigTest, TheServerSectionIsCheckedWithPointers) {
  Problems problems;
  auto cfg = ServerConfig::from_json(
      json::parse(
          R"({"listen": "127.0.0.1", "threads": 0, "tokens": [{"name": "a", "sha256": "secret", "actor": "x"}],
                     "limits": {"bodyBytes": "big"}, "colour": 1})"),
      "", "/server", problems);
  EXPECT_FALSE(cfg);
  std::set<std::string> pointers;
  for (const auto& p : problems.items()) pointers.insert(p.pointer);
  EXPECT_TRUE(pointers.count("/server/listen"));
  EXPECT_TRUE(pointers.count("/server/threads"));
  EXPECT_TRUE(pointers.count("/server/tokens/0/sha256"));
  EXPECT_TRUE(pointers.count("/server/limits/bodyBytes"));
  EXPECT_TRUE(pointers.count("/server/colour"));
  Problems ok_problems;
  auto ok = ServerConfig::from_json(
      json::parse(
          R"({"listen": "0.0.0.0:0", "tokens": [{"name": "a", "sha256": ")" +
          ServerConfig::hash_token("t") +
          R"(", "actor": "x", "roles": ["admin"]}], "tls": {"certificate": "c.pem", "privateKey": "k.pem"}})"),
      "/etc/bihuan", "/server", ok_problems);
  ASSERT_TRUE(ok);
  EXPECT_EQ(ok->host, "0.0.0.0");
  EXPECT_EQ(ok->tokens[0].actor.roles, std::vector<std::string>{"admin"});
  EXPECT_EQ(ok->tls->certificate_file, "/etc/bihuan/c.pem");
}

TEST_F(ServerTest, ADamagedRecordIs500RecordDamagedForStepsAndReadsWithoutRetryAfter) {
  SKIP_ON_PG("it damages data.mdb");
  StartRequest s;
  s.definition = "t.counter";
  s.data = {{"n", 0}};
  auto started = engine_->start(s);
  ASSERT_TRUE(started.ok());
  std::string id = started.instance->id;
  engine_->close();
  engine_.reset();
  {
    std::string error;
    auto env = storage::Env::open(dir_ + "/data", 64u << 20, false, &error);
    ASSERT_TRUE(env) << error;
    auto txn = env->begin(true, nullptr);
    std::string key = storage::be64(std::stoull(id, nullptr, 16));
    int rc = 0;
    auto stored = txn->get(storage::Db::inst, key, rc);
    ASSERT_TRUE(stored) << storage::error_text(rc);
    json r = json::from_msgpack(*stored);
    r["s"] = 7;  // t.counter has two states
    auto bytes = json::to_msgpack(r);
    ASSERT_EQ(txn->put(storage::Db::inst, key, std::string(bytes.begin(), bytes.end())), 0);
    ASSERT_EQ(txn->commit(), 0);
  }
  Problems problems;
  EngineOptions eo;
  eo.data_dir = dir_ + "/data";
  engine_ = Engine::open(eo, problems);
  ASSERT_TRUE(engine_);
  serve();
  HttpClient c(port_, "clerk-token");
  auto sent = c.post("/v1/instances/" + id + "/events", {{"event", "bump"}});
  EXPECT_EQ(sent.status, 500) << sent.body;
  EXPECT_EQ(sent.json_body()["code"], "record-damaged");
  EXPECT_NE(sent.body.find("state 7 is not a state of t.counter v1"), std::string::npos)
      << sent.body;
  EXPECT_EQ(sent.header("Retry-After"), "");
  // Reads say why, not "not found", to a global administrator; to others a record
  // whose access cannot be read is one they may not see (docs/authorization.md).
  HttpClient admin(port_, "admin-token");
  auto read = admin.get("/v1/instances/" + id);
  EXPECT_EQ(read.status, 500) << read.body;
  EXPECT_EQ(read.json_body()["code"], "record-damaged");
  EXPECT_NE(read.body.find("state 7 is not a state of t.counter v1"), std::string::npos)
      << read.body;
  EXPECT_EQ(admin.get("/v1/instances/" + id + "/history").status, 500);
  EXPECT_EQ(c.get("/v1/instances/" + id).status, 404);
  EXPECT_EQ(c.get("/v1/instances/" + id + "/history").status, 404);
  EXPECT_EQ(c.get("/v1/instances/0123456789abcdef").status, 404);
  InstanceQuery q;
  EXPECT_TRUE(engine_->query(q).items.empty()) << "lists skip it";
  EXPECT_EQ(c.post("/v1/instances", {{"definition", "t.counter"}, {"data", {{"n", 0}}}}).status,
            201)
      << "the server goes on";
}
