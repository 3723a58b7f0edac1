// GET /v1/instances/{id}/verify, /timers, /children and /v1/definitions/{id}/graph?
// format=layout through the real server, for every kind of caller: the instance page's
// routes answer what the caller may see and 404 for the rest (docs/authorization.md).
#include <set>

#include "server_fixture.hpp"

namespace bihuan::test {
namespace {

// A case per station, with a deadline and a reminder; on `split` it spawns one task per
// item, each readable by the actor its item names (and by the case's unit).
const char* kTask = R"({
  "id": "t.task", "version": 1,
  "access": {"unit": {"var": "data.unitPath"},
             "readers": {"cat": ["actor:", {"var": "data.owner"}]}},
  "initial": "TODO",
  "states": {"TODO": {"on": {"done": {"roles": ["system"], "target": "DONE"}}},
             "DONE": {"type": "final", "outcome": "x"}}})";
const char* kViewsCase = R"({
  "id": "t.case", "version": 1,
  "title": {"zh": "案件", "en": "Case"},
  "access": {"unit": {"var": "data.unitPath"},
             "readers": {"cat": ["station:", {"var": "data.stationId"}]},
             "start": {"in": ["ADMIN", {"var": "actor.roles"}]}},
  "initial": "INTAKE",
  "states": {
    "INTAKE": {"type": "compound", "title": {"zh": "受理", "en": "Intake"}, "initial": "NEW", "states": {
      "NEW": {"title": {"zh": "新建", "en": "New"},
              "on": {"push": {"title": {"zh": "推送", "en": "Push"}, "roles": ["ADMIN"], "target": "OPEN"}}}},
      "on": {"drop": {"title": {"zh": "作废", "en": "Drop"}, "roles": ["ADMIN"], "target": "DROPPED"}}},
    "OPEN": {"title": {"zh": "办理中", "en": "Open"},
      "deadline": {"after": "P3D", "remind": [{"offset": "-P1D", "set": {"/reminded": true}}]},
      "timers": [{"id": "escalate", "after": "P10D", "target": "DROPPED"}],
      "on": {"split": {"roles": ["ADMIN"], "actions": [{"spawn": "t.task", "forEach": {"var": "event.payload.owners"},
                       "data": {"owner": {"var": "item"}, "unitPath": {"var": "data.unitPath"}}}]},
             "close": {"title": {"zh": "办结", "en": "Close"}, "roles": ["ADMIN"], "target": "CLOSED"}}},
    "CLOSED": {"type": "final", "outcome": "x", "title": {"zh": "已办结", "en": "Closed"}},
    "DROPPED": {"type": "final", "outcome": "x", "title": {"zh": "已作废", "en": "Dropped"}}}})";

class InstanceViewsTest : public ServerTest {
 protected:
  void SetUp() override {
    ServerTest::SetUp();
    for (const char* d : {kTask, kViewsCase}) {
      auto res = engine_->deploy(json::parse(d), "test");
      std::string detail;
      for (const auto& p : res.problems.items()) detail += p.to_string() + "\n";
      ASSERT_TRUE(res.ok) << detail;
    }
    ServerConfig c = config();
    auto add = [&](const std::string& name, Actor a) {
      c.tokens.push_back({name, ServerConfig::hash_token(name + "-token"), std::move(a), 0, 0});
    };
    add("office", {"adm-T03", {"ADMIN"}, {{"unit", "HX/T03"}}});
    add("st01", {"zhang", {"REGULATOR"}, {{"station", "ST01"}}});
    add("st02", {"li", {"REGULATOR"}, {{"station", "ST02"}}});
    add("ann", {"ann", {"CADRE"}, json::object()});
    serve(c);
    HttpClient office(port_, "office-token");
    for (const char* st : {"ST01", "ST02"}) {
      auto r = office.post(
          "/v1/instances",
          {{"definition", "t.case"}, {"data", {{"unitPath", "HX/T03/V1"}, {"stationId", st}}}});
      ASSERT_EQ(r.status, 201) << r.body;
      ids_.push_back(r.json_body()["id"]);
    }
    auto pushed = office.post("/v1/instances/" + ids_[0] + "/events", {{"event", "push"}});
    ASSERT_EQ(pushed.status, 200) << pushed.body;
    auto split =
        office.post("/v1/instances/" + ids_[0] + "/events",
                    {{"event", "split"}, {"payload", {{"owners", {"ann", "bob", "ann"}}}}});
    ASSERT_EQ(split.status, 200) << split.body;
  }
  std::vector<std::string> ids_;  // ST01's case (pushed, split), ST02's case
};

}  // namespace

