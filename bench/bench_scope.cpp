// Scoped reads against unscoped ones (docs/authorization.md, docs/PERFORMANCE.md):
// n instances over 10 townships "city/T01".."city/T10" of 10 villages each
// ("city/Txx/Vyy"), each with reader keys "actor:CDxxxx" (one of 430 cadres) and
// "station:STxx" (one of 5 stations); 5 in 7 of one definition, the rest of another. Times the
// median of `calls` calls of:
//   a) a page of 50 of one definition: a township office (attrs.unit "city/T03") against
//      the unscoped page (no viewer) and a cadre's page;
//   b) a cadre's inbox (limit 100), scoped, against the same actor as a global
//      administrator (no visibility filter: today's path);
//   c) stats grouped by status: the township office against unscoped, over all
//      definitions and over one;
//   d) the console dashboard's three /v1/stats calls (console/dashboard.js) for the city
//      office (attrs.unit "city": every instance) and the township office, and the
//      city office's drill-down into city/T03.
//
//   ./build/bench/bench_scope [--n 100000] [--calls 21] [--dir /var/tmp/bihuan-bench-scope]
//
// Both definitions take the unit and reader keys from the data (their `access` block).
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>

#include "bihuan/engine.hpp"
#include "engine_bench_support.hpp"

namespace {

using bihuan::Actor;
using bihuan::json;
using namespace bench;

// Unit and reader keys from the data, after every step.
const std::string kAccess = R"("access":{"unit":{"var":"data.unit"},
  "readers":[{"cat":["actor:",{"var":"data.cadre"}]},{"cat":["station:",{"var":"data.station"}]}]},)";
const std::string kCase =
    R"({"id":"bench.case","version":1,"initial":"DUE",)" + kAccess + R"("states":{
  "DUE":{"deadline":{"after":"P30D"},
         "on":{"report":{"roles":["CADRE"],"actors":{"var":"data.cadre"},"target":"DONE"},
               "waive":{"roles":["OFFICE"],"target":"DONE"}}},
  "DONE":{"type":"final","outcome":"done"}}})";
const std::string kPermit =
    R"({"id":"bench.permit","version":1,"initial":"OPEN",)" + kAccess + R"("states":{
  "OPEN":{"on":{"grant":{"roles":["OFFICE"],"target":"DONE"}}},
  "DONE":{"type":"final","outcome":"granted"}}})";

std::string two(std::size_t v) {
  char b[8];
  std::snprintf(b, sizeof b, "%02zu", v);
  return b;
}

}  // namespace

