#include "serve_demo.hpp"

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

}  // namespace

std::vector<ApiToken> demo_tokens(const DemoPlan& plan, const Engine& engine, json& printable) {
  fs::path file = fs::path(plan.root) / "demo-tokens.json";
  json list = json::array();
  if (std::ifstream in(file); in) list = json::parse(in, nullptr, false);
  if (!list.is_array() || list.empty()) {
    list = json::array();
    auto city = demo::generate_city(plan.seed);
    std::vector<Actor> cadres, stations, officers;
    for (const auto& c : city.cadres)
      if (c.end_at.empty() && cadres.size() < 120) cadres.push_back({c.id, {"CADRE"}});
    for (const auto& s : city.stations) stations.push_back({s.id, {"REGULATOR"}});
    for (const auto& b : city.businesses)
      if (b.closed_on.empty() && !b.officer_id.empty() && officers.size() < 120)
        officers.push_back({b.officer_id, {"OFFICER"}});
    std::vector<std::pair<std::string, std::pair<Actor, std::size_t>>> chosen = {
        {"office-admin", {Actor{"office-admin", {"admin", "ADMIN", "OFFICE"}}, 0}},
        {"cadre", busiest(engine, cadres)},
        {"station", busiest(engine, stations)},
        {"business-officer", busiest(engine, officers)}};
    for (const auto& [name, pick] : chosen)
      if (name == "office-admin" || pick.second > 0)  // only people with something to do
        list.push_back({{"name", name},
                        {"actor", pick.first.id},
                        {"roles", pick.first.roles},
                        {"token", ServerConfig::generate_token()}});
    std::ofstream out(file, std::ios::trunc);
    out << list.dump(1) << "\n";
    out.close();
    std::error_code ec;
    fs::permissions(file, fs::perms::owner_read | fs::perms::owner_write, ec);
  }
  std::vector<ApiToken> tokens;
  printable = json::array();
  for (const auto& t : list) {
    Actor a{t.value("actor", ""), t.value("roles", std::vector<std::string>{})};
    tokens.push_back(
        {t.value("name", ""), ServerConfig::hash_token(t.value("token", "")), a, 0, 0});
    json p = t;
    p["inbox"] = engine.inbox(a, 1000).size();
    printable.push_back(std::move(p));
  }
  return tokens;
}

}  // namespace bihuan::cli
