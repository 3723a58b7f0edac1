// The identity file reloaded without a restart: through POST /v1/admin/identity/reload,
// through Server::reload_identity() (what SIGHUP calls) and through a real SIGHUP to a real
// `bihuan serve`. A token added works at once, a revoked one fails on the next request, a
// bad file is refused with its pointers and the identities in use stay. Also /metrics:
// public on a loopback listen only.
#include <signal.h>

#include "identity_fixture.hpp"
#include "serve_process.hpp"

using namespace bihuan;
using namespace bihuan::test;

TEST_F(IdentityTest, TheReloadRouteAddsAndRevokesTokensAtOnce) {
  serve();
  HttpClient office(port_, "office-token");
  ASSERT_EQ(office.get("/v1/me").status, 200);  // now in the table's cache
  HttpClient admin(port_, "admin-token");

  json doc = identity_doc();
  doc["tokens"] = {token_entry("station", "station-token", "ST01", {"STATION"},
                               {{"station", "ST01"}, {"stations", {"ST01", "ST02"}}})};
  write_identity(doc);
  HttpClient station(port_, "station-token");
  EXPECT_EQ(station.get("/v1/me").status, 401) << "not before the reload";
  auto r = admin.post("/v1/admin/identity/reload", json::object());
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.json_body()["reloaded"], true);

  auto me = station.get("/v1/me");
  ASSERT_EQ(me.status, 200) << me.body;
  EXPECT_EQ(me.json_body()["attrs"]["stations"], json({"ST01", "ST02"}));
  auto gone = office.get("/v1/me");
  EXPECT_EQ(gone.status, 401) << "revoked: the cache went with its table";
  EXPECT_EQ(gone.json_body()["errors"][0]["code"], "unknown-token");
  EXPECT_EQ(admin.get("/v1/me").status, 200) << "the configuration's tokens stay";
  auto logged = log_lines("identity reloaded");
  ASSERT_EQ(logged.size(), 1u);
  EXPECT_EQ(logged[0]["tokens"], 3);  // admin, clerk, station
  EXPECT_EQ(logged[0]["jwtKeys"], 2);
}

TEST_F(IdentityTest, ABadFileIsRefusedWithItsPointersAndTheOldSetStays) {
  serve();
  HttpClient admin(port_, "admin-token");
  json doc = identity_doc();
  doc["tokens"].push_back(token_entry("x", "x-token", "x", {"clerk"}, {{"deep", {{"a", 1}}}}));
  doc["tokens"].push_back(token_entry("admin", "other", "y", {"clerk"}));  // config's name
  doc["jwt"]["leewaySeconds"] = -1;
  write_identity(doc);
  auto r = admin.post("/v1/admin/identity/reload", json::object());
  ASSERT_EQ(r.status, 422) << r.body;
  EXPECT_EQ(r.header("Content-Type"), "application/problem+json");
  std::set<std::string> where;
  json body = r.json_body();
  for (const auto& e : body["errors"]) where.insert(e["pointer"].get<std::string>());
  EXPECT_EQ(where,
            (std::set<std::string>{"/tokens/1/attrs/deep", "/tokens/2/name", "/jwt/leewaySeconds"}))
      << r.body;
  EXPECT_EQ(HttpClient(port_, "office-token").get("/v1/me").status, 200) << "old set kept";
  EXPECT_EQ(HttpClient(port_, make_jwt(rsa_, claims())).get("/v1/me").status, 200);

  // Not JSON at all; then a JWKS file that went missing.
  write(dir_ + "/identity.json", "{\"tokens\": [");
  r = admin.post("/v1/admin/identity/reload", json::object());
  EXPECT_EQ(r.status, 422) << r.body;
  write_identity(identity_doc());
  std::filesystem::remove(dir_ + "/jwks.json");
  r = admin.post("/v1/admin/identity/reload", json::object());
  EXPECT_EQ(r.status, 422) << r.body;
  EXPECT_NE(r.body.find("jwks.json"), std::string::npos) << r.body;
  EXPECT_EQ(HttpClient(port_, make_jwt(ec_, claims())).get("/v1/me").status, 200)
      << "the keys in use stay";
  EXPECT_EQ(log_lines("identity reload refused; the identities in use are unchanged").size(), 3u);
}

