// The API's routes through a real server and a real HTTP client: steps, reads, security.
#include <fstream>

#include "server_fixture.hpp"

using namespace bihuan;
using namespace bihuan::test;

namespace {
std::string first_error_pointer(const Response& r) {
  auto j = r.json_body();
  if (!j.contains("errors") || j["errors"].empty()) return "<none>";
  return j["errors"][0].value("pointer", "");
}
}  // namespace

TEST_F(ServerTest, OperationsRoutesNeedNoToken) {
  serve();
  HttpClient c(port_);
  EXPECT_EQ(c.get("/healthz").status, 200);
  EXPECT_EQ(c.get("/readyz").status, 200);
  auto m = c.get("/metrics");
  EXPECT_EQ(m.status, 200);
  EXPECT_NE(m.body.find("bihuan_steps_total"), std::string::npos);
  EXPECT_NE(m.body.find("bihuan_step_latency_seconds_bucket"), std::string::npos);
  EXPECT_NE(m.body.find("bihuan_group_commit_batch_size_bucket"), std::string::npos);
  EXPECT_NE(m.body.find("bihuan_timer_lag_seconds_count"), std::string::npos);
  EXPECT_NE(m.body.find("bihuan_outbox_depth"), std::string::npos);
  EXPECT_NE(
      m.body.find("bihuan_http_requests_total{route=\"/healthz\",method=\"GET\",status=\"200\"} 1"),
      std::string::npos)
      << m.body;
  c.get("/no/such/route");
  EXPECT_NE(c.get("/metrics").body.find("route=\"unmatched\",method=\"-\",status=\"404\"} 1"),
            std::string::npos);
  auto doc = c.get("/v1/openapi.json");
  EXPECT_EQ(doc.status, 200);
  EXPECT_EQ(doc.json_body().value("openapi", ""), "3.1.0");
}

TEST_F(ServerTest, NoTokenIs401AndAnUnknownTokenToo) {
  serve();
  HttpClient anon(port_);
  auto r = anon.get("/v1/definitions");
  EXPECT_EQ(r.status, 401);
  EXPECT_EQ(r.header("Content-Type"), "application/problem+json");
  EXPECT_NE(r.header("WWW-Authenticate").find("Bearer"), std::string::npos);
  EXPECT_EQ(r.json_body()["instance"], "GET /v1/definitions");
  HttpClient wrong(port_, "not-a-token");
  EXPECT_EQ(wrong.get("/v1/definitions").status, 401);
  auto malformed = anon.get("/v1/definitions", {{"Authorization", "Basic YWRtaW4="}});
  EXPECT_EQ(malformed.status, 401);
}

TEST_F(ServerTest, StartGetSendWithETagsAndTheTokensIdentityAsActor) {
  serve();
  HttpClient clerk(port_, "clerk-token");
  std::string id = start_counter(clerk);
  auto got = clerk.get("/v1/instances/" + id);
  ASSERT_EQ(got.status, 200);
  EXPECT_EQ(got.header("ETag"), "\"1\"");
  EXPECT_EQ(got.json_body()["state"], "open");

  auto sent =
      clerk.post("/v1/instances/" + id + "/events", {{"event", "bump"}}, {{"If-Match", "\"1\""}});
  ASSERT_EQ(sent.status, 200) << sent.body;
  EXPECT_EQ(sent.header("ETag"), "\"2\"");
  EXPECT_EQ(sent.json_body()["data"]["n"], 1);
  EXPECT_EQ(sent.json_body()["data"]["by"], json::array({"clerk-1"}))
      << "the actor is the token's identity";

  // A stale If-Match: 412, nothing applied.
  auto stale =
      clerk.post("/v1/instances/" + id + "/events", {{"event", "bump"}}, {{"If-Match", "\"1\""}});
  EXPECT_EQ(stale.status, 412);
  EXPECT_EQ(stale.json_body()["currentVersion"], 2);
  // Nobody can name another actor in the body.
  auto spoof =
      clerk.post("/v1/instances/" + id + "/events", {{"event", "bump"}, {"actor", "admin"}});
  EXPECT_EQ(spoof.status, 422);
  EXPECT_EQ(first_error_pointer(spoof), "/actor");
  // The definition's role check applies: clerks may not close.
  auto denied = clerk.post("/v1/instances/" + id + "/events", {{"event", "close"}});
  EXPECT_EQ(denied.status, 403);
  EXPECT_EQ(denied.json_body()["code"], "role-not-allowed");
  // An event the state does not accept: 409.
  auto unknown = clerk.post("/v1/instances/" + id + "/events", {{"event", "fly"}});
  EXPECT_EQ(unknown.status, 409);
  EXPECT_EQ(clerk.get("/v1/instances/" + id).json_body()["version"], 2)
      << "refused steps change nothing";

  auto history = clerk.get("/v1/instances/" + id + "/history");
  ASSERT_EQ(history.status, 200);
  ASSERT_EQ(history.json_body()["items"].size(), 2u);
  EXPECT_EQ(history.json_body()["items"][1]["actor"], "clerk-1");
  EXPECT_EQ(clerk.get("/v1/instances/0123456789abcdef").status, 404);
  EXPECT_EQ(clerk.get("/v1/instances/nonsense/history").status, 404);
}

