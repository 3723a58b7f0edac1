// bihuan demo-data: writes the seeded Golmud-shaped city (cli/demo_city.hpp) as CSV files,
// a SQLite database and an engine configuration serving it through source.sqlite.
#include <iostream>
#include <map>

#include "commands.hpp"
#include "demo_city.hpp"

namespace bihuan::cli {
namespace {

struct DemoOptions {
  std::uint64_t seed = 2023;
  std::string out = "demo-data";
};

void run_demo_data(const DemoOptions& o) {
  demo::City city = demo::generate_city(o.seed);
  if (auto e = demo::write_city(city, o.out); !e.empty()) {
    std::cerr << "bihuan demo-data: " << e << "\n";
    exit_code = 1;
    return;
  }
  std::map<std::string, int> grades, levels;
  for (const auto& b : city.businesses) ++grades[b.grade];
  for (const auto& c : city.cadres)
    if (c.replaces.empty()) ++levels[c.level];
  std::cout << "wrote " << o.out << " (seed " << o.seed << "): " << city.businesses.size()
            << " businesses (A " << grades["A"] << ", B " << grades["B"] << ", C " << grades["C"]
            << ", D " << grades["D"] << "), "
            << levels["city"] + levels["township"] + levels["village"] << " cadres (B "
            << levels["city"] << ", C " << levels["township"] << ", D " << levels["village"]
            << ") + " << levels["prefecture"] << " prefecture cadres, "
            << city.cadres.size() -
                   (levels["city"] + levels["township"] + levels["village"] + levels["prefecture"])
            << " replacement cadres in 2023, " << city.units.size() << " responsible units, "
            << city.stations.size() << " regulator stations, " << city.bindings.size()
            << " bindings\n";
}

}  // namespace

void add_demo_data(CLI::App& app) {
  auto o = std::make_shared<DemoOptions>();
  auto* cmd = app.add_subcommand("demo-data",
                                 "Write the seeded demo city (CSV, SQLite, engine-config.json)");
  cmd->add_option("--seed", o->seed, "Seed (same seed, same files)")->capture_default_str();
  cmd->add_option("--out", o->out, "Output directory")->capture_default_str();
  cmd->callback([o] { run_demo_data(*o); });
}

}  // namespace bihuan::cli
