// Where the files shipped with Bihuan are, wherever the program runs from: a source or
// build tree, or an install (<prefix>/bin beside <prefix>/share/bihuan/workflows).
#include <cstdlib>
#include <filesystem>

#include "bihuan/node.hpp"

namespace bihuan {
namespace fs = std::filesystem;

namespace {

fs::path executable_dir() {
  std::error_code ec;
  auto exe = fs::read_symlink("/proc/self/exe", ec);
  return ec ? fs::path() : exe.parent_path();
}

// The nearest directory named `name` above `start` that holds `must_contain`.
std::string nearest_above(fs::path dir, const std::string& name, const std::string& must_contain) {
  std::error_code ec;
  for (; !dir.empty(); dir = dir.parent_path()) {
    fs::path candidate = dir / name;
    if (fs::exists(candidate / must_contain, ec)) return candidate.string();
    if (dir == dir.parent_path()) break;
  }
  return {};
}

}  // namespace

std::string bundled_workflows_dir() {
  const std::string marker = "schema/definition.schema.json";
  std::error_code ec;
  fs::path bin = executable_dir();
  for (const fs::path& start : {fs::current_path(ec), bin})
    if (std::string found = nearest_above(start, "workflows", marker); !found.empty()) return found;
  if (!bin.empty()) {
    fs::path installed = bin.parent_path() / "share" / "bihuan" / "workflows";
    if (fs::exists(installed / marker, ec)) return installed.lexically_normal().string();
  }
  return {};
}

std::string bundled_calendar_dir() {
  std::error_code ec;
  std::vector<fs::path> candidates;
  if (fs::path bin = executable_dir(); !bin.empty()) {
    candidates.push_back(bin.parent_path() / "share" / "bihuan" / "workflows" / "calendars");
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

}  // namespace bihuan