// GET .../history pages back from the newest entry; each page lists oldest first.
TEST_F(ServerTest, HistoryComesInPagesWithACursor) {
  serve();
  HttpClient c(port_, "clerk-token");
  std::string id = start_counter(c);
  for (int i = 0; i < 6; ++i)
    ASSERT_EQ(c.post("/v1/instances/" + id + "/events", {{"event", "bump"}}).status, 200);
  auto seqs = [](const Response& r) {
    std::vector<int> out;
    json body = r.json_body();
    for (const auto& e : body["items"]) out.push_back(e["seq"].get<int>());
    return out;
  };
  std::string base = "/v1/instances/" + id + "/history";
  auto all = c.get(base);
  ASSERT_EQ(all.status, 200);
  EXPECT_EQ(seqs(all), (std::vector<int>{1, 2, 3, 4, 5, 6, 7}));
  EXPECT_FALSE(all.json_body().contains("nextCursor"));
  auto p1 = c.get(base + "?limit=3");
  EXPECT_EQ(seqs(p1), (std::vector<int>{5, 6, 7}));
  std::string cursor = p1.json_body().value("nextCursor", "");
  ASSERT_FALSE(cursor.empty());
  auto p2 = c.get(base + "?limit=3&cursor=" + cursor);
  EXPECT_EQ(seqs(p2), (std::vector<int>{2, 3, 4}));
  auto p3 = c.get(base + "?limit=3&cursor=" + p2.json_body().value("nextCursor", ""));
  EXPECT_EQ(seqs(p3), (std::vector<int>{1}));
  EXPECT_FALSE(p3.json_body().contains("nextCursor"));

  auto bad = c.get(base + "?cursor=00ff");
  EXPECT_EQ(bad.status, 400);
  EXPECT_EQ(first_error_pointer(bad), "query:cursor");
  EXPECT_NE(bad.json_body().value("detail", "").find("does not name an entry of instance " + id),
            std::string::npos)
      << bad.body;
  EXPECT_EQ(c.get(base + "?limit=0").status, 400);
  EXPECT_EQ(c.get(base + "?limit=1001").status, 400);
}

TEST_F(ServerTest, AnIdempotencyKeyReplaysTheFirstResult) {
  serve();
  HttpClient c(port_, "clerk-token");
  std::string id = start_counter(c);
  Headers key = {{"Idempotency-Key", "bump-42"}};
  auto first = c.post("/v1/instances/" + id + "/events", {{"event", "bump"}}, key);
  auto again = c.post("/v1/instances/" + id + "/events", {{"event", "bump"}}, key);
  ASSERT_EQ(first.status, 200);
  ASSERT_EQ(again.status, 200);
  EXPECT_EQ(again.json_body()["replayed"], true);
  EXPECT_EQ(c.get("/v1/instances/" + id).json_body()["data"]["n"], 1) << "applied once";
  auto s1 =
      c.post("/v1/instances", {{"definition", "t.counter"}}, {{"Idempotency-Key", "start-7"}});
  auto s2 =
      c.post("/v1/instances", {{"definition", "t.counter"}}, {{"Idempotency-Key", "start-7"}});
  EXPECT_EQ(s1.status, 201);
  EXPECT_EQ(s2.status, 201) << "a replay answers as its start did";
  EXPECT_EQ(s2.json_body()["replayed"], true);
  EXPECT_EQ(s1.json_body()["id"], s2.json_body()["id"]);
}

