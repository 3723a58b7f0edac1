#include "definitions_io.hpp"

#include <filesystem>
#include <fstream>
#include <sstream>

namespace bihuan::cli {
namespace fs = std::filesystem;

Calendars find_calendars(const std::vector<std::string>& dirs, const std::string& near_file,
                         Problems& problems) {
  Calendars out;
  std::vector<std::string> use = dirs;
  if (use.empty()) {
    std::error_code ec;
    fs::path p = fs::absolute(fs::path(near_file), ec).parent_path();
    for (int up = 0; up < 6 && !p.empty(); ++up, p = p.parent_path()) {
      for (auto cand : {p / "calendars", p / "workflows" / "calendars"})
        if (fs::is_directory(cand, ec)) {
          use.push_back(cand.string());
          break;
        }
      if (!use.empty() || p == p.parent_path()) break;
    }
  }
  for (const auto& d : use) {
    auto loaded = Calendars::load_dir(d, problems);
    for (const auto& id : loaded.ids()) out.add(loaded.find(id));
  }
  return out;
}

LoadedDefinition load_definition_file(const std::string& file, const DefinitionContext& ctx) {
  LoadedDefinition out{file, {}, nullptr, Problems(file)};
  std::ifstream in(file, std::ios::binary);
  if (!in) {
    out.problems.error("", "unreadable-file", "cannot open file for reading");
    return out;
  }
  std::ostringstream ss;
  ss << in.rdbuf();
  out.text = ss.str();
  out.def = compile_definition_text(out.text, out.problems, ctx);
  return out;
}

}  // namespace bihuan::cli