int main(int argc, char** argv) {
  std::size_t n = 100000;
  int calls = 21;
  std::string dir = "/var/tmp/bihuan-bench-scope";
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string a = argv[i];
    if (a == "--n")
      n = std::strtoull(argv[i + 1], nullptr, 10);
    else if (a == "--calls")
      calls = std::atoi(argv[i + 1]);
    else if (a == "--dir")
      dir = argv[i + 1];
  }
  std::filesystem::remove_all(dir);
  bihuan::EngineOptions o;
  o.data_dir = dir;
  o.durable = false;
  o.initial_map_bytes = std::size_t{4} << 30;
  bihuan::Problems p;
  auto engine = bihuan::Engine::open(o, p);
  if (!engine) {
    std::fprintf(stderr, "cannot open %s\n", dir.c_str());
    return 1;
  }
  auto& e = *engine;
  for (const std::string& text : {kCase, kPermit})
    if (!e.deploy(json::parse(text), "bench").ok) {
      std::fprintf(stderr, "deploy failed\n");
      return 1;
    }
  auto t0 = SteadyClock::now();
  ClosedLoop loop;
  loop.window = 256;
  loop.run(n, [&](std::size_t i, auto done) {
    bihuan::StartRequest r;
    r.definition = i % 7 >= 5 ? "bench.permit" : "bench.case";
    char cadre[16];
    std::snprintf(cadre, sizeof cadre, "CD%04zu", i % 430 + 1);
    r.data = {{"unit", "city/T" + two(i % 10 + 1) + "/V" + two(i / 10 % 10 + 1)},
              {"cadre", cadre},
              {"station", "ST" + two(i % 5 + 1)},
              {"n", i}};
    e.start_async(std::move(r), [done](bihuan::StepResult res) { done(res.ok(), res.message); });
  });
  if (loop.failures) {
    std::fprintf(stderr, "population: %zu failed: %s\n", loop.failures, loop.first_failure.c_str());
    return 1;
  }
  std::printf("# %zu instances in %.1f s (%s)\n", n, seconds_since(t0), dir.c_str());

  auto median_ms = [&](auto call) {
    std::vector<double> ms;
    std::size_t items = 0;
    for (int c = 0; c < calls; ++c) {
      auto t = SteadyClock::now();
      items = call();
      ms.push_back(seconds_since(t) * 1e3);
    }
    return std::make_pair(percentile(ms, 50), items);
  };
  auto row = [&](const char* what, std::pair<double, std::size_t> m) {
    std::printf("%-58s %9.3f ms  %6zu items\n", what, m.first, m.second);
  };
  const Actor office{"office-T03", {"OFFICE"}, {{"unit", "city/T03"}}};
  const Actor cadre{"CD0007", {"CADRE"}};
  const Actor cadre_admin{"CD0007", {"CADRE", "admin"}};  // sees all: no filter
  auto query = [&](std::optional<Actor> who) {
    return [&e, who] {
      bihuan::InstanceQuery q;
      q.definition = "bench.case";
      q.limit = 50;
      q.viewer = who;
      return e.query(q).items.size();
    };
  };
  row("a) query page of 50, bench.case, unscoped", median_ms(query(std::nullopt)));
  row("a) query page of 50, bench.case, office city/T03", median_ms(query(office)));
  row("a) query page of 50, bench.case, cadre CD0007", median_ms(query(cadre)));
  row("b) inbox 100, cadre CD0007 as global admin (unscoped)",
      median_ms([&] { return e.inbox(cadre_admin, 100).size(); }));
  row("b) inbox 100, cadre CD0007 (scoped)", median_ms([&] { return e.inbox(cadre, 100).size(); }));
  auto stats = [&](std::optional<Actor> who, std::string def) {
    return [&e, who, def] {
      bihuan::StatsQuery q;
      q.group_by = {"status"};
      q.definition = def;
      q.viewer = who;
      return static_cast<std::size_t>(e.stats(q).total);
    };
  };
  row("c) stats by status, all definitions, unscoped", median_ms(stats(std::nullopt, "")));
  row("c) stats by status, all definitions, office city/T03", median_ms(stats(office, "")));
  row("c) stats by status, bench.case, unscoped", median_ms(stats(std::nullopt, "bench.case")));
  row("c) stats by status, bench.case, office city/T03", median_ms(stats(office, "bench.case")));
  const Actor city{"office-city", {"OFFICE"}, {{"unit", "city"}}};
  auto tz = bihuan::TimeZone::load("Asia/Shanghai");
  auto dash = [&](const Actor& who, std::string unit, std::string groups) {
    return [&e, &tz, who, unit, groups] {
      bihuan::StatsQuery q;
      for (std::size_t i = 0; i <= groups.size();) {
        std::size_t c = std::min(groups.find(',', i), groups.size());
        q.group_by.push_back(groups.substr(i, c - i));
        i = c + 1;
      }
      q.unit = unit;
      q.tz = tz;
      q.viewer = who;
      return static_cast<std::size_t>(e.stats(q).total);
    };
  };
  const char* kMain = "definition,state,category,status,outcome,overdue,escalated";
  row("d) dashboard by state etc., office city", median_ms(dash(city, "", kMain)));
  row("d) dashboard roll-up unit:2, office city",
      median_ms(dash(city, "", "unit:2,definition,status,overdue,escalated")));
  row("d) dashboard trend created:month, office city", median_ms(dash(city, "", "created:month")));
  row("d) dashboard by state etc., office city/T03", median_ms(dash(office, "", kMain)));
  row("d) dashboard roll-up unit:3, office city/T03",
      median_ms(dash(office, "", "unit:3,definition,status,overdue,escalated")));
  row("d) dashboard trend created:month, office city/T03",
      median_ms(dash(office, "", "created:month")));
  row("d) drill-down city/T03 by state etc., office city",
      median_ms(dash(city, "city/T03", kMain)));
  row("d) drill-down city/T03 roll-up unit:3, office city",
      median_ms(dash(city, "city/T03", "unit:3,definition,status,overdue,escalated")));
  e.close();
  std::filesystem::remove_all(dir);
  return 0;
}