// Keys over 256 bytes (which LMDB could not store) are refused with a pointer to the
// member or header; at 256 bytes they work.
TEST_F(ServerTest, OverlongBusinessAndIdempotencyKeysAreRefusedWithTheirPointer) {
  serve();
  HttpClient c(port_, "clerk-token");
  auto long_key = c.post("/v1/instances",
                         {{"definition", "t.counter"}, {"businessKey", std::string(300, 'k')}});
  ASSERT_EQ(long_key.status, 422) << long_key.body;
  EXPECT_EQ(long_key.json_body()["code"], "too-long");
  EXPECT_EQ(long_key.json_body()["errors"][0]["pointer"], "/businessKey");
  EXPECT_EQ(long_key.json_body()["errors"][0]["detail"], "expected at most 256 bytes, got 300");
  auto long_idem = c.post("/v1/instances", {{"definition", "t.counter"}},
                          {{"Idempotency-Key", std::string(257, 'i')}});
  ASSERT_EQ(long_idem.status, 400) << long_idem.body;
  EXPECT_EQ(long_idem.json_body()["errors"][0]["pointer"], "header:Idempotency-Key");
  auto at_limit =
      c.post("/v1/instances", {{"definition", "t.counter"}, {"businessKey", std::string(256, 'k')}},
             {{"Idempotency-Key", std::string(256, 'i')}});
  EXPECT_EQ(at_limit.status, 201) << at_limit.body;
}

TEST_F(ServerTest, AdministrativeRoutesNeedTheAdminRole) {
  serve();
  HttpClient clerk(port_, "clerk-token");
  HttpClient admin(port_, "admin-token");
  std::string id = start_counter(clerk);
  auto denied = clerk.post("/v1/instances/" + id + "/cancel", {{"reason", "x"}});
  EXPECT_EQ(denied.status, 403);
  EXPECT_EQ(clerk.get("/v1/instances/" + id).json_body()["status"], "running")
      << "the step was not applied";
  EXPECT_EQ(clerk.get("/v1/verify").status, 403);
  EXPECT_EQ(clerk.get("/v1/outbox").status, 403);
  EXPECT_EQ(clerk.post("/v1/definitions", json::parse(kCounterDefinition)).status, 403);

  auto cancelled = admin.post("/v1/instances/" + id + "/cancel", {{"reason", "test"}});
  EXPECT_EQ(cancelled.status, 200) << cancelled.body;
  EXPECT_EQ(cancelled.json_body()["status"], "cancelled");
  auto v = admin.get("/v1/verify");
  EXPECT_EQ(v.status, 200);
  EXPECT_EQ(v.json_body()["ok"], true);
  EXPECT_EQ(admin.get("/v1/outbox").status, 200);
  EXPECT_EQ(admin.get("/v1/dead-letters").status, 200);
  EXPECT_EQ(admin.request(http::verb::post, "/v1/dead-letters/12345/retry").status, 404);
  auto backup =
      admin.post("/v1/backup", {{"dir", "backup"}});  // inside the default root <data>-backups
  if (::bihuan::testing::on_pg()) {  // the database's own tools back it up: refused with that
    EXPECT_EQ(backup.status, 409) << backup.body;
    EXPECT_NE(backup.body.find("pg_basebackup"), std::string::npos) << backup.body;
    return;
  }
  EXPECT_EQ(backup.status, 200) << backup.body;
  EXPECT_TRUE(std::filesystem::exists(dir_ + "/data-backups/backup/data.mdb"));
  EXPECT_EQ(admin.post("/v1/backup", {{"dir", "backup"}}).status, 409) << "not empty";
}

