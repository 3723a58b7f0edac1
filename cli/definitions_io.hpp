// Loading definition files for the CLI: calendars discovery and per-file compilation.
#pragma once

#include <memory>
#include <set>
#include <string>
#include <vector>

#include "bihuan/definition.hpp"

namespace bihuan::cli {

// Calendars from the given directories; with none given, from the first of:
//   1. $BIHUAN_CALENDARS (directories separated by ':'),
//   2. the nearest "calendars/" or "workflows/calendars/" directory above `near_file`,
//   3. the bundled calendars (bundled_calendar_dirs()).
// `used`, if given, receives the directories read.
Calendars find_calendars(const std::vector<std::string>& dirs, const std::string& near_file,
                         Problems& problems, std::vector<std::string>* used = nullptr);

// Where the calendars shipped with this binary are, wherever it is run from: an
// install's <prefix>/share/bihuan/calendars beside <prefix>/bin, else workflows/calendars
// above the executable (a build tree), else the source tree it was built from. Empty if
// none of them exists.
std::string bundled_calendar_dir();

struct LoadedDefinition {
  std::string file;
  std::string text;
  std::shared_ptr<const Definition> def;  // null when it has errors
  Problems problems;
};

// Reads and compiles one file (problems carry the file name and line:column).
LoadedDefinition load_definition_file(const std::string& file, const DefinitionContext& ctx);

}  // namespace bihuan::cli
