// Every kind of caller against every instance route, through the real server: what each
// may see (get, list, history, stats, inbox) and do (events, cancel, migrate, deploy,
// admin routes). docs/authorization.md.
#include <map>
#include <set>

#include "server_fixture.hpp"

namespace bihuan::test {
namespace {

const char* kCase = R"({
  "id": "t.case", "version": 1,
  "access": {
    "unit": {"var": "data.unitPath"},
    "readers": [{"cat": ["actor:", {"var": "data.cadreId"}]},
                {"cat": ["station:", {"var": "data.stationId"}]}],
    "start": {"in": ["ADMIN", {"var": "actor.roles"}]}
  },
  "initial": "OPEN",
  "states": {
    "OPEN": {"on": {
      "claim": {"roles": ["REGULATOR"], "actors": {"cat": ["station:", {"var": "data.stationId"}]},
                "set": {"/claimedBy": {"var": "actor.id"}}},
      "note": {"roles": ["CADRE"], "actors": {"var": "data.cadreId"}, "set": {"/noted": true}},
      "close": {"roles": ["ADMIN"], "target": "DONE"}}},
    "DONE": {"type": "final", "outcome": "done"}
  }
})";

struct Caller {
  std::string name;
  Actor actor;
  std::set<std::string> sees;  // instance letters
};

class AuthorizationTest : public ServerTest {
 protected:
  void SetUp() override {
    ServerTest::SetUp();
    auto res = engine_->deploy(json::parse(kCase), "case");
    ASSERT_TRUE(res.ok) << (res.problems.items().empty() ? ""
                                                         : res.problems.items()[0].to_string());
    callers_ = {
        {"global", {"root", {"admin"}, json::object()}, {"A", "B", "C", "D"}},
        {"city", {"adm-GM", {"ADMIN", "admin"}, {{"unit", "HX/GM"}}}, {"A", "B", "C", "D"}},
        {"t03", {"adm-T03", {"ADMIN"}, {{"unit", "HX/GM/T03"}}}, {"A", "B"}},
        {"t04admin", {"adm-T04", {"ADMIN", "admin"}, {{"unit", "HX/GM/T04"}}}, {"C", "D"}},
        {"st01", {"zhang", {"REGULATOR"}, {{"station", "ST01"}}}, {"A"}},
        {"st02", {"li", {"REGULATOR"}, {{"station", "ST02"}}}, {"B", "C"}},
        {"cd1", {"CD1", {"CADRE"}, json::object()}, {"A", "C"}},
        {"cd2", {"CD2", {"CADRE"}, json::object()}, {"B"}},
        // Sees B as its cadre, administers T04 only: may not cancel B.
        {"cd2admin", {"CD2", {"CADRE", "admin"}, {{"unit", "HX/GM/T04"}}}, {"B", "C", "D"}},
        {"principal", {"P1", {"PRINCIPAL"}, json::object()}, {}},
    };
    ServerConfig c = config();
    for (const auto& k : callers_)
      c.tokens.push_back({k.name, ServerConfig::hash_token(k.name + "-token"), k.actor, 0, 0});
    serve(c);
    HttpClient admin(port_, "t03-token");
    struct Seed {
      const char* letter;
      const char* unit;
      const char* cadre;
      const char* station;
    };
    for (auto s :
         {Seed{"A", "HX/GM/T03/V1", "CD1", "ST01"}, Seed{"B", "HX/GM/T03/V2", "CD2", "ST02"},
          Seed{"C", "HX/GM/T04/V7", "CD1", "ST02"}, Seed{"D", "HX/GM/T04/V8", "CD3", "ST03"}}) {
      // T03's office starts all four (it may start; it will not see C and D).
      auto r = admin.post(
          "/v1/instances",
          {{"definition", "t.case"},
           {"data", {{"unitPath", s.unit}, {"cadreId", s.cadre}, {"stationId", s.station}}}});
      ASSERT_EQ(r.status, 201) << r.body;
      ids_[s.letter] = r.json_body()["id"];
    }
  }
  std::string letter_of(const std::string& id) const {
    for (const auto& [l, i] : ids_)
      if (i == id) return l;
    return "?";
  }
  std::vector<Caller> callers_;
  std::map<std::string, std::string> ids_;
};

}  // namespace