TEST_F(InstanceViewsTest, EachCallerGetsTheRoutesOfWhatItSeesAnd404ForTheRest) {
  struct Who {
    std::string token;
    std::set<int> sees;
  };
  for (const auto& w :
       {Who{"admin-token", {0, 1}}, Who{"office-token", {0, 1}}, Who{"st01-token", {0}},
        Who{"st02-token", {1}}, Who{"ann-token", {}}, Who{"clerk-token", {}}}) {
    SCOPED_TRACE(w.token);
    HttpClient c(port_, w.token);
    for (int i = 0; i < 2; ++i) {
      bool sees = w.sees.count(i) > 0;
      for (const char* route : {"/verify", "/timers", "/children"}) {
        auto r = c.get("/v1/instances/" + ids_[i] + route);
        EXPECT_EQ(r.status, sees ? 200 : 404) << i << route << " " << r.body;
        if (!sees) {
          EXPECT_EQ(r.json_body()["type"].get<std::string>().find("not-found") != std::string::npos,
                    true)
              << r.body;
        }
      }
    }
  }
  HttpClient none(port_, "");
  EXPECT_EQ(none.get("/v1/instances/" + ids_[0] + "/verify").status, 401);
  HttpClient admin(port_, "admin-token");
  EXPECT_EQ(admin.get("/v1/instances/00000000000000ff/timers").status, 404);
}

TEST_F(InstanceViewsTest, TheChainCheckCountsEveryEntry) {
  HttpClient st(port_, "st01-token");
  auto r = st.get("/v1/instances/" + ids_[0] + "/verify");
  ASSERT_EQ(r.status, 200) << r.body;
  json v = r.json_body();
  EXPECT_EQ(v["ok"], true);
  EXPECT_EQ(v["version"], 3);
  EXPECT_EQ(v["entries"], 3);
  EXPECT_FALSE(v.contains("firstBroken"));
  EXPECT_EQ(v["problems"], json::array());
}

TEST_F(InstanceViewsTest, TimersListTheDeadlineItsReminderAndTheStatesTimerDueFirst) {
  HttpClient st(port_, "st01-token");
  auto r = st.get("/v1/instances/" + ids_[0] + "/timers");
  ASSERT_EQ(r.status, 200) << r.body;
  json items = r.json_body()["items"];
  ASSERT_EQ(items.size(), 3u) << items.dump();
  EXPECT_EQ(items[0]["kind"], "timer");  // the reminder, a day before the deadline
  EXPECT_EQ(items[0]["state"], "OPEN");
  EXPECT_EQ(items[1]["kind"], "deadline");
  EXPECT_EQ(items[1]["name"], "deadline");
  EXPECT_EQ(items[2]["name"], "escalate");
  EXPECT_EQ(items[2]["target"], "DROPPED");
  for (std::size_t i = 1; i < items.size(); ++i)
    EXPECT_LE(items[i - 1]["due"].get<std::string>(), items[i]["due"].get<std::string>());
  // ST02's case is still in INTAKE: nothing pending.
  HttpClient st2(port_, "st02-token");
  EXPECT_EQ(st2.get("/v1/instances/" + ids_[1] + "/timers").json_body()["items"], json::array());
}

