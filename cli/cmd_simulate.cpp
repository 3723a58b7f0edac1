// bihuan simulate: the food-safety year in virtual time on the real engine (simulate_run.hpp),
// then the administrator's statistics from the engine (simulate_stats.hpp) as tables,
// --json and --html. Exit 1 when the run fails or a self-check (oracle) does not hold.
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <set>
#include <sstream>

#include <sys/resource.h>
#include <unistd.h>

#include "commands.hpp"
#include "definitions_io.hpp"
#include "simulate_city.hpp"
#include "simulate_compare.hpp"
#include "simulate_headline.hpp"
#include "simulate_run.hpp"
#include "simulate_stats.hpp"

namespace bihuan::cli {
namespace {

namespace fs = std::filesystem;

struct SimulateOptions {
  sim::RunOptions run;
  std::string city_dir, behaviour_file, json_file, html_file, csv_dir, compare_file;
  std::vector<std::string> townships;
  bool compliant = false, nosync = false, keep = false, quiet = false;
};

// The nearest `rel` upward of the current directory, then of the executable.
std::string find_up(const std::string& rel) {
  std::error_code ec;
  std::vector<fs::path> starts = {fs::current_path(ec)};
  if (auto exe = fs::read_symlink("/proc/self/exe", ec); !ec) starts.push_back(exe.parent_path());
  for (auto p : starts)
    for (; !p.empty(); p = p.parent_path()) {
      if (fs::is_directory(p / rel, ec)) return (p / rel).string();
      if (p == p.parent_path()) break;
    }
  return rel;
}

void run_simulate(SimulateOptions o) {
  auto fail = [](const std::string& m) {
    std::cerr << "bihuan simulate: " << m << "\n";
    exit_code = 1;
  };
  // A JSON file an option names; "" or what is wrong with it (file, line:column).
  auto load = [](const std::string& file, json& out) -> std::string {
    Problems problems(file);
    auto doc = load_json_file(file, problems);
    if (!doc)
      return problems.items().empty() ? file + ": not readable" : problems.items()[0].to_string();
    out = std::move(*doc);
    return {};
  };
  o.run.behaviour = o.compliant ? sim::compliant() : sim::defaults();
  if (!o.behaviour_file.empty()) {
    json doc;
    if (auto e = load(o.behaviour_file, doc); !e.empty()) return fail(e);
    if (auto e = sim::from_json(doc, o.run.behaviour); !e.empty())
      return fail(o.behaviour_file + ": " + e);
  }
  // A policy to compare with (--compare), checked before anything runs.
  json policy;
  if (!o.compare_file.empty()) {
    if (auto e = load(o.compare_file, policy); !e.empty()) return fail(e);
    if (auto e = sim::check_policy(policy, o.compare_file); !e.empty()) return fail(e);
  }
  // The run and the statistics both stand on --end: refuse a bad one before either.
  auto end = parse_time(o.run.end);
  if (!end)
    return fail("--end: \"" + o.run.end +
                "\" is not an ISO 8601 time (e.g. 2023-07-15T00:00:00+08:00)");
  o.run.durable = !o.nosync;
  if (o.run.workflows_dir.empty()) o.run.workflows_dir = find_up("workflows/food-safety");
  if (o.run.calendars_dir.empty()) o.run.calendars_dir = find_up("workflows/calendars");
  bool temp = o.run.data_dir.empty();
  if (temp)
    o.run.data_dir =
        (fs::temp_directory_path() / ("bihuan-simulate-" + std::to_string(::getpid()))).string();

  demo::City full;
  if (o.city_dir.empty())
    full = demo::generate_city(o.run.seed);
  else if (auto e = sim::load_city_csv(o.city_dir, full); !e.empty())
    return fail(e);
  // An unknown township is an error, not an empty run that looks like a quiet year.
  {
    std::set<std::string> known;
    for (const auto& r : full.regions)  // a township is a street, town, township or zone
      if (r.kind != "village" && r.kind != "city" && r.kind != "prefecture") known.insert(r.id);
    for (const auto& t : o.townships)
      if (!known.count(t)) {
        std::string ids;
        for (const auto& k : known) ids += (ids.empty() ? "" : " ") + k;
        return fail("--townships: no township \"" + t + "\" in the city (its townships: " + ids +
                    ")");
      }
  }
  demo::City city = sim::subset(full, {o.townships.begin(), o.townships.end()});
  std::map<std::string, std::string> labels;
  for (const auto& r : city.regions) labels[r.id] = r.name;

  // One run into run.data_dir and its statistics: "" or what failed.
  auto measure = [&](const sim::RunOptions& run, sim::RunReport& report,
                     json& stats) -> std::string {
    report = sim::run(city, run);
    if (!report.error.empty()) return report.error;
    {
      // Statistics from the data directory the run left behind, read at the run's end: a
      // real clock would fire every timer due between then and today while they are read
      // (a rectification deadline after the end turned overdue in some runs, not others).
      Problems p;
      EngineOptions eo;
      eo.data_dir = run.data_dir + "/engine";
      eo.clock = std::make_shared<VirtualClock>(*end);
      eo.calendars = std::make_shared<Calendars>(find_calendars({run.calendars_dir}, ".", p));
      auto engine = Engine::open(eo, p);
      if (!engine) return "cannot reopen " + eo.data_dir;
      stats = sim::compute(*engine, run.end, labels);
      engine->close();
    }
    stats["seed"] = run.seed;
    stats["behaviour"] = sim::to_json(run.behaviour);
    stats["plan"] = run.plan;
    stats["preset"] = o.compliant ? "compliant" : "default";
    stats["townshipFilter"] = o.townships;
    stats["daily"] = run.daily;
    stats["steps"] = {{"actions", report.actions},
                      {"refused", report.refused},
                      {"refusals", report.refusals},
                      {"moot", report.moot},
                      {"moots", report.moots}};
    if (run.daily)
      stats["selfManagement"] = {{"daily", report.daily_records},
                                 {"weekly", report.weekly_records},
                                 {"weeklyFiled", report.weekly_filed},
                                 {"monthly", report.monthly_records},
                                 {"monthlyHeld", report.monthly_held}};
    stats["city"]["businesses"] = city.businesses.size();
    stats["city"]["bindings"] = city.bindings.size();
    stats["city"]["cadres"] = city.cadres.size();
    stats["headline"] = sim::headline(city, stats, run.end);
    stats["steps"]["byRole"] = report.steps_by_role;
    return {};
  };
  const bool comparing = !o.compare_file.empty();
  sim::RunOptions base_run = o.run, variant_run = o.run;
  if (comparing) {
    // The policy's definitions first: a patch that does not apply stops before any run.
    base_run.data_dir = o.run.data_dir + "/baseline";
    variant_run.data_dir = o.run.data_dir + "/variant";
    variant_run.workflows_dir = o.run.data_dir + "/variant-workflows";
    if (fs::exists(o.run.data_dir) && !fs::is_empty(o.run.data_dir))
      return fail(o.run.data_dir + " is not empty (the simulation needs a fresh data directory)");
    if (auto e = sim::patched_workflows(o.run.workflows_dir, policy, variant_run.workflows_dir,
                                        o.compare_file);
        !e.empty()) {
      fs::remove_all(o.run.data_dir);
      return fail(e);
    }
    if (policy.contains("behaviour")) sim::from_json(policy["behaviour"], variant_run.behaviour);
    if (policy.contains("plan")) variant_run.plan = policy["plan"];
  }
  sim::RunReport report;
  json stats;
  if (auto e = measure(base_run, report, stats); !e.empty()) return fail(e);
  if (comparing) {
    sim::RunReport variant_report;
    json variant;
    if (auto e = measure(variant_run, variant_report, variant); !e.empty()) return fail(e);
    json rows = sim::compare(stats, report, variant, variant_report);
    std::string name = policy.value("name", o.compare_file);
    sim::print_compare(rows, name, std::cout);
    if (!o.json_file.empty())
      std::ofstream(o.json_file, std::ios::binary | std::ios::trunc) << json{{"policy", policy},
                                                                             {"comparison", rows},
                                                                             {"baseline", stats},
                                                                             {"variant", variant}}
                                                                            .dump(1)
                                                                     << "\n";
    if (!o.html_file.empty())  // the variant's own report
      std::ofstream(o.html_file, std::ios::binary | std::ios::trunc) << sim::html_report(variant);
    if (temp && !o.keep)
      fs::remove_all(o.run.data_dir);
    else
      std::cout << "data directory: " << o.run.data_dir << "\n";
    for (const json* st : {&stats, &variant})
      for (const auto& [n, check] : (*st)["oracles"].items())
        if (!check.value("ok", false)) exit_code = 1;
    return;
  }

  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  if (!o.quiet) sim::print_tables(stats, std::cout);
  std::cout << "simulated " << city.businesses.size() << " businesses, " << city.cadres.size()
            << " cadres"
            << (o.run.daily ? ", " + std::to_string(report.daily_records) + " daily, " +
                                  std::to_string(report.weekly_records) + " weekly and " +
                                  std::to_string(report.monthly_records) + " monthly records"
                            : std::string())
            << " to " << o.run.end << " in " << report.seconds << " s ("
            << (o.run.durable ? "durable" : "nosync") << "): " << report.actions << " actor steps ("
            << report.refused << " refused, " << report.moot << " moot: the task had ended), "
            << report.notifications << " notifications, " << report.queries
            << " data-source queries; " << report.moments << " moments, " << report.commits
            << " commits, " << report.timers_fired << " timers; peak RSS " << ru.ru_maxrss / 1024
            << " MiB\n";
  if (!o.quiet && report.refused) {
    std::cout << "refused steps:";
    for (const auto& [what, n] : report.refusals) std::cout << " " << what << " " << n << ";";
    std::cout << "\n";
  }
  if (!o.quiet && report.moot) {
    std::cout << "moot steps (the task had ended):";
    for (const auto& [what, n] : report.moots) std::cout << " " << what << " " << n << ";";
    std::cout << "\n";
  }
  bool oracles_ok = true;
  for (const auto& [name, o2] : stats["oracles"].items())
    if (!o2.value("ok", false)) {
      oracles_ok = false;
      std::cerr << "bihuan simulate: self-check " << name << " failed: " << o2.dump() << "\n";
    }
  if (!o.json_file.empty())
    std::ofstream(o.json_file, std::ios::binary | std::ios::trunc) << stats.dump(1) << "\n";
  if (!o.html_file.empty())
    std::ofstream(o.html_file, std::ios::binary | std::ios::trunc) << sim::html_report(stats);
  if (!o.csv_dir.empty()) sim::write_csv(stats, o.csv_dir);
  if (temp && !o.keep)
    fs::remove_all(o.run.data_dir);
  else
    std::cout << "data directory: " << o.run.data_dir << "\n";
  if (!oracles_ok) exit_code = 1;
}

}  // namespace

void add_simulate(CLI::App& app) {
  auto o = std::make_shared<SimulateOptions>();
  auto* cmd = app.add_subcommand(
      "simulate", "Simulate the food-safety year on the engine and report the statistics");
  cmd->add_option("--seed", o->run.seed, "Seed of the city and of the actors' behaviour")
      ->capture_default_str();
  cmd->add_option("--city", o->city_dir,
                  "Read the city from a bihuan demo-data directory (default: generate it)");
  cmd->add_option("-D,--data", o->run.data_dir,
                  "Fresh data directory to run in (default: a temporary one, removed)");
  cmd->add_option("--behaviour", o->behaviour_file,
                  "JSON behaviour file (rates; see workflows/food-safety/README.md)");
  cmd->add_flag("--compliant", o->compliant, "Everyone on time: the report's 100% shape");
  cmd->add_option("--townships", o->townships,
                  "Only these township ids (e.g. T01 T07): a quick subset")
      ->delimiter(',');
  cmd->add_option("--end", o->run.end, "Stop and take the statistics at this time")
      ->capture_default_str();
  cmd->add_flag(
      "--daily", o->run.daily,
      "Also run the self-management records of every open business (daily, weekly, monthly)");
  cmd->add_flag("--nosync", o->nosync, "MDB_NOSYNC storage (speed experiments; default durable)");
  cmd->add_flag("--keep", o->keep, "Keep the temporary data directory");
  cmd->add_flag("-q,--quiet", o->quiet, "Print only the summary line");
  cmd->add_option("--json", o->json_file, "Write the statistics as JSON");
  cmd->add_option("--html", o->html_file, "Write a self-contained HTML report");
  cmd->add_option(
      "--compare", o->compare_file,
      "Run the year twice, as shipped and under this policy (JSON: name, "
      "definitions: {id: [JSON Patch]}, behaviour, plan: supervision frequency per level "
      "and grade), and print the differences");
  cmd->add_option("--csv", o->csv_dir,
                  "Write the report's tables as CSV files into this directory (headline.csv, "
                  "periods.csv, townships.csv)");
  cmd->add_option("--workflows", o->run.workflows_dir,
                  "The food-safety definitions (default: nearest workflows/food-safety)");
  cmd->add_option("--calendars", o->run.calendars_dir,
                  "Calendar directory (default: nearest workflows/calendars)");
  cmd->callback([o] {
    try {
      run_simulate(*o);
    } catch (const std::exception& e) {
      std::cerr << "bihuan simulate: " << e.what() << "\n";
      exit_code = 1;
    }
  });
}

}  // namespace bihuan::cli
