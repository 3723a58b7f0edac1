// Access of instance records (docs/authorization.md).
#pragma once

#include "runtime/record.hpp"
#include "runtime/step.hpp"

#include <set>
#include <string>
#include <vector>

namespace bihuan::runtime {

// Sets r.unit and r.readers from def.access over r's data (r.state must be valid). Open
// default when `access` has neither unit nor readers: unit "", readers ["*"]; with one of
// them, an absent `readers` means none (only the unit's offices see it). Throws StepFailure
// (expression-error, naming /access/...) when an expression fails or yields a value that
// is not a unit path / reader keys, so the step that would store it is refused.
void compute_access(InstanceRecord& r, const Definition& def, const Calendars* calendars);

// What def.access's unit and readers read of compute_access's context, found by a scan
// of the expressions. `pure`: the access is a function of the data members in `members`
// alone (all of the data when `all_data`): every operator is a pure one (no now, time_*,
// log), every root-scope var names a literal "data..." path, nothing reads "instance"
// (its version changes on every step) and missing/missing_some read only item scopes.
// Then a stored record whose step left those members (and the definition version) as
// they were keeps the access it was stored with (Stepper::seal).
struct AccessReads {
  bool pure = true;
  bool all_data = false;
  std::set<std::string, std::less<>> members;
  // Whether a change of these top-level data members may change the access.
  bool touched_by(const std::vector<std::string>& changed) const;
};
AccessReads access_reads(const Definition& def);

// Refuses (StepFailure start-not-allowed) a start the definition's access.start does not
// allow for this actor and data. system and global admins always may.
void check_start(const Definition& def, const Actor& actor, const json& data,
                 const Calendars* calendars);

// Whether the value of an event's `actors` expression admits `actor`: a string, or an
// array of strings, each the actor's id or one of Actor::keys() ("station:ST01").
bool actors_admit(const json& allowed, const Actor& actor);

}  // namespace bihuan::runtime
