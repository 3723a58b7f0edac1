// What every embedded-mode command shares: the data directory and calendar options,
// opening the engine on them, actor options, JSON arguments, and error reporting.
// Commands print "bihuan <command>: <message>" on stderr and set exit_code; nothing throws
// out of a command (guarded() turns a stray exception into exit 1).
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "bihuan/engine.hpp"

namespace bihuan::cli {

struct SessionOptions {
  std::string command;                 // "show", for messages
  std::string data_dir;                // --data-dir / --data / BIHUAN_DATA / ./data
  std::string store;                   // --store / BIHUAN_STORE: "" (LMDB) or postgresql:...
  std::vector<std::string> calendars;  // --calendars DIR...
  std::string format = "text";         // --format text|json
  bool json() const { return format == "json"; }
};

// Registers -D/--data-dir (also --data unless `data_is_dir` is false: `start` uses --data
// for instance data), --calendars and --format on `cmd`.
void add_session_options(CLI::App* cmd, SessionOptions& o, bool data_is_dir = true);

// Opens the engine on o.data_dir with calendars from --calendars, else the nearest
// calendars/ or workflows/calendars/ above each of `near` (files), the current directory,
// and the executable. With `create` false a missing data directory is an error (read
// commands never create one). Prints the reason and returns nullptr on failure.
std::unique_ptr<Engine> open_engine(const SessionOptions& o, bool create,
                                    const std::vector<std::string>& near = {});

struct ActorOptions {
  std::string id;
  std::vector<std::string> roles;
  // The actor given, or the system actor when no --actor was given.
  Actor actor() const;
};
void add_actor_options(CLI::App* cmd, ActorOptions& a, bool required);

// JSON text, or "@path" to read a file. Problems name `option` (or the file) with
// line:column; they are printed and nullopt returned.
std::optional<json> read_json_arg(const SessionOptions& o, const std::string& option,
                                  const std::string& arg);

// Prints "bihuan <command>: message" on stderr and sets exit code 1.
void fail(const SessionOptions& o, const std::string& message);

// Runs `body`, turning any exception into a failure message (exit 1).
void guarded(const SessionOptions& o, const std::function<void()>& body);

}  // namespace bihuan::cli
