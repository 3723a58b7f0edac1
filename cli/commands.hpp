// The CLI's subcommands. Each registers itself on the CLI11 app and runs on parse.
#pragma once

#include <CLI/CLI.hpp>

namespace bihuan::cli {

// Exit codes: 0 ok, 1 the input has errors / the operation failed, 2 usage.
inline int exit_code = 0;

void add_validate(CLI::App& app);
void add_graph(CLI::App& app);
void add_eval(CLI::App& app);

// Embedded mode: commands that open the engine on a data directory.
void add_deploy(CLI::App& app);             // deploy
void add_instance_commands(CLI::App& app);  // start, send, cancel
void add_read_commands(CLI::App& app);      // show, history, list, inbox
void add_admin_commands(CLI::App& app);     // verify, backup, timers
void add_outbox_commands(CLI::App& app);    // outbox, dead-letters, retry, dispatch
void add_serve_commands(CLI::App& app);     // serve, token-hash
void add_demo_data(CLI::App& app);          // demo-data (the seeded food-safety demo city)
void add_simulate(CLI::App& app);           // simulate (the food-safety year in virtual time)
void add_export_command(CLI::App& app);     // export (the change feed)
void add_archive_commands(CLI::App& app);   // archive run, verify, restore (retention)

}  // namespace bihuan::cli