TEST_F(ServerTest, MigrateMovesAnInstanceToANewVersionAfterADryRun) {
  serve();
  HttpClient clerk(port_, "clerk-token");
  HttpClient admin(port_, "admin-token");
  std::string id = start_counter(clerk);
  auto v2 = json::parse(kCounterDefinition);
  v2["version"] = 2;
  v2["states"]["counting"] = v2["states"]["open"];
  v2["states"].erase("open");
  v2["initial"] = "counting";
  ASSERT_EQ(admin.post("/v1/definitions", v2).status, 201);
  const std::string path = "/v1/instances/" + id + "/migrate";

  EXPECT_EQ(clerk.post(path, {{"dryRun", true}}).status, 403);
  auto unmapped = admin.post(path, json::object());
  EXPECT_EQ(unmapped.status, 400) << unmapped.body;
  EXPECT_NE(unmapped.json_body().value("detail", "").find("has no state \"open\""),
            std::string::npos)
      << unmapped.body;
  EXPECT_EQ(first_error_pointer(unmapped), "/states");
  auto typo = admin.post(path, {{"states", {{"opne", "counting"}}}});
  EXPECT_EQ(typo.status, 400);
  EXPECT_EQ(first_error_pointer(typo), "/states/opne") << typo.body;
  EXPECT_EQ(first_error_pointer(admin.post(path, {{"toVersion", 9}})), "/toVersion");
  EXPECT_EQ(first_error_pointer(
                admin.post(path, {{"states", {{"open", "counting"}}}, {"set", {{"n", 1}}}})),
            "/set/n");
  auto wrong = admin.post(path, {{"states", {{"open", 7}}}});
  EXPECT_EQ(wrong.status, 422);
  EXPECT_EQ(first_error_pointer(wrong), "/states/open");
  EXPECT_EQ(first_error_pointer(admin.post(path, {{"toVersion", "2"}})), "/toVersion");
  EXPECT_EQ(first_error_pointer(admin.post(path, {{"dryrun", true}})), "/dryrun");

  json body = {{"states", {{"open", "counting"}}},
               {"set", {{"/n", {{"+", {{{"var", "data.n"}}, 10}}}}}},
               {"reason", "rename"},
               {"dryRun", true}};
  auto dry = admin.post(path, body);
  ASSERT_EQ(dry.status, 200) << dry.body;
  EXPECT_EQ(dry.json_body()["state"], "counting");
  EXPECT_EQ(dry.json_body()["data"]["n"], 10);
  EXPECT_EQ(dry.json_body()["migration"]["dryRun"], true);
  EXPECT_EQ(dry.header("ETag"), "") << "a dry run changed nothing";
  EXPECT_EQ(clerk.get("/v1/instances/" + id).json_body()["definitionVersion"], 1);

  body["dryRun"] = false;
  auto stale = admin.post(path, body, {{"If-Match", "\"5\""}});
  EXPECT_EQ(stale.status, 412) << stale.body;
  auto done = admin.post(path, body, {{"If-Match", "\"1\""}});
  ASSERT_EQ(done.status, 200) << done.body;
  EXPECT_EQ(done.header("ETag"), "\"2\"");
  EXPECT_EQ(done.json_body()["definitionVersion"], 2);
  EXPECT_EQ(done.json_body()["migration"]["fromState"], "open");
  auto hist = clerk.get("/v1/instances/" + id + "/history").json_body();
  EXPECT_EQ(hist["items"].back()["kind"], "migrate") << hist.dump();
  auto bumped = clerk.post("/v1/instances/" + id + "/events", {{"event", "bump"}});
  ASSERT_EQ(bumped.status, 200) << bumped.body;
  EXPECT_EQ(bumped.json_body()["data"]["n"], 11);
}

