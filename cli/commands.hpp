// The CLI's subcommands. Each registers itself on the CLI11 app and runs on parse.
#pragma once

#include <CLI/CLI.hpp>

namespace bihuan::cli {

// Exit codes: 0 ok, 1 the input has errors / the operation failed, 2 usage.
inline int exit_code = 0;

void add_validate(CLI::App& app);
void add_graph(CLI::App& app);
void add_eval(CLI::App& app);

}  // namespace bihuan::cli
