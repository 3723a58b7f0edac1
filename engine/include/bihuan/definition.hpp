// Workflow definitions: the compiled, immutable form of a definition document
// (docs/definition-language.md), and the validator that turns a document into one.
//
// compile_definition() reports *all* problems it finds (schema, semantics, expressions,
// durations, calendars) with JSON Pointers; it returns a Definition only when there is no
// error. A Definition is immutable and shared (std::shared_ptr<const Definition>) by every
// instance that runs on it; it is safe to use from any thread.
#pragma once

#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "bihuan/json.hpp"
#include "bihuan/problem.hpp"
#include "bihuan/schema.hpp"
#include "bihuan/time.hpp"

namespace bihuan {

enum class ActionKind { notify, task, spawn, send };

struct ActionSpec {
  ActionKind kind = ActionKind::notify;
  std::string name;  // notifier / task handler / definition id / event name
  json spec;         // the whole action object; the runtime reads its keys
  std::string pointer;
};

struct TransitionSpec {
  std::optional<json> guard;
  bool is_else = false;
  int target = -1;  // state index; -1 = internal transition (stay, no exit/entry)
  std::vector<std::pair<std::string, json>> set;  // (JSON Pointer into data, expression)
  std::vector<ActionSpec> actions;
  std::string pointer;
};

struct EventSpec {
  std::string name;
  json title;
  std::vector<std::string> roles;  // empty = any actor
  std::optional<json> actors;      // JsonLogic: allowed actor id(s)
  std::shared_ptr<const JsonSchema> payload_schema;
  json reject_message;
  std::vector<TransitionSpec> transitions;
  std::string pointer;
  bool human() const;  // has a role other than "system"
};

// When a timer fires, relative to what.
enum class TimerAnchor { entry, deadline };

struct TimerSpec {
  std::string id;  // unique in the state ("deadline.remind.0" for expansions)
  TimerAnchor anchor = TimerAnchor::entry;
  std::optional<json> after;  // duration text or expression yielding one
  std::optional<json> at;     // expression yielding ISO time
  std::optional<Duration> every;
  std::uint32_t limit = 0;    // 0 = unlimited (with every)
  std::string calendar;       // non-empty: day units count working days of this calendar
  std::string event;          // fire this event, or:
  TransitionSpec transition;  // act directly (target/guard/set/actions)
  std::string pointer;
};

struct DeadlineSpec {
  std::optional<json> after;
  std::optional<json> at;
  std::string calendar;
  std::string pointer;
};

// The definition's `access` block (docs/authorization.md): who may see its instances and
// who may start one. Absent members: the open default (unit "", readers ["*"], any starter).
struct AccessSpec {
  std::optional<json> unit;     // JsonLogic over {data, instance}: the unit path
  std::optional<json> readers;  // data expression over {data, instance}: reader key(s)
  std::optional<json> start;    // JsonLogic over {actor, data}: truthy = may start
  bool declared = false;        // the definition has an `access` block
};

enum class StateType { atomic, compound, final_state };

struct StateSpec {
  std::string name;
  int index = -1;
  int parent = -1;
  StateType type = StateType::atomic;
  json title;
  std::string category;
  std::string outcome;
  int initial_child = -1;
  std::vector<int> children;
  std::map<std::string, EventSpec> on;
  std::optional<DeadlineSpec> deadline;
  std::vector<TimerSpec> timers;  // own timers + deadline expansions
  std::vector<ActionSpec> on_entry, on_exit;
  std::string pointer;
};

class Definition {
 public:
  std::string id;
  std::int64_t version = 0;
  json title, description;
  std::string timezone_name;
  std::shared_ptr<const TimeZone> timezone;
  std::string calendar;  // default working-day calendar id ("" = none)
  std::shared_ptr<const JsonSchema> data_schema;
  // dataSchema split by top-level member, when its root is a plain object schema (only
  // type, properties, required, additionalProperties and annotations; no $ref): a step
  // whose "set" changed only existing members, or added ones the root admits (declared,
  // or under additionalProperties), then re-checks just those (runtime/step.cpp, take).
  std::map<std::string, std::shared_ptr<const JsonSchema>, std::less<>> data_member_schemas;
  std::shared_ptr<const JsonSchema> data_extra_schema;  // additionalProperties, when a schema
  bool data_schema_by_member = false;
  std::vector<std::string> roles;
  AccessSpec access;
  int initial = -1;
  std::vector<StateSpec> states;  // index = StateSpec::index; parents before children
  json source;                    // the document as deployed
  std::string digest;             // SHA-256 hex of the canonical source
  // Whether any expression or template may read "instance" / "now" (a conservative text
  // scan of the source): steps skip building what nothing reads.
  bool uses_instance = true, uses_now = true;

  int find_state(const std::string& name) const;  // -1 if none
  // The state to rest in after entering `index` (follows compound initials down).
  int resolve_entry(int index) const;
  // Innermost-first chain: index, parent, grandparent...
  std::vector<int> ancestry(int index) const;
  // The event spec handling `event` in `state` (innermost wins), or nullptr.
  const EventSpec* find_event(int state, const std::string& event) const;
  // Names of events that the instance in `state` can receive.
  std::vector<const EventSpec*> events_in(int state) const;
};

// What a definition is checked against beyond itself. Null pointers mean "not checked".
struct DefinitionContext {
  const Calendars* calendars = nullptr;
  const std::set<std::string>* notifiers = nullptr;
  const std::set<std::string>* task_handlers = nullptr;
  const std::set<std::string>* definitions = nullptr;  // ids spawnable
  std::string tzdir = "/usr/share/zoneinfo";
};

// Compiles a parsed document. Adds every problem found; returns nullptr on any error.
std::shared_ptr<const Definition> compile_definition(const json& doc, Problems& problems,
                                                     const DefinitionContext& ctx);

// Parses and compiles definition text, attaching line:column to every problem.
std::shared_ptr<const Definition> compile_definition_text(std::string_view text, Problems& problems,
                                                          const DefinitionContext& ctx);

// The state graph as Graphviz DOT ("dot") or Mermaid ("mermaid") text; nullopt for any
// other format.
std::optional<std::string> render_graph(const Definition& def, const std::string& format);

// The JSON Schema of the language (workflows/schema/definition.schema.json, compiled in).
const json& definition_schema();

}  // namespace bihuan