TEST_F(IdentityTest, TheSignalPathRotatesKeysAndRevokesTokens) {
  serve();
  std::string old_rs = make_jwt(rsa_, claims());
  ASSERT_EQ(HttpClient(port_, old_rs).get("/v1/me").status, 200);
  // Key rotation: r1 leaves the JWKS, r2 comes in; the office token is revoked.
  TestKey r2 = TestKey::rsa("r2");
  write_jwks({r2.jwk(), ec_.jwk()});
  json doc = identity_doc();
  doc["tokens"] = json::array();
  write_identity(doc);
  Problems problems;
  ASSERT_TRUE(server_->reload_identity(problems));
  auto r = HttpClient(port_, old_rs).get("/v1/me");
  EXPECT_EQ(r.status, 401);
  EXPECT_EQ(r.json_body()["errors"][0]["code"], "jwt-unknown-kid");
  EXPECT_EQ(HttpClient(port_, make_jwt(r2, claims())).get("/v1/me").status, 200);
  EXPECT_EQ(HttpClient(port_, "office-token").get("/v1/me").status, 401);

  write(dir_ + "/jwks.json", "{\"keys\": 3}");
  Problems bad;
  EXPECT_FALSE(server_->reload_identity(bad));
  ASSERT_TRUE(bad.has_errors());
  EXPECT_EQ(bad.items()[0].file, dir_ + "/jwks.json");
  EXPECT_EQ(HttpClient(port_, make_jwt(r2, claims())).get("/v1/me").status, 200);
}

TEST_F(IdentityTest, WithoutAnIdentityFileTheReloadSaysSo) {
  ServerConfig c = config();
  c.identity_file.clear();
  serve(c);
  auto r = HttpClient(port_, "admin-token").post("/v1/admin/identity/reload", json::object());
  EXPECT_EQ(r.status, 409) << r.body;
  auto jwt = HttpClient(port_, make_jwt(rsa_, claims())).get("/v1/me");
  EXPECT_EQ(jwt.status, 401);
  EXPECT_EQ(jwt.json_body()["errors"][0]["code"], "jwt-not-configured");
}

TEST_F(IdentityTest, MetricsArePublicOnlyOnALoopbackListen) {
  serve();
  EXPECT_EQ(HttpClient(port_).get("/metrics").status, 200);
  server_->shutdown();

  ServerConfig any = config();
  any.host = "0.0.0.0";
  serve(any);
  auto r = HttpClient(port_).get("/metrics");
  EXPECT_EQ(r.status, 401) << r.body;
  EXPECT_EQ(HttpClient(port_, "clerk-token").get("/metrics").status, 200)
      << "any valid token, not only an administrator's";
  EXPECT_NE(server_->metrics_text().find("bihuan_http_refused_total{reason=\"missing-token\"} 1"),
            std::string::npos);
  server_->shutdown();

  ServerConfig strict = config();
  strict.metrics_public = false;
  serve(strict);
  EXPECT_EQ(HttpClient(port_).get("/metrics").status, 401) << "metricsPublic false: stricter";
}

// A real SIGHUP to a real `bihuan serve`: the identity file is read again, the outcome is
// one JSON log line, and a bad file leaves the identities in use.
TEST_F(IdentityTest, SighupReloadsTheIdentityFileOfARunningServe) {
  json doc = {{"tokens", {token_entry("one", "one-token", "a1", {"clerk"})}}};
  write_identity(doc);
  std::string cfg = dir_ + "/bihuan.json";
  write(cfg, json({{"server",
                    {{"identityFile", "identity.json"},
                     {"tokens", {token_entry("ops", "ops-token", "ops", {"admin"})}}}}})
                 .dump(2));
  ServeProcess p;
  ASSERT_TRUE(p.start({"--config", cfg, "--listen", "127.0.0.1:0", "--data-dir", dir_ + "/served",
                       "--no-workflows"},
                      dir_ + "/serve.log"))
      << p.text();
  ASSERT_EQ(HttpClient(p.port, "one-token").get("/v1/me").status, 200);

  write_identity({{"tokens", {token_entry("two", "two-token", "a2", {"clerk"})}}});
  kill(p.pid, SIGHUP);
  ASSERT_TRUE(p.wait_for_line("identity reloaded")) << p.text();
  EXPECT_EQ(HttpClient(p.port, "one-token").get("/v1/me").status, 401);
  EXPECT_EQ(HttpClient(p.port, "two-token").get("/v1/me").json_body()["id"], "a2");

  write(dir_ + "/identity.json", "{\"tokens\": [{\"name\": 1}]}");
  kill(p.pid, SIGHUP);
  ASSERT_TRUE(p.wait_for_line("identity reload refused; the identities in use are unchanged"))
      << p.text();
  EXPECT_EQ(HttpClient(p.port, "two-token").get("/v1/me").status, 200);
  bool pointed = false;
  for (const auto& line : p.lines())
    if (line.is_object() && line.contains("problems"))
      for (const auto& pr : line["problems"])
        pointed = pointed || pr["pointer"] == "/tokens/0/name";
  EXPECT_TRUE(pointed) << p.text();
  EXPECT_EQ(p.stop(), 0);
}