TEST_F(ServerTest, AMigrationPlanCountsADryRunThenMigratesPageByPage) {
  serve();
  HttpClient clerk(port_, "clerk-token");
  HttpClient admin(port_, "admin-token");
  std::vector<std::string> ids;
  for (int i = 0; i < 3; ++i) ids.push_back(start_counter(clerk));
  auto v2 = json::parse(kCounterDefinition);
  v2["version"] = 2;
  v2["dataSchema"] = {{"type", "object"}, {"required", {"owner"}}};
  ASSERT_EQ(admin.post("/v1/definitions", v2).status, 201);

  EXPECT_EQ(clerk.post("/v1/migrations", {{"definition", "t.counter"}}).status, 403);
  EXPECT_EQ(first_error_pointer(admin.post("/v1/migrations", json::object())), "/definition");
  EXPECT_EQ(first_error_pointer(
                admin.post("/v1/migrations", {{"definition", "t.counter"}, {"limit", 0}})),
            "/limit");
  EXPECT_EQ(admin.post("/v1/migrations", {{"definition", "t.none"}}).status, 404);
  auto bad_cursor = admin.post("/v1/migrations", {{"definition", "t.counter"}, {"cursor", "zz"}});
  EXPECT_EQ(bad_cursor.status, 400);
  EXPECT_EQ(first_error_pointer(bad_cursor), "/cursor");

  auto refused = admin.post("/v1/migrations", {{"definition", "t.counter"}, {"dryRun", true}});
  ASSERT_EQ(refused.status, 200) << refused.body;
  EXPECT_EQ(refused.json_body()["examined"], 3);
  EXPECT_EQ(refused.json_body()["refusedBy"]["data-invalid"], 3);
  EXPECT_EQ(refused.json_body()["refused"][0]["code"], "data-invalid");

  json plan = {{"definition", "t.counter"},
               {"set", {{"/owner", "office"}}},
               {"limit", 2},
               {"reason", "owners"}};
  auto page1 = admin.post("/v1/migrations", plan);
  ASSERT_EQ(page1.status, 200) << page1.body;
  EXPECT_EQ(page1.json_body()["migrated"], 2);
  ASSERT_TRUE(page1.json_body().contains("nextCursor")) << page1.body;
  plan["cursor"] = page1.json_body()["nextCursor"];
  auto page2 = admin.post("/v1/migrations", plan);
  ASSERT_EQ(page2.status, 200) << page2.body;
  EXPECT_EQ(page2.json_body()["migrated"], 1);
  EXPECT_FALSE(page2.json_body().contains("nextCursor"));
  for (const auto& id : ids) {
    auto v = clerk.get("/v1/instances/" + id).json_body();
    EXPECT_EQ(v["definitionVersion"], 2);
    EXPECT_EQ(v["data"]["owner"], "office");
  }
}

TEST_F(ServerTest, DefinitionsDeployValidateGetAndGraph) {
  serve();
  HttpClient admin(port_, "admin-token");
  json def = json::parse(kCounterDefinition);
  def["version"] = 2;
  auto deployed = admin.post("/v1/definitions", def);
  EXPECT_EQ(deployed.status, 201) << deployed.body;
  EXPECT_EQ(admin.post("/v1/definitions", def).status, 200) << "same content: unchanged";
  def["title"] = "changed";
  EXPECT_EQ(admin.post("/v1/definitions", def).status, 409) << "same version, other content";

  json broken = {{"id", "t.broken"},
                 {"version", 1},
                 {"initial", "nowhere"},
                 {"states", {{"a", {{"type", "final"}}}}}};
  auto bad = admin.post("/v1/definitions", broken);
  EXPECT_EQ(bad.status, 422);
  bool names_initial = false;
  json bad_body = bad.json_body();
  for (const auto& e : bad_body["errors"])
    names_initial = names_initial || e["pointer"] == "/initial";
  EXPECT_TRUE(names_initial) << bad.body;
  auto checked = admin.post("/v1/definitions/validate", broken);
  EXPECT_EQ(checked.status, 200);
  EXPECT_EQ(checked.json_body()["valid"], false);
  EXPECT_GE(checked.json_body()["errors"].get<int>(), 1);

  auto list = admin.get("/v1/definitions");
  EXPECT_EQ(list.json_body()["items"].size(), 2u);
  auto one = admin.get("/v1/definitions/t.counter?version=1");
  EXPECT_EQ(one.status, 200);
  EXPECT_EQ(one.json_body()["title"]["zh"], "计数");
  EXPECT_EQ(admin.get("/v1/definitions/t.counter?version=abc").status, 400);
  EXPECT_EQ(admin.get("/v1/definitions/t.none").status, 404);
  auto graph = admin.get("/v1/definitions/t.counter/graph?format=dot");
  EXPECT_EQ(graph.status, 200);
  EXPECT_NE(graph.body.find("digraph"), std::string::npos);
  EXPECT_EQ(admin.get("/v1/definitions/t.counter/graph?format=png").status, 400);
}

