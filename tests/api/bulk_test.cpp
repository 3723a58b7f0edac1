// Export and batches (routes_bulk.cpp) through the real server, for every kind of caller:
// what each exports and counts (its scope only), who may run a batch on what, bad filters
// (400 with the pointer), and a batch over 10,000 instances whose counts match /v1/stats.
#include <chrono>
#include <map>
#include <set>
#include <thread>

#include "server_fixture.hpp"

namespace bihuan::test {
namespace {

// t.case as in authorization_test.cpp, plus a notification on entry (for dead letters).
const char* kBulkCase = R"({
  "id": "t.case", "version": 1,
  "dataSchema": {"type": "object", "properties": {
    "unitPath": {"type": "string", "title": "单位", "x-title": {"zh": "单位", "en": "Unit"}},
    "name": {"type": "string"}, "cadreId": {"type": "string"}, "stationId": {"type": "string"}}},
  "access": {
    "unit": {"var": "data.unitPath"},
    "readers": [{"cat": ["actor:", {"var": "data.cadreId"}]}]
  },
  "initial": "OPEN",
  "states": {
    "OPEN": {"onEntry": [{"notify": "log", "to": "x", "template": "opened"}],
             "on": {"close": {"roles": ["ADMIN", "admin"], "target": "DONE"}}},
    "DONE": {"type": "final", "outcome": "done"}
  }
})";

class BulkTest : public ServerTest {
 protected:
  void SetUp() override {
    ServerTest::SetUp();
    auto res = engine_->deploy(json::parse(kBulkCase), "case");
    ASSERT_TRUE(res.ok) << (res.problems.items().empty() ? ""
                                                         : res.problems.items()[0].to_string());
    ServerConfig c = config();
    auto token = [&](const char* name, Actor a) {
      c.tokens.push_back({name, ServerConfig::hash_token(std::string(name) + "-token"), a, 0, 0});
    };
    token("global", {"root", {"admin"}, json::object()});
    token("t03admin", {"adm-T03", {"ADMIN", "admin"}, {{"unit", "HX/GM/T03"}}});
    token("t04admin", {"adm-T04", {"ADMIN", "admin"}, {{"unit", "HX/GM/T04"}}});
    // Sees A as its cadre, administers T04 only.
    token("cd1admin", {"CD1", {"CADRE", "admin"}, {{"unit", "HX/GM/T04"}}});
    token("cd1", {"CD1", {"CADRE"}, json::object()});
    serve(c);
    HttpClient root(port_, "global-token");
    struct Seed {
      const char* letter;
      const char* unit;
      const char* cadre;
      const char* name;
    };
    for (auto s : {Seed{"A", "HX/GM/T03/V1", "CD1", "张三, \"老店\""},
                   Seed{"B", "HX/GM/T03/V2", "CD2", "=SUM(A1)"},
                   Seed{"C", "HX/GM/T04/V7", "CD1", "王五\n二行"},
                   Seed{"D", "HX/GM/T04/V8", "CD3", "赵六"}}) {
      auto r = root.post("/v1/instances", {{"definition", "t.case"},
                                           {"businessKey", std::string("case-") + s.letter},
                                           {"data",
                                            {{"unitPath", s.unit},
                                             {"cadreId", s.cadre},
                                             {"stationId", "ST01"},
                                             {"name", s.name}}}});
      ASSERT_EQ(r.status, 201) << r.body;
      ids_[s.letter] = r.json_body()["id"];
    }
  }
  std::string letter_of(const std::string& id) const {
    for (const auto& [l, i] : ids_)
      if (i == id) return l;
    return "?";
  }
  // Polls a batch until it has ended (a worker thread moves it; no timer is involved).
  json finish(HttpClient& c, const std::string& id) {
    json b;
    for (int i = 0; i < 3000; ++i) {
      auto r = c.get("/v1/batches/" + id);
      EXPECT_EQ(r.status, 200) << r.body;
      b = r.json_body();
      if (b["state"] != "counting" && b["state"] != "running") return b;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    ADD_FAILURE() << "batch did not end: " << b.dump();
    return b;
  }
  std::uint64_t stats_count(HttpClient& c, const std::string& def, const std::string& status) {
    auto r = c.get("/v1/stats?definition=" + def + "&status=" + status);
    EXPECT_EQ(r.status, 200) << r.body;
    return r.json_body().value("total", std::uint64_t{0});
  }
  std::map<std::string, std::string> ids_;
};

// CSV records of an export (RFC 4180: a line break inside quotes is not a record's end).
std::vector<std::string> csv_records(const std::string& s) {
  std::vector<std::string> out;
  std::string cur;
  bool quoted = false;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '"') quoted = !quoted;
    if (!quoted && s[i] == '\r' && i + 1 < s.size() && s[i + 1] == '\n') {
      out.push_back(cur);
      cur.clear();
      ++i;
      continue;
    }
    cur += s[i];
  }
  if (!cur.empty()) out.push_back(cur);
  return out;
}

}  // namespace

