// Loading definition files for the CLI: calendars discovery and per-file compilation.
#pragma once

#include <memory>
#include <set>
#include <string>
#include <vector>

#include "bihuan/definition.hpp"
#include "bihuan/node.hpp"

namespace bihuan::cli {

// Calendars discovery (find_calendars, bundled_calendar_dir) is the server library's
// (bihuan/node.hpp), shared with bihuan::Node.
using bihuan::bundled_calendar_dir;
using bihuan::find_calendars;

struct LoadedDefinition {
  std::string file;
  std::string text;
  std::shared_ptr<const Definition> def;  // null when it has errors
  Problems problems;
};

// Reads and compiles one file (problems carry the file name and line:column).
LoadedDefinition load_definition_file(const std::string& file, const DefinitionContext& ctx);

}  // namespace bihuan::cli
