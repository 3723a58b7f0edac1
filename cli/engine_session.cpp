#include "engine_session.hpp"

#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>

#include "commands.hpp"
#include "definitions_io.hpp"

namespace bihuan::cli {
namespace fs = std::filesystem;

void add_session_options(CLI::App* cmd, SessionOptions& o, bool data_is_dir) {
  o.command = cmd->get_name();
  o.data_dir = "./data";
  cmd->add_option(data_is_dir ? "-D,--data-dir,--data" : "-D,--data-dir", o.data_dir,
                  "Data directory")
      ->envname("BIHUAN_DATA")
      ->capture_default_str();
  cmd->add_option("--store", o.store,
                  "Where instances live: lmdb (in the data directory, the default) or "
                  "postgresql:<libpq conninfo>")
      ->envname("BIHUAN_STORE");
  cmd->add_option("--calendars", o.calendars,
                  "Calendar directories (default: nearest calendars/ or workflows/calendars/)")
      ->allow_extra_args(false);
  cmd->add_option("--format", o.format, "Output format")
      ->check(CLI::IsMember({"text", "json"}))
      ->capture_default_str();
}

namespace {

// Calendars from --calendars, else from the first place upward of `near` that has some.
std::shared_ptr<const Calendars> load_calendars(const SessionOptions& o,
                                                const std::vector<std::string>& near) {
  Problems problems;
  Calendars found;
  if (!o.calendars.empty()) {
    found = find_calendars(o.calendars, ".", problems);
  } else {
    std::vector<std::string> places = near;
    std::error_code ec;
    places.push_back((fs::current_path(ec) / "cwd").string());
    if (auto exe = fs::read_symlink("/proc/self/exe", ec); !ec) places.push_back(exe.string());
    for (const auto& place : places) {
      Problems scratch;
      Calendars c = find_calendars({}, place, scratch);
      if (!c.ids().empty() || scratch.has_errors()) {
        found = std::move(c);
        problems.append(scratch);
        break;
      }
    }
  }
  for (const auto& p : problems.items()) std::cerr << p.to_string() << "\n";
  return std::make_shared<Calendars>(std::move(found));
}

}  // namespace

std::unique_ptr<Engine> open_engine(const SessionOptions& o, bool create,
                                    const std::vector<std::string>& near) {
  std::error_code ec;
  const bool lmdb = o.store.empty() || o.store == "lmdb";
  if (!create && lmdb && !fs::exists(fs::path(o.data_dir) / "data.mdb", ec)) {
    fail(o,
         fs::is_directory(o.data_dir, ec)
             ? o.data_dir + " holds no Bihuan data (deploy a definition first, or pass --data DIR)"
             : "no data directory " + o.data_dir +
                   " (deploy a definition first, or pass --data DIR)");
    return nullptr;
  }
  EngineOptions eo;
  eo.data_dir = o.data_dir;
  eo.store = o.store;
  eo.calendars = load_calendars(o, near);
  Problems problems(o.data_dir);
  auto engine = Engine::open(std::move(eo), problems);
  if (!engine) {
    std::string why;
    for (const auto& p : problems.items()) why += (why.empty() ? "" : "; ") + p.message;
    fail(o, "cannot open " + o.data_dir + ": " + (why.empty() ? "unknown error" : why));
  }
  return engine;
}

Actor ActorOptions::actor() const {
  if (id.empty()) return Actor::system();
  return Actor{id, roles};
}

void add_actor_options(CLI::App* cmd, ActorOptions& a, bool required) {
  auto* actor =
      cmd->add_option("--actor", a.id, required ? "Actor id" : "Actor id (default: system)");
  if (required) actor->required();
  cmd->add_option("--role", a.roles, "Actor role (repeat, or comma-separated)")
      ->allow_extra_args(false)
      ->delimiter(',');
}

std::optional<json> read_json_arg(const SessionOptions& o, const std::string& option,
                                  const std::string& arg) {
  std::string text = arg;
  Problems problems(option);
  if (!arg.empty() && arg[0] == '@') {
    std::ifstream in(arg.substr(1), std::ios::binary);
    if (!in) {
      fail(o, "cannot read " + option + " file " + arg.substr(1));
      return std::nullopt;
    }
    std::ostringstream ss;
    ss << in.rdbuf();
    text = ss.str();
    problems.set_file(option + " " + arg.substr(1));
  }
  auto v = load_json(text, problems);
  if (!v) {
    for (const auto& p : problems.items()) std::cerr << p.to_string() << "\n";
    exit_code = 1;
  }
  return v;
}

void fail(const SessionOptions& o, const std::string& message) {
  std::cerr << "bihuan " << o.command << ": " << message << "\n";
  exit_code = 1;
}

void guarded(const SessionOptions& o, const std::function<void()>& body) {
  try {
    body();
  } catch (const std::exception& e) {
    fail(o, std::string("unexpected error: ") + e.what());
  } catch (...) {
    fail(o, "unexpected error");
  }
}

}  // namespace bihuan::cli