TEST_F(BulkTest, TheUnitParameterListsAUnitAndItsSubtree) {
  HttpClient root(port_, "global-token");
  auto letters = [&](HttpClient& c, const std::string& q) {
    auto r = c.get("/v1/instances?definition=t.case&" + q);
    EXPECT_EQ(r.status, 200) << r.body;
    std::set<std::string> out;
    json body = r.json_body();  // kept: a range over a member of a temporary would dangle
    for (const auto& v : body["items"]) out.insert(letter_of(v["id"]));
    return out;
  };
  EXPECT_EQ(letters(root, "unit=HX/GM/T03"), (std::set<std::string>{"A", "B"}));
  EXPECT_EQ(letters(root, "unit=HX/GM/T04/V7"), (std::set<std::string>{"C"}));
  EXPECT_EQ(letters(root, "unit=HX/GM/T0"), (std::set<std::string>{}));
  EXPECT_EQ(letters(root, "unit=HX/GM/"), (std::set<std::string>{"A", "B", "C", "D"}));
  HttpClient t03(port_, "t03admin-token");
  EXPECT_EQ(letters(t03, "unit=HX/GM"), (std::set<std::string>{"A", "B"}));
  EXPECT_EQ(letters(t03, "unit=HX/GM/T04"), (std::set<std::string>{}));
}

TEST_F(BulkTest, ExportIsStreamedScopedCsvWithABomOrJson) {
  struct Want {
    const char* token;
    std::set<std::string> letters;
  };
  for (const auto& w :
       {Want{"global-token", {"A", "B", "C", "D"}}, Want{"t03admin-token", {"A", "B"}},
        Want{"t04admin-token", {"C", "D"}}, Want{"cd1-token", {"A", "C"}}}) {
    SCOPED_TRACE(w.token);
    HttpClient c(port_, w.token);
    auto r = c.get("/v1/instances/export?format=csv&definition=t.case&columns=/unitPath,/name");
    ASSERT_EQ(r.status, 200) << r.body;
    EXPECT_EQ(r.header("Transfer-Encoding"), "chunked");
    EXPECT_EQ(r.header("Content-Type"), "text/csv; charset=utf-8");
    EXPECT_NE(r.header("Content-Disposition").find("attachment; filename=\"instances-"),
              std::string::npos);
    ASSERT_EQ(r.body.rfind("\xEF\xBB\xBF", 0), 0u) << "no UTF-8 BOM";
    auto rows = csv_records(r.body.substr(3));
    ASSERT_EQ(rows.size(), w.letters.size() + 1);
    EXPECT_EQ(rows[0],
              "id,definition,definitionVersion,businessKey,state,status,outcome,unit,createdAt,"
              "updatedAt,/unitPath,/name");
    std::set<std::string> got;
    for (std::size_t i = 1; i < rows.size(); ++i) got.insert(letter_of(rows[i].substr(0, 16)));
    EXPECT_EQ(got, w.letters);
    // RFC 4180 quoting, and a formula defused.
    if (w.letters.count("A")) {
      EXPECT_NE(r.body.find(",\"张三, \"\"老店\"\"\"\r\n"), std::string::npos);
    }
    if (w.letters.count("B")) {
      EXPECT_NE(r.body.find(",'=SUM(A1)\r\n"), std::string::npos);
    }
    if (w.letters.count("C")) {
      EXPECT_NE(r.body.find(",\"王五\n二行\"\r\n"), std::string::npos);
    }

    auto j =
        c.get("/v1/instances/export?format=json&definition=t.case&filter=/stationId:%22ST01%22");
    ASSERT_EQ(j.status, 200) << j.body;
    json items = j.json_body();
    ASSERT_TRUE(items.is_array()) << j.body;
    got.clear();
    for (const auto& v : items) got.insert(letter_of(v["id"]));
    EXPECT_EQ(got, w.letters);
  }
  // A filter that leaves nothing: the header alone, an empty array.
  HttpClient root(port_, "global-token");
  auto none = root.get("/v1/instances/export?definition=t.case&businessKeyPrefix=nope");
  ASSERT_EQ(none.status, 200);
  EXPECT_EQ(csv_records(none.body.substr(3)).size(), 1u);
  auto empty = root.get("/v1/instances/export?format=json&definition=t.case&unit=HX/QH");
  ASSERT_EQ(empty.status, 200);
  EXPECT_EQ(empty.json_body(), json::array());
}

