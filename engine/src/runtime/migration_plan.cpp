#include "bihuan/migration.hpp"

#include <set>

namespace bihuan {

json MigrationReport::to_json(bool dry_run) const {
  json list = json::array();
  for (const auto& x : refused)
    list.push_back({{"id", x.instance_id}, {"code", to_string(x.error)}, {"message", x.message}});
  json out = {{"examined", examined},    {"migrated", migrated},       {"skipped", skipped},
              {"refusedBy", refused_by}, {"refused", std::move(list)}, {"dryRun", dry_run}};
  if (!next_cursor.empty()) out["nextCursor"] = next_cursor;
  return out;
}

MigrationReport migrate_instances(Engine& engine, const MigrationPlan& plan) {
  MigrationReport out;
  auto target = engine.definition(plan.definition, plan.step.to_version);
  if (plan.definition.empty() || !target) {
    out.error =
        plan.definition.empty()
            ? "a definition is required"
            : "definition \"" + plan.definition + "\"" +
                  (plan.step.to_version ? " has no version " + std::to_string(*plan.step.to_version)
                                        : " is not deployed");
    return out;
  }
  InstanceQuery q;
  q.definition = plan.definition;
  q.state = plan.state;
  q.status = InstanceStatus::running;
  q.cursor = plan.cursor;
  MigrateRequest step = plan.step;
  std::set<std::string> moved;        // by this call: met again if their new state comes later
  step.to_version = target->version;  // the same target for every instance of the call
  while (true) {
    q.limit = plan.limit ? std::min<std::size_t>(100, plan.limit - out.examined) : 100;
    InstancePage page = engine.query(q);
    if (!page.error.empty()) {
      out.error = page.error;
      out.unavailable = page.unavailable;
      return out;
    }
    for (const auto& v : page.items) {
      if (moved.count(v.id)) continue;
      ++out.examined;
      if ((plan.from_version && v.definition_version != *plan.from_version) ||
          v.definition_version == target->version) {
        ++out.skipped;
        continue;
      }
      step.instance_id = v.id;
      step.expected_version = v.version;  // a step in between is a refusal, not a surprise
      StepResult r = engine.migrate(step);
      if (r.ok()) {
        ++out.migrated;
        moved.insert(v.id);
      } else {
        out.refused.push_back({v.id, r.error, r.message});
        ++out.refused_by[to_string(r.error)];
      }
    }
    if (page.next_cursor.empty()) return out;
    q.cursor = page.next_cursor;
    if (plan.limit && out.examined >= plan.limit) {
      out.next_cursor = page.next_cursor;
      return out;
    }
  }
}

}  // namespace bihuan