TEST_F(AuthorizationTest, EachCallerSeesExactlyItsInstancesOnEveryReadRoute) {
  for (const auto& k : callers_) {
    SCOPED_TRACE(k.name);
    HttpClient c(port_, k.name + "-token");
    for (const auto& [letter, id] : ids_) {
      bool sees = k.sees.count(letter) > 0;
      auto g = c.get("/v1/instances/" + id);
      EXPECT_EQ(g.status, sees ? 200 : 404) << letter << " " << g.body;
      auto h = c.get("/v1/instances/" + id + "/history");
      EXPECT_EQ(h.status, sees ? 200 : 404) << letter;
      auto past = c.get("/v1/instances/" + id + "?asOf=2100-01-01T00:00:00Z");
      EXPECT_EQ(past.status, sees ? 200 : 404) << letter;
      if (!sees) {  // worded exactly as an unknown instance
        auto unknown = c.get("/v1/instances/00000000000000ff");
        EXPECT_EQ(g.json_body()["type"], unknown.json_body()["type"]);
      }
    }
    // The list, paged two at a time, holds exactly the visible instances, once each.
    std::multiset<std::string> listed;
    std::string cursor;
    for (int page = 0; page < 10; ++page) {
      auto l = c.get("/v1/instances?definition=t.case&limit=2" +
                     (cursor.empty() ? std::string() : "&cursor=" + cursor));
      ASSERT_EQ(l.status, 200) << l.body;
      json body = l.json_body();
      for (const auto& item : body["items"]) listed.insert(letter_of(item["id"]));
      cursor = body.value("nextCursor", "");
      if (cursor.empty()) break;
    }
    EXPECT_EQ(listed, std::multiset<std::string>(k.sees.begin(), k.sees.end()));
    // Statistics count only what the caller may see.
    auto st = c.get("/v1/stats?definition=t.case&groupBy=state");
    ASSERT_EQ(st.status, 200) << st.body;
    EXPECT_EQ(st.json_body()["total"], k.sees.size());
  }
}

TEST_F(AuthorizationTest, EventsCancelAndMigrateFollowScope) {
  auto as = [&](const std::string& name) { return HttpClient(port_, name + "-token"); };
  auto event = [&](const std::string& who, const std::string& letter, const std::string& ev) {
    auto c = as(who);
    return c.post("/v1/instances/" + ids_[letter] + "/events", {{"event", ev}}).status;
  };
  EXPECT_EQ(event("st01", "B", "claim"), 404);  // B is routed to ST02: not there for ST01
  EXPECT_EQ(event("st02", "B", "claim"), 200);
  EXPECT_EQ(event("cd2", "A", "note"), 404);
  EXPECT_EQ(event("cd1", "A", "note"), 200);
  EXPECT_EQ(event("t03", "A", "claim"), 403);  // sees A, is no regulator
  EXPECT_EQ(event("principal", "A", "note"), 404);
  // Writes refused by scope are audited: counted, and logged with the actor and route.
  EXPECT_NE(server_->metrics_text().find("bihuan_http_refused_total{reason=\"out-of-scope\"} 3"),
            std::string::npos)
      << server_->metrics_text();
  {
    std::lock_guard lock(log_mu_);
    bool logged = false;
    for (const auto& line : log_)
      logged |= line.find("\"request refused\"") != std::string::npos &&
                line.find("\"zhang\"") != std::string::npos &&
                line.find("/v1/instances/{id}/events") != std::string::npos;
    EXPECT_TRUE(logged);
  }

  auto cancel = [&](const std::string& who, const std::string& letter) {
    auto c = as(who);
    return c.post("/v1/instances/" + ids_[letter] + "/cancel", {{"reason", "test"}});
  };
  EXPECT_EQ(cancel("t03", "A").status, 403);  // an office without the admin role
  auto r = cancel("cd2admin", "B");           // sees B, administers T04 only
  EXPECT_EQ(r.status, 403) << r.body;
  EXPECT_EQ(r.json_body()["type"].get<std::string>().find("not-administrator") != std::string::npos,
            true)
      << r.body;
  EXPECT_EQ(cancel("t04admin", "A").status, 404);  // cannot see A
  EXPECT_EQ(cancel("t04admin", "C").status, 200);
  EXPECT_EQ(cancel("city", "A").status, 200);
  EXPECT_EQ(cancel("global", "B").status, 200);

  json v2 = json::parse(kCase);
  v2["version"] = 2;
  ASSERT_TRUE(engine_->deploy(v2, "case-v2").ok);
  auto migrate = [&](const std::string& who, const std::string& letter) {
    auto c = as(who);
    auto res =
        c.post("/v1/instances/" + ids_[letter] + "/migrate", {{"toVersion", 2}, {"dryRun", true}});
    EXPECT_NE(res.status, 400) << res.body;
    return res.status;
  };
  EXPECT_EQ(migrate("t04admin", "D"), 200);
  EXPECT_EQ(migrate("cd2admin", "D"), 200);  // D is in T04
  EXPECT_EQ(migrate("st01", "D"), 403);      // no admin role at all
  EXPECT_EQ(migrate("t04admin", "A"), 404);  // cannot see A
}