TEST_F(BulkTest, BadFiltersAre400WithTheirPointer) {
  HttpClient root(port_, "global-token");
  struct Bad {
    const char* query;
    const char* pointer;
  };
  for (auto b : {Bad{"state=OPEN", "query:state"}, Bad{"status=done", "query:status"},
                 Bad{"filter=grade", "query:filter"}, Bad{"filter=/a~9:1", "query:filter"},
                 Bad{"unit=HX//GM", "query:unit"}, Bad{"definition=nope", "query:definition"},
                 Bad{"format=xlsx", "query:format"}, Bad{"columns=name", "query:columns"}}) {
    SCOPED_TRACE(b.query);
    auto r = root.get(std::string("/v1/instances/export?") + b.query);
    ASSERT_EQ(r.status, 400) << r.body;
    EXPECT_EQ(r.json_body()["errors"][0]["pointer"], b.pointer) << r.body;
  }
  struct BadBody {
    json body;
    int status;
    const char* pointer;
  };
  for (const auto& b : {
           BadBody{{{"action", "cancel"}, {"filter", {{"status", "done"}}}}, 400, "/filter/status"},
           BadBody{{{"action", "cancel"}, {"filter", {{"status", "completed"}}}},
                   400,
                   "/filter/status"},
           BadBody{{{"action", "cancel"}, {"filter", {{"colour", "red"}}}}, 400, "/filter/colour"},
           BadBody{{{"action", "cancel"}, {"filter", {{"state", "OPEN"}}}}, 400, "/filter/state"},
           BadBody{
               {{"action", "cancel"}, {"filter", {{"data", {{"x", 1}}}}}}, 400, "/filter/data/x"},
           BadBody{{{"action", "cancel"}, {"filter", {{"unit", 3}}}}, 400, "/filter/unit"},
           BadBody{{{"action", "cancel"}, {"filter", "t.case"}}, 400, "/filter"},
           BadBody{{{"action", "migrate"}, {"filter", json::object()}}, 400, "/filter/definition"},
           BadBody{{{"action", "explode"}}, 422, "/action"},
           BadBody{{{"action", "cancel"}, {"migrate", json::object()}}, 422, "/migrate"},
           BadBody{{{"action", "cancel"}, {"dryRun", "yes"}}, 422, "/dryRun"},
       }) {
    SCOPED_TRACE(b.body.dump());
    auto r = root.post("/v1/batches", b.body);
    ASSERT_EQ(r.status, b.status) << r.body;
    EXPECT_EQ(r.json_body()["errors"][0]["pointer"], b.pointer) << r.body;
  }
}

TEST_F(BulkTest, DryRunsCountOnlyWhatTheCallerAdministers) {
  struct Want {
    const char* token;
    int status;
    std::uint64_t count, not_administered;
  };
  json body = {{"action", "cancel"}, {"filter", {{"definition", "t.case"}}}, {"dryRun", true}};
  for (const auto& w : {Want{"global-token", 200, 4, 0}, Want{"t03admin-token", 200, 2, 0},
                        Want{"t04admin-token", 200, 2, 0}, Want{"cd1admin-token", 200, 2, 1},
                        Want{"cd1-token", 403, 0, 0}, Want{"clerk-token", 403, 0, 0}}) {
    SCOPED_TRACE(w.token);
    HttpClient c(port_, w.token);
    auto r = c.post("/v1/batches", body);
    ASSERT_EQ(r.status, w.status) << r.body;
    if (w.status != 200) continue;
    json j = r.json_body();
    EXPECT_EQ(j["count"], w.count);
    EXPECT_EQ(j["notAdministered"], w.not_administered);
    EXPECT_EQ(j["sample"].size(), w.count);
  }
  // Nothing changed.
  HttpClient root(port_, "global-token");
  EXPECT_EQ(stats_count(root, "t.case", "running"), 4u);
}

