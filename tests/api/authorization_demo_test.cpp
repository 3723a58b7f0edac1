// The authorization matrix on the demo city, through `bihuan serve --demo` as the README
// runs it: each demo token (global admin, city office, township office, cadre, regulator
// station, business principal) against the read and write routes, asserting that each
// sees exactly its own instances (lists, statistics, inbox, get) and that another's
// instance is a 404 (docs/authorization.md, workflows/food-safety/README.md).
#include <fstream>
#include <map>
#include <set>

#include "serve_process.hpp"
#include "server_fixture.hpp"

using namespace bihuan;
using namespace bihuan::test;

namespace {

// Every instance of a definition the caller lists, all pages.
std::vector<json> list_all(HttpClient& c, const std::string& definition) {
  std::vector<json> out;
  std::string cursor;
  for (int page = 0; page < 1000; ++page) {
    auto r = c.get("/v1/instances?definition=" + definition + "&limit=1000" +
                   (cursor.empty() ? std::string() : "&cursor=" + cursor));
    EXPECT_EQ(r.status, 200) << r.body;
    if (r.status != 200) break;
    json body = r.json_body();
    for (auto& item : body["items"]) out.push_back(std::move(item));
    cursor = body.value("nextCursor", "");
    if (cursor.empty()) break;
  }
  return out;
}

std::uint64_t stats_total(HttpClient& c, const std::string& definition) {
  auto r = c.get("/v1/stats?definition=" + definition + "&groupBy=state");
  EXPECT_EQ(r.status, 200) << r.body;
  return r.json_body().value("total", std::uint64_t{0});
}

bool covers(const std::string& outer, const std::string& inner) {
  return inner == outer || inner.rfind(outer + "/", 0) == 0;
}

}  // namespace

