// Migrating many instances: the running instances of one definition (optionally only
// those on one version, or in one state) each moved by its own Engine::migrate step, so
// a refused instance stops nothing and every migrated one is atomic. A dry run over real
// stored instances gives the counts and the refusals before anything is written.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "bihuan/engine.hpp"

namespace bihuan {

struct MigrationPlan {
  std::string definition;                    // required
  std::optional<std::int64_t> from_version;  // only instances on this version
  std::string state;                         // only instances in this state ("" = any)
  MigrateRequest step;                       // the migration of each (instance_id is ignored)
  std::size_t limit = 1000;                  // instances examined per call (0 = all)
  std::string cursor;                        // next_cursor of the previous call
};

struct MigrationRefusal {
  std::string instance_id;
  StepError error = StepError::none;
  std::string message;
};

struct MigrationReport {
  std::size_t examined = 0;  // running instances of the definition (and state) looked at
  std::size_t migrated = 0;  // migrated (dry run: would be)
  std::size_t skipped = 0;   // on another version than from_version, or on the target already
  std::vector<MigrationRefusal> refused;
  std::map<std::string, std::size_t> refused_by;  // to_string(StepError) -> count
  std::string next_cursor;                        // non-empty: more instances to examine
  std::string
      error;  // the plan cannot run (no definition, a cursor not of this plan, the store failed)
  bool unavailable = false;  // error: the store could not be read (retry later)
  // {examined, migrated, skipped, refusedBy, refused: [{id, code, message}], dryRun,
  // nextCursor?}: what the HTTP API and the CLI print.
  json to_json(bool dry_run) const;
};

// Examines up to plan.limit running instances, in the order of Engine::query (by state,
// then id), and migrates each. An instance this call already migrated is not counted
// again when its new state comes later in that order; a later call (with the cursor) can
// meet it again, on the target version, and counts it as skipped.
MigrationReport migrate_instances(Engine& engine, const MigrationPlan& plan);

}  // namespace bihuan