// The console marks problems at their lines: validate and deploy answer each problem's
// line and column in the text as sent, and a JSON syntax error has them too.
TEST_F(ServerTest, DefinitionProblemsCarryTheirLineAndColumnInTheTextAsSent) {
  serve();
  HttpClient admin(port_, "admin-token");
  const std::string text =
      "{\n"
      "  \"id\": \"t.lines\",\n"
      "  \"version\": 1,\n"
      "  \"initial\": \"NOWHERE\",\n"
      "  \"states\": {\"A\": {\"type\": \"final\"}}\n"
      "}\n";
  for (const char* path : {"/v1/definitions/validate", "/v1/definitions"}) {
    auto r = admin.request(http::verb::post, path, text);
    ASSERT_EQ(r.status, std::string(path) == "/v1/definitions" ? 422 : 200) << r.body;
    bool found = false;
    json body = r.json_body();
    for (const auto& p : body["problems"])
      if (p["pointer"] == "/initial") {
        found = true;
        EXPECT_EQ(p["line"], 4) << path << " " << p.dump();
        EXPECT_EQ(p["column"], 14) << path << " " << p.dump();
      }
    EXPECT_TRUE(found) << path << " " << r.body;
  }
  auto broken = admin.request(http::verb::post, "/v1/definitions/validate",
                              "{\n  \"id\": \"t.lines\",\n  \"version\" 1\n}");
  ASSERT_EQ(broken.status, 400) << broken.body;
  EXPECT_EQ(broken.json_body()["code"], "invalid-json");
  ASSERT_FALSE(broken.json_body()["problems"].empty()) << broken.body;
  EXPECT_EQ(broken.json_body()["problems"][0]["line"], 3) << broken.body;
  EXPECT_GT(broken.json_body()["problems"][0]["column"].get<int>(), 0) << broken.body;
}

TEST_F(ServerTest, QueryPagesWithACursorAndStatsGroupInstances) {
  serve();
  HttpClient c(port_, "clerk-token");
  for (int i = 0; i < 7; ++i)
    ASSERT_EQ(c.post("/v1/instances", {{"definition", "t.counter"},
                                       {"data", {{"n", i % 2}, {"grade", i < 3 ? "A" : "B"}}}})
                  .status,
              201);
  std::set<std::string> seen;
  std::string cursor;
  int pages = 0;
  do {
    auto page = c.get("/v1/instances?definition=t.counter&limit=3" +
                      (cursor.empty() ? "" : "&cursor=" + cursor));
    ASSERT_EQ(page.status, 200) << page.body;
    json body = page.json_body();
    for (const auto& item : body["items"]) seen.insert(item["id"].get<std::string>());
    cursor = body.value("nextCursor", "");
    ++pages;
  } while (!cursor.empty() && pages < 10);
  EXPECT_EQ(seen.size(), 7u);
  EXPECT_EQ(pages, 3);
  auto filtered = c.get("/v1/instances?definition=t.counter&filter=%2Fgrade%3A%22A%22");
  EXPECT_EQ(filtered.json_body()["items"].size(), 3u) << filtered.body;
  EXPECT_EQ(c.get("/v1/instances?limit=0").status, 400);
  auto bad_cursor = c.get("/v1/instances?definition=t.counter&cursor=00ff");
  EXPECT_EQ(bad_cursor.status, 400) << "a cursor that is not this query's would restart the paging";
  EXPECT_EQ(first_error_pointer(bad_cursor), "query:cursor");
  EXPECT_EQ(c.get("/v1/instances?status=sleeping").status, 400);

  auto stats = c.get("/v1/stats?definition=t.counter&groupBy=state,/grade");
  ASSERT_EQ(stats.status, 200) << stats.body;
  auto s = stats.json_body();
  EXPECT_EQ(s["total"], 7);
  ASSERT_EQ(s["groups"].size(), 2u);
  EXPECT_EQ(s["groups"][0]["key"]["/grade"], "A");
  EXPECT_EQ(s["groups"][0]["count"], 3);
  EXPECT_EQ(s["groups"][1]["count"], 4);
  EXPECT_EQ(c.get("/v1/stats?groupBy=colour").status, 400);
  EXPECT_EQ(c.get("/v1/stats?from=yesterday").status, 400);
  auto window = c.get("/v1/stats?from=2000-01-01T00:00:00Z&to=2001-01-01T00:00:00Z");
  EXPECT_EQ(window.json_body()["total"], 0);
}