TEST_F(ServerTest, DemoCityEachTokenSeesAndDoesOnlyItsOwn) {
  std::string data = dir_ + "/demo";
  ServeProcess p;
  ASSERT_TRUE(p.start({"--demo", "--demo-at", "2023-03-01T09:00:00+08:00", "--listen",
                       "127.0.0.1:0", "--data-dir", data},
                      dir_ + "/demo.log"))
      << "see " << dir_ << "/demo.log";
  std::ifstream in(data + "/demo-tokens.json");
  json tokens = json::parse(in, nullptr, false);
  ASSERT_TRUE(tokens.is_array());
  std::map<std::string, json> who;
  for (const auto& t : tokens) who[t["name"].get<std::string>()] = t;
  for (const char* name : {"admin", "city-office", "township-office", "cadre", "station"})
    ASSERT_TRUE(who.count(name)) << name;
  auto client = [&](const std::string& name) {
    return HttpClient(p.port, who[name]["token"].get<std::string>());
  };
  const std::string sup = "food-safety.supervision", prob = "food-safety.problem";

  HttpClient admin = client("admin"), city = client("city-office"),
             town = client("township-office"), cadre = client("cadre"), station = client("station");
  std::vector<json> all = list_all(admin, sup);
  ASSERT_GT(all.size(), 1000u);
  EXPECT_EQ(stats_total(admin, sup), all.size());
  // The businesses' own records of the week before the demo's moment (2023-02-22..28):
  // seven days of daily records, the weekly reports of that week and the next Monday's
  // (27 February), and the minutes of February and of March (1 March, 00:00).
  const std::size_t daily = stats_total(admin, "food-safety.daily-record"),
                    weekly = stats_total(admin, "food-safety.weekly-report"),
                    monthly = stats_total(admin, "food-safety.monthly-minutes");
  EXPECT_GT(daily, 6 * 2300u);
  EXPECT_LT(daily, 8 * 2400u);
  EXPECT_GT(weekly, 2 * 2300u);
  EXPECT_GT(monthly, 2 * 2300u);

  // The township office: exactly the instances at or below its unit, in lists and counts.
  const std::string town_unit = who["township-office"]["attrs"]["unit"];
  std::set<std::string> expect_town, got_town;
  for (const auto& v : all)
    if (covers(town_unit, v.value("unit", ""))) expect_town.insert(v["id"]);
  for (const auto& v : list_all(town, sup)) got_town.insert(v["id"]);
  EXPECT_FALSE(expect_town.empty());
  EXPECT_LT(expect_town.size(), all.size());
  EXPECT_EQ(got_town, expect_town);
  EXPECT_EQ(stats_total(town, sup), expect_town.size());
  // The city office sees the city (everything under HX/GM), not the prefecture's own.
  std::set<std::string> expect_city;
  for (const auto& v : all)
    if (covers("HX/GM", v.value("unit", ""))) expect_city.insert(v["id"]);
  EXPECT_EQ(stats_total(city, sup), expect_city.size());

  // The cadre: the visits that name them, nothing else.
  const std::string cadre_id = who["cadre"]["actor"];
  std::set<std::string> expect_cadre, got_cadre;
  for (const auto& v : all)
    if (v["data"].value("cadreId", "") == cadre_id) expect_cadre.insert(v["id"]);
  for (const auto& v : list_all(cadre, sup)) got_cadre.insert(v["id"]);
  EXPECT_FALSE(expect_cadre.empty());
  EXPECT_EQ(got_cadre, expect_cadre);
  EXPECT_EQ(stats_total(cadre, sup), expect_cadre.size());
  auto inbox = cadre.get("/v1/inbox?limit=1000");
  ASSERT_EQ(inbox.status, 200);
  json items = inbox.json_body()["items"];
  EXPECT_FALSE(items.empty());
  for (const auto& item : items) {
    std::string id = item["instance"]["id"];
    EXPECT_EQ(cadre.get("/v1/instances/" + id).status, 200) << id;
  }

  // Someone else's visit: 404 to the cadre (read and write), 404 to another township.
  std::string foreign, outside_town;
  for (const auto& v : all) {
    if (foreign.empty() && v["data"].value("cadreId", "") != cadre_id &&
        v.value("status", "") == "running")
      foreign = v["id"];
    if (outside_town.empty() && !covers(town_unit, v.value("unit", ""))) outside_town = v["id"];
  }
  ASSERT_FALSE(foreign.empty());
  EXPECT_EQ(cadre.get("/v1/instances/" + foreign).status, 404);
  EXPECT_EQ(cadre.get("/v1/instances/" + foreign + "/history").status, 404);
  EXPECT_EQ(cadre.post("/v1/instances/" + foreign + "/events", {{"event", "check_in"}}).status,
            404);
  EXPECT_EQ(town.get("/v1/instances/" + outside_town).status, 404);
  EXPECT_EQ(admin.get("/v1/instances/" + outside_town).status, 200);

  // The station: the problems routed to it.
  std::vector<json> problems = list_all(admin, prob);
  const std::string station_id = who["station"]["attrs"]["station"];
  std::set<std::string> expect_station, got_station;
  for (const auto& v : problems)
    if (v["data"].value("stationId", "") == station_id) expect_station.insert(v["id"]);
  for (const auto& v : list_all(station, prob)) got_station.insert(v["id"]);
  EXPECT_EQ(got_station, expect_station);
  for (const auto& v : problems)
    if (v["data"].value("stationId", "") != station_id) {
      EXPECT_EQ(station.get("/v1/instances/" + v["id"].get<std::string>()).status, 404);
      EXPECT_EQ(
          station
              .post("/v1/instances/" + v["id"].get<std::string>() + "/events", {{"event", "claim"}})
              .status,
          404);
      break;
    }

  // Writes that need an administrator: the township office has none, the city office
  // administers its city, and server-wide routes are for the global administrator.
  std::string in_town;
  for (const auto& v : all)
    if (expect_town.count(v["id"]) && v.value("status", "") == "running") {
      in_town = v["id"];
      break;
    }
  ASSERT_FALSE(in_town.empty());
  EXPECT_EQ(town.post("/v1/instances/" + in_town + "/cancel", {{"reason", "t"}}).status, 403);
  EXPECT_EQ(city.get("/v1/verify").status, 403);
  EXPECT_EQ(cadre.get("/v1/outbox").status, 403);
  EXPECT_EQ(city.post("/v1/instances/" + in_town + "/cancel", {{"reason", "matrix"}}).status, 200);
  EXPECT_EQ(p.stop(), 0);
}
