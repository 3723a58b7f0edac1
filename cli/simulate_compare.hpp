// `bihuan simulate --compare POLICY`: the same city, seed and behaviour run twice, once on
// the shipped definitions and once under a policy (workflows/food-safety/README.md,
// "Comparing two policies"), and the differences an office weighs side by side: coverage,
// rectification and closure time, problems, and the workload of cadres, offices and
// stations.
//
// A policy file: {"name": text, "definitions": {definition id: [RFC 6902 JSON Patch
// operations on that definition's document]}, "behaviour": {members overlaying the
// variant's behaviour (simulate_behaviour.hpp)}, "plan": [the variant's supervision
// frequency per cadre level and business grade (check_plan, simulate_run.hpp)]}. Any other
// member is refused.
#pragma once

#include <iosfwd>
#include <string>

#include "bihuan/json.hpp"
#include "simulate_run.hpp"

namespace bihuan::cli::sim {

// Checks a policy document read from `file`: "" or what is wrong, naming the file and the
// JSON Pointer of the member.
std::string check_policy(const json& policy, const std::string& file);

// Copies the definitions of `from` (*.json) into `to`, each with the policy's patch for
// its id applied. "" or what failed: a patch that does not apply (the operation's index
// and path), a definition id no file has.
std::string patched_workflows(const std::string& from, const json& policy, const std::string& to,
                              const std::string& file);

// The side-by-side rows: [{"key", "zh", "en", "baseline", "variant", "difference"}], from
// the two statistics documents (their year, all levels) and the runs' steps by role.
json compare(const json& baseline, const RunReport& base_report, const json& variant,
             const RunReport& variant_report);

void print_compare(const json& rows, const std::string& name, std::ostream& out);

}  // namespace bihuan::cli::sim
