#include "definitions_io.hpp"

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

namespace bihuan::cli {
namespace fs = std::filesystem;

std::string bundled_calendar_dir() {
  std::error_code ec;
  std::vector<fs::path> candidates;
  if (auto exe = fs::read_symlink("/proc/self/exe", ec); !ec) {
    fs::path bin = exe.parent_path();
    candidates.push_back(bin.parent_path() / "share" / "bihuan" / "calendars");
    for (fs::path p = bin; !p.empty(); p = p.parent_path()) {
      candidates.push_back(p / "workflows" / "calendars");
      if (p == p.parent_path()) break;
    }
  }
#ifdef BIHUAN_BUNDLED_CALENDARS
  candidates.emplace_back(BIHUAN_BUNDLED_CALENDARS);
#endif
  for (const auto& c : candidates)
    if (fs::is_directory(c, ec)) return c.lexically_normal().string();
  return {};
}

Calendars find_calendars(const std::vector<std::string>& dirs, const std::string& near_file,
                         Problems& problems, std::vector<std::string>* used) {
  Calendars out;
  std::vector<std::string> use = dirs;
  if (use.empty()) {
    if (const char* env = std::getenv("BIHUAN_CALENDARS"); env && *env) {
      std::string list = env;
      for (std::size_t start = 0, end; start <= list.size(); start = end + 1) {
        end = std::min(list.find(':', start), list.size());
        if (end > start) use.push_back(list.substr(start, end - start));
      }
    }
  }
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
  if (use.empty())
    if (std::string bundled = bundled_calendar_dir(); !bundled.empty()) use.push_back(bundled);
  if (used) *used = use;
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