TEST_F(AuthorizationTest, ServerWideRoutesNeedAGlobalAdministrator) {
  for (const char* who : {"city", "t04admin", "cd1"}) {
    SCOPED_TRACE(who);
    HttpClient c(port_, std::string(who) + "-token");
    EXPECT_EQ(c.get("/v1/verify").status, 403);
    EXPECT_EQ(c.get("/v1/outbox").status, 403);
    json def = json::parse(kCase);
    def["version"] = 2;
    EXPECT_EQ(c.post("/v1/definitions", def).status, 403);
  }
  HttpClient g(port_, "global-token");
  json def = json::parse(kCase);
  def["version"] = 2;
  EXPECT_EQ(g.post("/v1/definitions", def).status, 201);
  // Starting is the definition's rule: a cadre may not start a case, an office may.
  HttpClient cadre(port_, "cd1-token");
  auto r = cadre.post("/v1/instances",
                      {{"definition", "t.case"},
                       {"data", {{"unitPath", "HX"}, {"cadreId", "CD1"}, {"stationId", "ST01"}}}});
  EXPECT_EQ(r.status, 403) << r.body;
  EXPECT_NE(r.body.find("start-not-allowed"), std::string::npos) << r.body;
}

TEST_F(AuthorizationTest, DefinitionsAreReadByTheConfiguredRolesOnly) {
  // By default every authenticated caller reads definitions (they hold no case data).
  {
    HttpClient cadre(port_, "cd1-token");
    EXPECT_EQ(cadre.get("/v1/definitions/t.case").status, 200);
  }
  server_->shutdown(std::chrono::seconds(5));
  ServerConfig c = config();
  for (const auto& k : callers_)
    c.tokens.push_back({k.name, ServerConfig::hash_token(k.name + "-token"), k.actor, 0, 0});
  c.definition_readers = {"ADMIN"};
  serve(c);
  HttpClient cadre(port_, "cd1-token");
  for (const char* route :
       {"/v1/definitions", "/v1/definitions/t.case", "/v1/definitions/t.case/graph"}) {
    SCOPED_TRACE(route);
    auto r = cadre.get(route);
    EXPECT_EQ(r.status, 403) << r.body;
    EXPECT_NE(r.body.find("definitions-not-readable"), std::string::npos);
    HttpClient office(port_, "t03-token"), global(port_, "global-token");
    EXPECT_EQ(office.get(route).status, 200);
    EXPECT_EQ(global.get(route).status, 200);
  }
  Problems p;
  auto bad = ServerConfig::from_json({{"definitionReaders", {"ADMIN", 3}}}, ".", "/server", p);
  EXPECT_FALSE(bad);
  ASSERT_FALSE(p.items().empty());
  EXPECT_EQ(p.items()[0].pointer, "/server/definitionReaders/1");
}

TEST_F(AuthorizationTest, TheChangeFeedIsForGlobalAdministratorsOnly) {
  for (const auto& k : callers_) {
    if (k.name == "global") continue;
    SCOPED_TRACE(k.name);
    auto r = HttpClient(port_, k.name + "-token").get("/v1/changes");
    EXPECT_EQ(r.status, 403) << r.body;
    EXPECT_NE(r.body.find("global-admin-required"), std::string::npos) << r.body;
  }
  EXPECT_EQ(HttpClient(port_).get("/v1/changes").status, 401);
  HttpClient g(port_, "global-token");
  auto all = g.get("/v1/changes?limit=1000");
  ASSERT_EQ(all.status, 200) << all.body;
  json items = all.json_body()["items"];
  ASSERT_EQ(items.size(), 4u);  // the four starts, in commit order
  std::vector<std::string> order;
  for (const auto& it : items) {
    EXPECT_EQ(it["kind"], "start");
    EXPECT_EQ(it["definition"], "t.case");
    order.push_back(letter_of(it["instance"]));
  }
  EXPECT_EQ(order, (std::vector<std::string>{"A", "B", "C", "D"}));
  EXPECT_EQ(all.json_body()["nextCursor"], items[3]["cursor"]);
  // Resumed after the second: exactly the rest; then a new step only.
  auto rest = g.get("/v1/changes?since=" + items[1]["cursor"].get<std::string>());
  ASSERT_EQ(rest.status, 200) << rest.body;
  ASSERT_EQ(rest.json_body()["items"].size(), 2u);
  EXPECT_EQ(rest.json_body()["items"][0]["instance"], ids_["C"]);
  ASSERT_EQ(HttpClient(port_, "global-token")
                .post("/v1/instances/" + ids_["B"] + "/cancel", json::object())
                .status,
            200);
  auto next = g.get("/v1/changes?since=" + all.json_body()["nextCursor"].get<std::string>());
  ASSERT_EQ(next.json_body()["items"].size(), 1u);
  EXPECT_EQ(next.json_body()["items"][0]["kind"], "cancel");
  EXPECT_EQ(next.json_body()["items"][0]["instance"], ids_["B"]);
  // Bad parameters name themselves.
  auto bad = g.get("/v1/changes?since=nope");
  EXPECT_EQ(bad.status, 400);
  EXPECT_NE(bad.body.find("query:since"), std::string::npos) << bad.body;
  EXPECT_EQ(g.get("/v1/changes?limit=0").status, 400);
  EXPECT_EQ(g.get("/v1/changes?limit=1001").status, 400);
}

}  // namespace bihuan::test
