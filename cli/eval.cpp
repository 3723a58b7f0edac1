// bihuan eval RULE [DATA]: try a JsonLogic expression before deploying it.
#include <fstream>
#include <iostream>
#include <sstream>

#include "bihuan/expr.hpp"
#include "commands.hpp"

namespace bihuan::cli {
namespace {

// "@path" reads a file; anything else is JSON text.
std::optional<json> read_arg(const std::string& arg, const std::string& what) {
  std::string text = arg;
  Problems problems(what);
  if (!arg.empty() && arg[0] == '@') {
    std::ifstream in(arg.substr(1), std::ios::binary);
    if (!in) {
      std::cerr << "bihuan eval: cannot read " << what << " file " << arg.substr(1) << "\n";
      return std::nullopt;
    }
    std::ostringstream ss;
    ss << in.rdbuf();
    text = ss.str();
    problems.set_file(arg.substr(1));
  }
  auto v = load_json(text, problems);
  for (const auto& p : problems.items()) std::cerr << p.to_string() << "\n";
  return v;
}

}  // namespace

void add_eval(CLI::App& app) {
  auto rule_arg = std::make_shared<std::string>();
  auto data_arg = std::make_shared<std::string>("{}");
  auto* cmd =
      app.add_subcommand("eval", "Evaluate a JsonLogic rule against data (JSON text or @file)");
  cmd->add_option("rule", *rule_arg, "The rule: JSON text or @file")->required();
  cmd->add_option("data", *data_arg, "The data: JSON text or @file (default {})");
  cmd->callback([=] {
    auto rule = read_arg(*rule_arg, "rule");
    auto data = rule ? read_arg(*data_arg, "data") : std::nullopt;
    if (!rule || !data) {
      exit_code = 1;
      return;
    }
    Problems problems("rule");
    if (!expr::check(*rule, problems, "")) {
      for (const auto& p : problems.items()) std::cerr << p.to_string() << "\n";
      exit_code = 1;
      return;
    }
    auto result = expr::evaluate(*rule, *data);
    if (!result.ok()) {
      std::cerr << "bihuan eval: " << result.error->message
                << (result.error->pointer.empty() ? "" : " [at " + result.error->pointer + "]")
                << "\n";
      exit_code = 1;
      return;
    }
    std::cout << result.value->dump() << "\n";
  });
}

}  // namespace bihuan::cli