TEST_F(BulkTest, AUnitAdministratorCancelsOnlyItsUnitsInstances) {
  HttpClient t04(port_, "t04admin-token");
  // cd1admin would see A as its cadre; t04admin asks for everything of the definition.
  auto r = t04.post("/v1/batches", {{"action", "cancel"},
                                    {"filter", {{"definition", "t.case"}}},
                                    {"reason", "closed by the township"}});
  ASSERT_EQ(r.status, 202) << r.body;
  std::string id = r.json_body()["id"];
  EXPECT_EQ(r.header("Location"), "/v1/batches/" + id);
  json b = finish(t04, id);
  EXPECT_EQ(b["state"], "completed") << b.dump();
  EXPECT_EQ(b["total"], 2);
  EXPECT_EQ(b["done"], 2);
  EXPECT_EQ(b["succeeded"], 2);
  EXPECT_EQ(b["failed"], json::object());
  HttpClient root(port_, "global-token");
  for (const auto& [letter, iid] : ids_) {
    auto g = root.get("/v1/instances/" + iid);
    bool t04s = letter == "C" || letter == "D";
    EXPECT_EQ(g.json_body()["status"], t04s ? "cancelled" : "running") << letter;
  }
  EXPECT_EQ(stats_count(root, "t.case", "cancelled"), 2u);
  // The batch is its starter's and global administrators': another unit's admin gets 404.
  HttpClient t03(port_, "t03admin-token");
  EXPECT_EQ(t03.get("/v1/batches/" + id).status, 404);
  EXPECT_EQ(t03.post("/v1/batches/" + id + "/cancel", json::object()).status, 404);
  EXPECT_EQ(root.get("/v1/batches/" + id).status, 200);
  EXPECT_EQ(HttpClient(port_, "cd1-token").get("/v1/batches/" + id).status, 403);
  auto mine = t03.get("/v1/batches");
  EXPECT_EQ(mine.json_body()["items"].size(), 0u);
  EXPECT_EQ(root.get("/v1/batches").json_body()["items"].size(), 1u);
  // Running the same filter again selects what is left: nothing for T04.
  auto again =
      t04.post("/v1/batches",
               {{"action", "cancel"}, {"filter", {{"definition", "t.case"}}}, {"dryRun", true}});
  EXPECT_EQ(again.json_body()["count"], 0);
}

TEST_F(BulkTest, RetryMakesTheFilteredInstancesDeadLettersDeliverable) {
  // Each start wrote one notification; make those of A, B and C dead letters.
  auto all = engine_->outbox(100);
  ASSERT_EQ(all.size(), 4u);
  std::map<std::string, std::uint64_t> seq_of;
  for (const auto& m : all) seq_of[letter_of(m.instance_id)] = m.seq;
  for (const char* l : {"A", "B", "C"})
    ASSERT_TRUE(
        engine_->record_delivery_failure(seq_of[l], "refused", engine_->clock().now(), true));
  HttpClient t03(port_, "t03admin-token");
  json body = {{"action", "retry"}, {"filter", {{"definition", "t.case"}}}, {"dryRun", true}};
  auto dry = t03.post("/v1/batches", body);
  ASSERT_EQ(dry.status, 200) << dry.body;
  EXPECT_EQ(dry.json_body()["count"], 2);  // A and B: C is T04's
  body["dryRun"] = false;
  auto r = t03.post("/v1/batches", body);
  ASSERT_EQ(r.status, 202) << r.body;
  json b = finish(t03, r.json_body()["id"]);
  EXPECT_EQ(b["succeeded"], 2) << b.dump();
  std::set<std::string> dead;
  for (const auto& m : engine_->dead_letters(100)) dead.insert(letter_of(m.instance_id));
  EXPECT_EQ(dead, (std::set<std::string>{"C"}));
}

TEST_F(BulkTest, MigrateMovesTheFilteredInstancesToAnotherVersion) {
  json v2 = json::parse(kBulkCase);
  v2["version"] = 2;
  v2["states"]["OPEN"]["on"]["reopen"] = {{"target", "OPEN"}};
  ASSERT_TRUE(engine_->deploy(v2, "case v2").ok);
  HttpClient root(port_, "global-token");
  auto r = root.post("/v1/batches", {{"action", "migrate"},
                                     {"filter", {{"definition", "t.case"}, {"unit", "HX/GM/T03"}}},
                                     {"migrate", {{"toVersion", 2}}},
                                     {"reason", "v2"}});
  ASSERT_EQ(r.status, 202) << r.body;
  json b = finish(root, r.json_body()["id"]);
  EXPECT_EQ(b["succeeded"], 2) << b.dump();
  for (const auto& [letter, iid] : ids_)
    EXPECT_EQ(root.get("/v1/instances/" + iid).json_body()["definitionVersion"],
              letter == "A" || letter == "B" ? 2 : 1)
        << letter;
}

