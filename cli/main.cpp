// bihuan: the command-line front end. Thin: parses arguments, calls the engine library.
#include <iostream>

#include "bihuan/postgres.hpp"
#include "commands.hpp"

int main(int argc, char** argv) {
  bihuan::enable_postgres();  // --store postgresql:... (bihuan/postgres.hpp)
  CLI::App app{"bihuan: a durable, embeddable workflow engine"};
  app.require_subcommand(1);
  app.set_version_flag("--version", "bihuan 0.1.0");
  bihuan::cli::add_validate(app);
  bihuan::cli::add_graph(app);
  bihuan::cli::add_eval(app);
  bihuan::cli::add_deploy(app);
  bihuan::cli::add_instance_commands(app);
  bihuan::cli::add_read_commands(app);
  bihuan::cli::add_admin_commands(app);
  bihuan::cli::add_outbox_commands(app);
  bihuan::cli::add_serve_commands(app);
  bihuan::cli::add_demo_data(app);
  bihuan::cli::add_simulate(app);
  bihuan::cli::add_export_command(app);
  bihuan::cli::add_archive_commands(app);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int rc = app.exit(e);
    return rc == 0 ? 0 : 2;
  } catch (const std::exception& e) {
    std::cerr << "bihuan: " << e.what() << "\n";
    return 1;
  }
  return bihuan::cli::exit_code;
}