TEST_F(InstanceViewsTest, ChildrenAreThoseTheCallerMaySeeWithPagesAndABadCursorIs400) {
  HttpClient office(port_, "office-token"), st(port_, "st01-token"), ann(port_, "ann-token");
  auto all = office.get("/v1/instances/" + ids_[0] + "/children");
  ASSERT_EQ(all.status, 200) << all.body;
  json kids = all.json_body()["items"];
  ASSERT_EQ(kids.size(), 3u);  // the unit covers them all
  for (const auto& c : kids) EXPECT_EQ(c["parent"], ids_[0]);
  // The station sees the case but none of its tasks (readers actor:<owner> only).
  auto st_kids = st.get("/v1/instances/" + ids_[0] + "/children");
  ASSERT_EQ(st_kids.status, 200);
  EXPECT_EQ(st_kids.json_body()["items"], json::array());
  // ann sees her two tasks, but not the case: its children route is 404 for her.
  EXPECT_EQ(ann.get("/v1/instances/" + ids_[0] + "/children").status, 404);
  auto page = office.get("/v1/instances/" + ids_[0] + "/children?limit=2");
  ASSERT_EQ(page.json_body()["items"].size(), 2u);
  std::string cursor = page.json_body()["nextCursor"];
  auto rest = office.get("/v1/instances/" + ids_[0] + "/children?limit=2&cursor=" + cursor);
  ASSERT_EQ(rest.json_body()["items"].size(), 1u);
  EXPECT_FALSE(rest.json_body().contains("nextCursor"));
  auto bad = office.get("/v1/instances/" + ids_[0] + "/children?cursor=zz");
  EXPECT_EQ(bad.status, 400);
  EXPECT_EQ(bad.json_body()["errors"][0]["pointer"], "query:cursor");
  auto big = office.get("/v1/instances/" + ids_[0] + "/children?limit=5000");
  EXPECT_EQ(big.status, 400);
  EXPECT_EQ(big.json_body()["errors"][0]["pointer"], "query:limit");
}

TEST_F(InstanceViewsTest, TheGraphLayoutPlacesEveryStateAndEdgeWithTitlesInTheLanguage) {
  HttpClient c(port_, "st01-token");
  auto r = c.get("/v1/definitions/t.case/graph?format=layout&lang=en");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.header("Content-Type").rfind("application/json", 0), 0u);
  json g = r.json_body();
  EXPECT_EQ(g["lang"], "en");
  EXPECT_GT(g["width"].get<double>(), 0);
  ASSERT_EQ(g["states"].size(), 5u);
  std::map<std::string, json> states;
  for (const auto& s : g["states"]) states[s["name"]] = s;
  EXPECT_EQ(states["INTAKE"]["kind"], "compound");
  EXPECT_EQ(states["NEW"]["parent"], "INTAKE");
  EXPECT_EQ(states["CLOSED"]["kind"], "final");
  EXPECT_EQ(states["OPEN"]["title"], "Open");
  // The compound state's box holds its child's.
  const json &in = states["INTAKE"], &nw = states["NEW"];
  EXPECT_LE(in["x"].get<double>(), nw["x"].get<double>());
  EXPECT_LE(in["y"].get<double>(), nw["y"].get<double>());
  EXPECT_GE(in["x"].get<double>() + in["width"].get<double>(),
            nw["x"].get<double>() + nw["width"].get<double>());
  for (const auto& s : g["states"]) {
    EXPECT_GE(s["x"].get<double>(), 0) << s.dump();
    EXPECT_LE(s["x"].get<double>() + s["width"].get<double>(), g["width"].get<double>() + 0.5);
  }
  bool drop = false, start = false;
  for (const auto& e : g["edges"]) {
    EXPECT_GE(e["path"].size(), 4u) << e.dump();
    EXPECT_EQ((e["path"].size() - 1) % 3, 0u) << e.dump();
    if (e["kind"] == "start") start = e["to"] == "INTAKE" && e["entry"] == "NEW";
    if (e.value("event", "") == "drop") {
      drop = e["from"] == "INTAKE" && e["to"] == "DROPPED" && e["title"] == "Drop";
      EXPECT_TRUE(e.contains("labelX"));
      EXPECT_TRUE(e.contains("arrow"));
    }
  }
  EXPECT_TRUE(drop);
  EXPECT_TRUE(start);
  auto zh = c.get("/v1/definitions/t.case/graph?format=layout");
  ASSERT_EQ(zh.status, 200);
  EXPECT_EQ(zh.json_body()["lang"], "zh");
  json zh_doc = zh.json_body();
  bool open_zh = false;
  for (const auto& s : zh_doc["states"]) open_zh = open_zh || s["title"] == "办理中";
  EXPECT_TRUE(open_zh) << zh_doc["states"].dump();
  auto bad = c.get("/v1/definitions/t.case/graph?format=layout&lang=fr");
  EXPECT_EQ(bad.status, 400);
  EXPECT_EQ(bad.json_body()["errors"][0]["pointer"], "query:lang");
  auto fmt = c.get("/v1/definitions/t.case/graph?format=svg");
  EXPECT_EQ(fmt.status, 400);
  EXPECT_EQ(fmt.json_body()["errors"][0]["pointer"], "query:format");
  EXPECT_EQ(c.get("/v1/definitions/t.none/graph?format=layout").status, 404);
}

}  // namespace bihuan::test