TEST_F(ServerTest, TheInboxListsWhatTheCallerMaySend) {
  serve();
  HttpClient clerk(port_, "clerk-token");
  std::string id = start_counter(clerk);
  auto inbox = clerk.get("/v1/inbox");
  ASSERT_EQ(inbox.status, 200) << inbox.body;
  EXPECT_EQ(inbox.json_body()["actor"], "clerk-1");
  ASSERT_EQ(inbox.json_body()["items"].size(), 1u);
  EXPECT_EQ(inbox.json_body()["items"][0]["instance"]["id"], id);
  EXPECT_EQ(inbox.json_body()["items"][0]["events"], json::array({"bump"}));
  EXPECT_FALSE(inbox.json_body().contains("nextCursor"));

  std::string second = start_counter(clerk), third = start_counter(clerk);
  auto p1 = clerk.get("/v1/inbox?limit=2");
  ASSERT_EQ(p1.status, 200) << p1.body;
  ASSERT_EQ(p1.json_body()["items"].size(), 2u);
  std::string cursor = p1.json_body().value("nextCursor", "");
  ASSERT_FALSE(cursor.empty());
  auto p2 = clerk.get("/v1/inbox?limit=2&cursor=" + cursor);
  ASSERT_EQ(p2.status, 200) << p2.body;
  ASSERT_EQ(p2.json_body()["items"].size(), 1u);
  EXPECT_FALSE(p2.json_body().contains("nextCursor"));
  std::set<std::string> seen = {p1.json_body()["items"][0]["instance"]["id"],
                                p1.json_body()["items"][1]["instance"]["id"],
                                p2.json_body()["items"][0]["instance"]["id"]};
  EXPECT_EQ(seen, (std::set<std::string>{id, second, third}));
  auto bad = clerk.get("/v1/inbox?cursor=00ff");
  EXPECT_EQ(bad.status, 400);
  EXPECT_EQ(first_error_pointer(bad), "query:cursor");
}

TEST_F(ServerTest, ATokenOverItsRateGets429WithRetryAfter) {
  serve();
  HttpClient slow(port_, "slow-token");
  int ok = 0, limited = 0;
  std::string retry_after;
  for (int i = 0; i < 6; ++i) {
    auto r = slow.get("/v1/definitions");
    if (r.status == 200) ++ok;
    if (r.status == 429) {
      ++limited;
      retry_after = r.header("Retry-After");
    }
  }
  EXPECT_GE(ok, 2);
  EXPECT_GE(limited, 1);
  EXPECT_FALSE(retry_after.empty());
  HttpClient other(port_, "clerk-token");
  EXPECT_EQ(other.get("/v1/definitions").status, 200) << "limits are per token";
}

TEST_F(ServerTest, EveryRouteIsInTheOpenApiDocumentAndEveryDocumentedOperationIsARoute) {
  serve();
  json doc = json::parse(openapi_document());
  std::set<std::string> documented;
  for (auto& [path, ops] : doc["paths"].items())
    for (auto& [method, op] : ops.items()) {
      std::string m = method;
      for (auto& ch : m) ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
      documented.insert(m + " " + path);
      EXPECT_TRUE(op.contains("operationId")) << path;
      EXPECT_TRUE(op.contains("responses")) << path;
    }
  std::set<std::string> served;
  for (const auto& r : server_->routes()) served.insert(r);
  for (const auto& r : served)
    EXPECT_TRUE(documented.count(r)) << r << " is served but not documented";
  for (const auto& d : documented)
    EXPECT_TRUE(served.count(d)) << d << " is documented but not served";
  // And the file in the repository is what the server serves.
  std::ifstream in(std::string(BIHUAN_SOURCE_DIR) + "/api/openapi.json");
  std::stringstream ss;
  ss << in.rdbuf();
  EXPECT_EQ(json::parse(ss.str()), doc);
}
