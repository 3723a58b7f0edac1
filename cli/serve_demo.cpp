#include "serve_demo.hpp"

#include <algorithm>
#include <filesystem>
#include <fstream>

#include "demo_city.hpp"
#include "simulate_run.hpp"

namespace bihuan::cli {

namespace fs = std::filesystem;

std::string demo_engine_dir(const DemoPlan& plan) {
  return (fs::path(plan.root) / "engine").string();
}
std::string demo_config_file(const DemoPlan& plan) {
  return (fs::path(plan.root) / "city" / "engine-config.json").string();
}

std::string prepare_demo(const DemoPlan& plan) {
  std::error_code ec;
  if (fs::exists(fs::path(demo_engine_dir(plan)) / "data.mdb", ec) &&
      fs::exists(demo_config_file(plan), ec))
    return "";
  if (fs::exists(plan.root, ec) && !fs::is_empty(plan.root, ec))
    return plan.root + " is not empty and holds no demo: give --demo an empty or new --data-dir";
  sim::RunOptions o;
  o.seed = plan.seed;
  o.data_dir = plan.root;
  o.workflows_dir = (fs::path(plan.workflows_dir) / "food-safety").string();
  o.calendars_dir = (fs::path(plan.workflows_dir) / "calendars").string();
  o.end = plan.at;
  o.plan_end = "2024-01-01T00:00:00+08:00";  // the server goes on through the year's later rounds
  o.durable = false;  // a fresh demo: speed over durability until the server opens it
  // The businesses' own records of the week before the demo's moment: daily records, the
  // week's weekly reports and the month's minutes (a whole year of them would take
  // minutes: docs/PERFORMANCE.md). From local (+08:00) midnight, not before 2023.
  if (auto at = parse_time(plan.at)) {
    constexpr std::int64_t kDay = 24 * 3600 * 1000, kEast8 = 8 * 3600 * 1000;
    std::int64_t from = at->time_since_epoch().count() - 7 * kDay;
    from = (from + kEast8) / kDay * kDay - kEast8;
    o.daily = true;
    o.daily_from = format_time(TimePoint(Millis(from)), *TimeZone::utc());
  }
  auto report = sim::run(demo::generate_city(plan.seed), o);
  return report.error;
}

namespace {

// The candidate with the most inbox items (ties: the first).
std::pair<Actor, std::size_t> busiest(const Engine& engine, const std::vector<Actor>& candidates) {
  std::pair<Actor, std::size_t> best{candidates.empty() ? Actor{} : candidates.front(), 0};
  for (const auto& a : candidates) {
    std::size_t n = engine.inbox(a, 1000).size();
    if (n > best.second) best = {a, n};
  }
  return best;
}

// The principals of the businesses whose problems wait for rectification evidence (the
// principal's work), at most `limit`.
std::vector<Actor> principals_with_work(const Engine& engine, std::size_t limit) {
  InstanceQuery q;
  q.definition = "food-safety.problem";
  q.state = "RECTIFYING";
  q.limit = limit;
  std::vector<Actor> out;
  for (const auto& v : engine.query(q).items) {
    const json& p = v.data.contains("principalId") ? v.data["principalId"] : json();
    if (p.is_string() && !p.get<std::string>().empty())
      out.push_back({p.get<std::string>(), {"PRINCIPAL"}, {{"business", v.data["businessId"]}}});
  }
  return out;
}

// The demo's people (the token table in README.md): a global administrator, the city office
// (a unit administrator of HX/GM), a township office, and the cadre, regulator station,
// business principal and officer with the most waiting tasks.
json choose_people(const DemoPlan& plan, const Engine& engine) {
  auto city = demo::generate_city(plan.seed);
  std::vector<Actor> cadres, stations, officers;
  for (const auto& c : city.cadres)
    if (c.end_at.empty() && cadres.size() < 120)
      cadres.push_back({c.id, {"CADRE"}, {{"level", c.level}, {"region", c.region_id}}});
  for (const auto& s : city.stations)
    stations.push_back({s.id, {"REGULATOR"}, {{"station", s.id}}});
  for (const auto& b : city.businesses)
    if (b.closed_on.empty() && !b.officer_id.empty() && officers.size() < 120)
      officers.push_back({b.officer_id, {"OFFICER"}, {{"business", b.id}}});
  auto cadre = busiest(engine, cadres);
  // The township office of the chosen cadre's township (T03 for a city-level cadre).
  std::string township = "T03";
  for (const auto& c : city.cadres)
    if (c.id == cadre.first.id && !c.township_id.empty()) township = c.township_id;
  Actor global{"admin", {"admin"}, json::object()};
  Actor city_office{
      "adm-GM", {"ADMIN", "admin"}, {{"unit", demo::region_path(city, "GM")}, {"level", "city"}}};
  Actor township_office{"adm-" + township,
                        {"ADMIN"},
                        {{"unit", demo::region_path(city, township)}, {"level", "township"}}};
  std::vector<std::pair<std::string, std::pair<Actor, std::size_t>>> chosen = {
      {"admin", {global, 1}},
      {"city-office", {city_office, 1}},
      {"township-office", {township_office, 1}},
      {"cadre", cadre},
      {"station", busiest(engine, stations)},
      {"principal", busiest(engine, principals_with_work(engine, 50))},
      {"business-officer", busiest(engine, officers)}};
  json list = json::array();
  for (const auto& [name, pick] : chosen)
    if (pick.second > 0)  // offices always; people only with something to do
      list.push_back({{"name", name},
                      {"actor", pick.first.id},
                      {"roles", pick.first.roles},
                      {"attrs", pick.first.attrs},
                      {"token", ServerConfig::generate_token()}});
  return list;
}

}  // namespace

std::vector<ApiToken> demo_tokens(const DemoPlan& plan, const Engine& engine, json& printable) {
  fs::path file = fs::path(plan.root) / "demo-tokens.json";
  json list = json::array();
  if (std::ifstream in(file); in) list = json::parse(in, nullptr, false);
  // A file of an older demo (entries without attributes) is replaced.
  bool current =
      list.is_array() && !list.empty() && std::all_of(list.begin(), list.end(), [](const json& t) {
        return t.is_object() && t.contains("attrs") && t["attrs"].is_object();
      });
  if (!current) {
    list = choose_people(plan, engine);
    std::ofstream out(file, std::ios::trunc);
    out << list.dump(1) << "\n";
    out.close();
    std::error_code ec;
    fs::permissions(file, fs::perms::owner_read | fs::perms::owner_write, ec);
  }
  std::vector<ApiToken> tokens;
  printable = json::array();
  for (const auto& t : list) {
    Actor a{t.value("actor", ""), t.value("roles", std::vector<std::string>{}),
            t.value("attrs", json::object())};
    tokens.push_back(
        {t.value("name", ""), ServerConfig::hash_token(t.value("token", "")), a, 0, 0});
    json p = t;
    p["inbox"] = engine.inbox(a, 1000).size();
    printable.push_back(std::move(p));
  }
  return tokens;
}

}  // namespace bihuan::cli
