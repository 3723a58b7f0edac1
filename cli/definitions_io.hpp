// Loading definition files for the CLI: calendars discovery and per-file compilation.
#pragma once

#include <memory>
#include <set>
#include <string>
#include <vector>

#include "bihuan/definition.hpp"

namespace bihuan::cli {

// Calendars from the given directories, or else from the nearest "calendars/" or
// "workflows/calendars/" directory above `near_file`.
Calendars find_calendars(const std::vector<std::string>& dirs, const std::string& near_file,
                         Problems& problems);

struct LoadedDefinition {
  std::string file;
  std::string text;
  std::shared_ptr<const Definition> def;  // null when it has errors
  Problems problems;
};

// Reads and compiles one file (problems carry the file name and line:column).
LoadedDefinition load_definition_file(const std::string& file, const DefinitionContext& ctx);

}  // namespace bihuan::cli
