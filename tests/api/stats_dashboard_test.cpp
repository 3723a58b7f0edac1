// GET /v1/stats's dashboard groupings and unit filter through the real server (docs/http-
// api.md, "Statistics"): every kind of caller counts only what it sees, by unit level,
// overdue, escalated, category and creation period; a drill-down into a unit equals the
// roll-up's row; bad entries and units are 400 with the parameter as pointer.
#include <algorithm>
#include <map>
#include <set>

#include "server_fixture.hpp"

namespace bihuan::test {
namespace {

// Unit, reader and deadline from the data; HOT declares x-escalated, data.flagged too.
const char* kDash = R"({
  "id": "t.dash", "version": 1,
  "access": {"unit": {"var": "data.unitPath"},
             "readers": [{"cat": ["actor:", {"var": "data.cadreId"}]}],
             "start": {"in": ["ADMIN", {"var": "actor.roles"}]}},
  "dataSchema": {"type": "object", "properties": {
    "flagged": {"type": "boolean", "x-escalated": true}}},
  "initial": "OPEN",
  "states": {
    "OPEN": {"category": "open", "deadline": {"at": {"var": "data.due"}},
             "on": {"heat": {"roles": ["ADMIN"], "target": "HOT"}}},
    "HOT": {"category": "open", "x-escalated": true,
            "on": {"close": {"roles": ["ADMIN"], "target": "DONE"}}},
    "DONE": {"type": "final", "category": "closed", "outcome": "done"}
  }
})";

struct Seed {
  const char* letter;
  const char* unit;
  const char* cadre;
  const char* due;
  bool flagged;
  const char* path;  // h = heat, c = close
};
// A, B in T03 (A overdue, B flagged), C in T03 escalated by state, D in T04 closed, E at
// the city itself, overdue.
const Seed kSeeds[] = {
    {"A", "HX/GM/T03/V1", "CD1", "2000-01-01T00:00:00Z", false, ""},
    {"B", "HX/GM/T03/V2", "CD2", "2100-01-01T00:00:00Z", true, ""},
    {"C", "HX/GM/T03/V2", "CD1", "2100-01-01T00:00:00Z", false, "h"},
    {"D", "HX/GM/T04/V7", "CD1", "2100-01-01T00:00:00Z", false, "hc"},
    {"E", "HX/GM", "CD3", "2000-01-01T00:00:00Z", false, ""},
};

struct Caller {
  std::string name;
  Actor actor;
  std::set<std::string> sees;
};

class StatsDashboardTest : public ServerTest {
 protected:
  void SetUp() override {
    ServerTest::SetUp();
    auto res = engine_->deploy(json::parse(kDash), "dash");
    ASSERT_TRUE(res.ok) << (res.problems.items().empty() ? ""
                                                         : res.problems.items()[0].to_string());
    callers_ = {
        {"global", {"root", {"admin", "ADMIN"}, json::object()}, {"A", "B", "C", "D", "E"}},
        {"city", {"adm-GM", {"ADMIN", "admin"}, {{"unit", "HX/GM"}}}, {"A", "B", "C", "D", "E"}},
        {"t03", {"adm-T03", {"ADMIN"}, {{"unit", "HX/GM/T03"}}}, {"A", "B", "C"}},
        {"cd1", {"CD1", {"CADRE"}, json::object()}, {"A", "C", "D"}},
        {"nobody", {"P1", {"PRINCIPAL"}, json::object()}, {}},
    };
    ServerConfig c = config();
    for (const auto& k : callers_)
      c.tokens.push_back({k.name, ServerConfig::hash_token(k.name + "-token"), k.actor, 0, 0});
    serve(c);
    HttpClient root(port_, "global-token");
    for (const auto& s : kSeeds) {
      json data = {{"unitPath", s.unit}, {"cadreId", s.cadre}, {"due", s.due}};
      if (s.flagged) data["flagged"] = true;
      auto r = root.post("/v1/instances", {{"definition", "t.dash"}, {"data", data}});
      ASSERT_EQ(r.status, 201) << r.body;
      std::string id = r.json_body()["id"];
      for (char e : std::string(s.path)) {
        auto ev = root.post("/v1/instances/" + id + "/events",
                            {{"event", e == 'h' ? "heat" : "close"}, {"payload", json::object()}});
        ASSERT_EQ(ev.status, 200) << ev.body;
      }
    }
  }
  // What a caller should count: {key: count} over the seeds it sees.
  template <class Key>
  std::map<std::string, std::uint64_t> want(const Caller& k, Key key) const {
    std::map<std::string, std::uint64_t> out;
    for (const auto& s : kSeeds)
      if (k.sees.count(s.letter)) {
        std::string v = key(s);
        if (!v.empty()) ++out[v];
      }
    return out;
  }
  // {key of `field` as text: count} of one /v1/stats answer.
  static std::map<std::string, std::uint64_t> got(const json& body, const std::string& field) {
    std::map<std::string, std::uint64_t> out;
    for (const auto& g : body["groups"]) {
      const json& v = g["key"][field];
      out[v.is_string() ? v.get<std::string>() : v.dump()] += g["count"].get<std::uint64_t>();
    }
    return out;
  }
  std::vector<Caller> callers_;
};

