// verify_report_json (bihuan/verify_report.hpp).
#include "bihuan/verify_report.hpp"

namespace bihuan {

json verify_report_json(const VerifyReport& r) {
  json problems = json::array();
  for (const auto& p : r.problems)
    problems.push_back({{"kind", p.kind}, {"db", p.db}, {"key", p.key}, {"text", p.text}});
  return {{"ok", r.ok()},
          {"file", r.file},
          {"structureOk", r.structure_ok},
          {"databases", r.databases},
          {"pages", r.pages},
          {"instances", r.instances},
          {"entries", r.entries},
          {"indexEntries", r.index_entries},
          {"broken", r.broken},
          {"problems", std::move(problems)}};
}

}  // namespace bihuan
