// bihuan graph FILE --format dot|mermaid: the state graph of a definition.
#include <iostream>
#include <sstream>

#include "commands.hpp"
#include "definitions_io.hpp"

namespace bihuan::cli {

void add_graph(CLI::App& app) {
  auto file = std::make_shared<std::string>();
  auto format = std::make_shared<std::string>("dot");
  auto calendars = std::make_shared<std::vector<std::string>>();
  auto* cmd = app.add_subcommand("graph", "Draw the state graph of a definition");
  cmd->add_option("file", *file, "Definition file")->required();
  cmd->add_option("--format", *format, "dot or mermaid")->check(CLI::IsMember({"dot", "mermaid"}));
  cmd->add_option("--calendars", *calendars, "Calendar directories");
  cmd->callback([=] {
    Problems cp;
    Calendars cals = find_calendars(*calendars, *file, cp);
    DefinitionContext ctx;
    ctx.calendars = &cals;
    auto loaded = load_definition_file(*file, ctx);
    if (!loaded.def) {
      for (const auto& p : loaded.problems.items()) std::cerr << p.to_string() << "\n";
      exit_code = 1;
      return;
    }
    std::cout << render_graph(*loaded.def, *format).value_or("");
  });
}

}  // namespace bihuan::cli