// 10,000 instances (CI); docs/PERFORMANCE.md has the benchmark at 100,000.
TEST_F(BulkTest, ACancelBatchOverTenThousandInstancesMatchesTheStatistics) {
  constexpr int kN = 10000;
  {
    std::mutex mu;
    std::condition_variable cv;
    int left = kN, failed = 0;
    {
      CommitGroup group(*engine_);
      for (int i = 0; i < kN; ++i) {
        StartRequest s;
        s.definition = "t.counter";
        s.data = {{"n", i % 7}};
        s.actor = Actor{"root", {"admin"}};
        engine_->start_async(std::move(s), [&](StepResult res) {
          std::lock_guard lock(mu);
          failed += !res.ok();
          if (--left == 0) cv.notify_all();
        });
      }
    }
    std::unique_lock lock(mu);
    cv.wait(lock, [&] { return left == 0; });
    ASSERT_EQ(failed, 0);
  }
  HttpClient root(port_, "global-token");
  json body = {{"action", "cancel"},
               {"filter", {{"definition", "t.counter"}, {"data", {{"/n", 3}}}}},
               {"dryRun", true}};
  auto dry = root.post("/v1/batches", body);
  ASSERT_EQ(dry.status, 200) << dry.body;
  const std::uint64_t threes = dry.json_body()["count"];
  EXPECT_EQ(threes, static_cast<std::uint64_t>((kN + 3) / 7));
  body["filter"] = {{"definition", "t.counter"}};
  body["dryRun"] = false;
  auto r = root.post("/v1/batches", body);
  ASSERT_EQ(r.status, 202) << r.body;
  json b = finish(root, r.json_body()["id"]);
  EXPECT_EQ(b["state"], "completed") << b.dump();
  EXPECT_EQ(b["total"], kN);
  EXPECT_EQ(b["succeeded"], kN);
  EXPECT_EQ(stats_count(root, "t.counter", "cancelled"), static_cast<std::uint64_t>(kN));
  EXPECT_EQ(stats_count(root, "t.counter", "running"), 0u);
  // The export of the cancelled set has every one of them.
  auto csv = root.get("/v1/instances/export?definition=t.counter&status=cancelled");
  ASSERT_EQ(csv.status, 200);
  EXPECT_EQ(csv_records(csv.body.substr(3)).size(), static_cast<std::size_t>(kN) + 1);
}

TEST_F(BulkTest, ACancelledBatchStopsAndItsCountsStillMatch) {
  constexpr int kN = 3000;
  {
    CommitGroup group(*engine_);
    for (int i = 0; i < kN; ++i) {
      StartRequest s;
      s.definition = "t.counter";
      s.data = {{"n", 0}};
      engine_->start_async(std::move(s), [](StepResult) {});
    }
  }
  // A synchronous step queues behind them: when it returns, they are committed.
  StartRequest last;
  last.definition = "t.counter";
  last.data = {{"n", 0}};
  ASSERT_TRUE(engine_->start(last).ok());
  HttpClient root(port_, "global-token");
  auto r =
      root.post("/v1/batches", {{"action", "cancel"}, {"filter", {{"definition", "t.counter"}}}});
  ASSERT_EQ(r.status, 202) << r.body;
  std::string id = r.json_body()["id"];
  auto c = root.post("/v1/batches/" + id + "/cancel", json::object());
  EXPECT_EQ(c.status, 202) << c.body;
  json b = finish(root, id);
  // Stopped between chunks (or done before the stop arrived): what it reports is what
  // happened.
  EXPECT_TRUE(b["state"] == "cancelled" || (b["state"] == "completed" && b["done"] == kN + 1))
      << b.dump();
  EXPECT_EQ(stats_count(root, "t.counter", "cancelled"), b["succeeded"].get<std::uint64_t>());
  EXPECT_EQ(b["failed"], json::object());
}

}  // namespace bihuan::test
