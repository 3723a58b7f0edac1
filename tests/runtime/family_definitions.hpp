// Definitions shared by the runtime tests: a parent that spawns one child per item and
// hears when each ends, and the child (deadline, an event only its owner may send, a
// message from the parent).
#pragma once

namespace bihuan::testing {

inline const char* kParent = R"({
  "id": "t.parent", "version": 1, "initial": "RUN",
  "states": {
    "RUN": {
      "onEntry": [{"spawn": "t.child", "forEach": {"var": "data.items"},
                   "data": {"name": {"var": "item"}, "owner": {"var": "data.owner"}, "n": {"var": "index"}},
                   "businessKey": {"cat": ["child:", {"var": "item"}]}, "onDone": "child_done"}],
      "on": {
        "child_done": {"roles": ["system"], "transitions": [
          {"guard": {">=": [{"+": [{"var": "data.done"}, 1]}, {"count": [{"var": "data.items"}]}]},
           "target": "ALL_DONE", "set": {"/done": {"+": [{"var": "data.done"}, 1]}}},
          {"else": true, "set": {"/done": {"+": [{"var": "data.done"}, 1]},
                                  "/outcomes/-": {"var": "event.payload.outcome"}}}]},
        "poke": {"roles": ["ADMIN"], "actions": [{"send": "poked", "toBusinessKey": {"cat": ["child:", {"var": "event.payload.which"}]},
                                                   "payload": {"by": {"var": "actor.id"}}}]}
      }
    },
    "ALL_DONE": {"type": "final", "outcome": "all-done"}
  }
})";

inline const char* kChild = R"({
  "id": "t.child", "version": 1, "initial": "TODO",
  "states": {
    "TODO": {
      "deadline": {"after": "P5D", "overdue": {"set": {"/late": true}}},
      "on": {
        "finish": {"roles": ["WORKER"], "actors": {"var": "data.owner"}, "target": "DONE"},
        "poked": {"roles": ["system"], "set": {"/pokedBy": {"var": "event.payload.by"}}}
      }
    },
    "DONE": {"type": "final", "outcome": "finished"}
  }
})";

}  // namespace bihuan::testing
