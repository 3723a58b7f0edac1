// bihuan serve --demo: the food-safety package with the seeded demo city, simulated up to
// a moment of 2023 on first start, then served with the engine clock running on from that
// moment, and tokens for a few demo people whose inboxes are full.
//
// Layout under the data directory: city/ (the demo city: CSV, city.sqlite,
// engine-config.json), engine/ (the LMDB data and clock.json), demo-tokens.json (mode
// 0600; the tokens printed at start). A second start reuses all three.
#pragma once

#include <string>
#include <vector>

#include "bihuan/engine.hpp"
#include "bihuan/server.hpp"

namespace bihuan::cli {

struct DemoPlan {
  std::string root;                              // the data directory
  std::string workflows_dir;                     // the bundled workflows/
  std::string at = "2023-05-15T09:30:00+08:00";  // the simulated moment the server starts at
  std::uint64_t seed = 2023;
};

// Simulates the year up to plan.at into <root>/city and <root>/engine unless they exist.
// Returns "" or an error sentence.
std::string prepare_demo(const DemoPlan& plan);
std::string demo_engine_dir(const DemoPlan& plan);
std::string demo_config_file(const DemoPlan& plan);

// Tokens (created once in <root>/demo-tokens.json) for a global administrator ("admin"),
// the city office ("city-office": a unit administrator of HX/GM), a township office
// ("township-office"), and the cadre, regulator station, business principal and officer
// with the most waiting tasks (those with none are left out). Each carries its attributes
// (docs/authorization.md). Each entry of `printable` is {name, actor, roles, attrs, token,
// inbox}.
std::vector<ApiToken> demo_tokens(const DemoPlan& plan, const Engine& engine, json& printable);

}  // namespace bihuan::cli