std::string prefix(const std::string& unit, int n) {
  std::size_t pos = 0;
  for (int i = 0; i < n; ++i) {
    pos = unit.find('/', pos);
    if (pos == std::string::npos) return unit;
    if (i + 1 < n) ++pos;
  }
  return unit.substr(0, pos);
}

}  // namespace

TEST_F(StatsDashboardTest, EveryCallerCountsOnlyWhatItSeesByEachNewGrouping) {
  for (const auto& k : callers_) {
    SCOPED_TRACE(k.name);
    HttpClient c(port_, k.name + "-token");
    auto r = c.get("/v1/stats?groupBy=unit:3,overdue,escalated,category,created:month");
    ASSERT_EQ(r.status, 200) << r.body;
    json body = r.json_body();
    EXPECT_EQ(body["total"], k.sees.size());
    EXPECT_EQ(got(body, "unit:3"), want(k, [](const Seed& s) { return prefix(s.unit, 3); }));
    EXPECT_EQ(got(body, "overdue"), want(k, [](const Seed& s) {
                return std::string(s.due) < "2050" && std::string(s.path).empty() ? "true"
                                                                                  : "false";
              }));
    EXPECT_EQ(got(body, "escalated"), want(k, [](const Seed& s) {
                return s.flagged || std::string(s.path) == "h" ? "true" : "false";
              }));
    EXPECT_EQ(got(body, "category"), want(k, [](const Seed& s) {
                return std::string(s.path) == "hc" ? "closed" : "open";
              }));
    // Every instance was created just now: one month, the one asOf is in.
    std::string as_of = body["asOf"];
    auto months = got(body, "created:month");
    if (k.sees.empty()) {
      EXPECT_TRUE(months.empty());
    } else {
      EXPECT_EQ(months,
                (std::map<std::string, std::uint64_t>{{as_of.substr(0, 7), k.sees.size()}}));
    }
  }
}

TEST_F(StatsDashboardTest, ADrillDownIntoAUnitEqualsItsRollUpRow) {
  for (const auto& k : callers_) {
    SCOPED_TRACE(k.name);
    HttpClient c(port_, k.name + "-token");
    auto roll = c.get("/v1/stats?groupBy=unit:3");
    ASSERT_EQ(roll.status, 200);
    for (const auto& [unit, n] : got(roll.json_body(), "unit:3")) {
      // A shorter unit (E at the city itself) is its own row: nothing below it to drill.
      if (std::count(unit.begin(), unit.end(), '/') < 2) continue;
      auto down = c.get("/v1/stats?groupBy=unit:4&unit=" + unit);
      ASSERT_EQ(down.status, 200) << down.body;
      EXPECT_EQ(down.json_body()["total"], n) << unit;
      EXPECT_EQ(got(down.json_body(), "unit:4"),
                want(k,
                     [&](const Seed& s) {
                       std::string u = s.unit;
                       return u == unit || u.rfind(unit + "/", 0) == 0 ? prefix(u, 4) : "";
                     }))
          << unit;
    }
    // A unit the caller does not cover counts only what it sees there (none for T03's
    // office in T04), never an error that would tell the unit exists.
    auto t04 = c.get("/v1/stats?groupBy=state&unit=HX/GM/T04");
    ASSERT_EQ(t04.status, 200);
    EXPECT_EQ(t04.json_body()["total"], k.sees.count("D"));
  }
}

TEST_F(StatsDashboardTest, BadEntriesAndUnitsAreRefusedWithTheirParameter) {
  HttpClient c(port_, "city-token");
  for (const char* bad : {"unit:0", "unit:17", "unit:x", "unit:", "created:year", "overdue2"}) {
    auto r = c.get(std::string("/v1/stats?groupBy=") + bad);
    EXPECT_EQ(r.status, 400) << bad;
    EXPECT_EQ(r.json_body()["errors"][0]["pointer"], "query:groupBy") << bad;
  }
  for (const char* bad : {"/HX", "HX/", "HX//GM"}) {
    auto r = c.get(std::string("/v1/stats?unit=") + bad);
    EXPECT_EQ(r.status, 400) << bad;
    EXPECT_EQ(r.json_body()["errors"][0]["pointer"], "query:unit") << bad;
  }
  auto yes = c.get("/v1/stats?archived=false");  // nothing archived here: the same count
  ASSERT_EQ(yes.status, 200);
  EXPECT_EQ(yes.json_body()["archived"], 0);
  EXPECT_EQ(yes.json_body()["total"], c.get("/v1/stats").json_body()["total"]);
  auto maybe = c.get("/v1/stats?archived=maybe");
  EXPECT_EQ(maybe.status, 400);
  EXPECT_EQ(maybe.json_body()["errors"][0]["pointer"], "query:archived");
  HttpClient anonymous(port_, "");
  EXPECT_EQ(anonymous.get("/v1/stats?groupBy=unit:3").status, 401);
}

}  // namespace bihuan::test
