// compile_definition(): schema check, structural pass, semantic checks, one report.
#include <openssl/sha.h>

#include <algorithm>
#include <cstdio>
#include <set>
#include <tuple>

#include "bihuan/expr.hpp"
#include "definition/compile_internal.hpp"
#include "definition/schema_text.hpp"

namespace bihuan {
namespace {

std::string sha256_hex(const std::string& text) {
  unsigned char md[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(text.data()), text.size(), md);
  std::string out;
  char buf[3];
  for (unsigned char c : md) {
    std::snprintf(buf, sizeof buf, "%02x", c);
    out += buf;
  }
  return out;
}

// A specific semantic error at a pointer makes the generic schema echo there noise.
// Only errors shadow: a warning at the same place must not turn an invalid document
// into a valid one.
void drop_shadowed_schema_errors(Problems& problems, std::size_t first) {
  auto& items = problems.items();
  std::set<std::string> specific;
  for (std::size_t i = first; i < items.size(); ++i)
    if (items[i].code != "schema" && items[i].severity == Severity::error)
      specific.insert(items[i].pointer);
  std::vector<Problem> kept(items.begin(), items.begin() + static_cast<std::ptrdiff_t>(first));
  for (std::size_t i = first; i < items.size(); ++i) {
    const auto& p = items[i];
    if (p.code == "schema") {
      bool shadow = std::any_of(specific.begin(), specific.end(), [&](const std::string& s) {
        return s == p.pointer ||
               (s.size() > p.pointer.size() && s.compare(0, p.pointer.size(), p.pointer) == 0 &&
                s[p.pointer.size()] == '/' && p.message.rfind("Failed to", 0) == 0);
      });
      if (shadow) continue;
    }
    if (std::none_of(kept.begin(), kept.end(), [&](const Problem& k) {
          return k.pointer == p.pointer && k.code == p.code && k.message == p.message;
        }))
      kept.push_back(p);
  }
  items = std::move(kept);
}

// The string member `key` of `doc`, or `fallback` when absent or of another type (the
// schema reports the type; json::value() would throw).
std::string string_member(const json& doc, const char* key, std::string fallback) {
  auto it = doc.find(key);
  return it != doc.end() && it->is_string() ? it->get<std::string>() : std::move(fallback);
}

bool mentions_ref(const json& v) {
  if (v.is_object()) {
    if (v.contains("$ref") || v.contains("$dynamicRef") || v.contains("$recursiveRef")) return true;
    for (const auto& [k, x] : v.items())
      if (mentions_ref(x)) return true;
  } else if (v.is_array()) {
    for (const auto& x : v)
      if (mentions_ref(x)) return true;
  }
  return false;
}

// Fills Definition::data_member_schemas when the root of dataSchema lets a member be
// checked on its own (see definition.hpp); otherwise leaves data_schema_by_member false.
void split_data_schema(const json& ds, Definition& def) {
  static const std::set<std::string> kRootKeys = {
      "type",    "properties",  "required", "additionalProperties",
      "title",   "description", "$comment", "$schema",
      "default", "examples"};
  if (!ds.is_object() || ds.value("type", json()) != "object" || mentions_ref(ds)) return;
  for (const auto& [k, v] : ds.items())
    if (!kRootKeys.count(k)) return;
  auto props = ds.find("properties");
  if (props != ds.end() && !props->is_object()) return;
  std::map<std::string, std::shared_ptr<const JsonSchema>, std::less<>> members;
  auto compile = [](const json& sub) {
    Problems ignored;
    return JsonSchema::compile(sub, ignored, "");
  };
  if (props != ds.end())
    for (const auto& [k, v] : props->items()) {
      auto schema = compile(v);
      if (!schema) return;
      members.emplace(k, std::move(schema));
    }
  std::shared_ptr<const JsonSchema> extra_schema;
  if (auto extra = ds.find("additionalProperties"); extra != ds.end() && extra->is_object())
    if (!(extra_schema = compile(*extra))) return;
  def.data_member_schemas = std::move(members);
  def.data_extra_schema = std::move(extra_schema);
  def.data_schema_by_member = true;
}

}  // namespace

const json& definition_schema() {
  static const json schema = json::parse(definition_detail::kDefinitionSchemaText);
  return schema;
}

std::shared_ptr<const Definition> compile_definition(const json& doc, Problems& problems,
                                                     const DefinitionContext& ctx) {
  std::size_t first = problems.items().size();
  static const auto schema = [] {
    Problems p;
    return JsonSchema::compile(definition_schema(), p, "");
  }();
  if (schema) schema->validate(doc, problems, "", "schema");
  if (!doc.is_object()) return nullptr;

  auto def = std::make_shared<Definition>();
  definition_detail::Compiler c{problems, ctx, *def, {}, {}};
  def->id = string_member(doc, "id", "");
  if (auto v = doc.find("version"); v != doc.end() && v->is_number_integer())
    def->version = v->get<std::int64_t>();
  if (auto t = doc.find("title"); t != doc.end()) def->title = *t;
  if (auto t = doc.find("description"); t != doc.end()) def->description = *t;
  def->timezone_name = string_member(doc, "timezone", "Asia/Shanghai");
  if (!def->timezone_name.empty()) {
    Problems tzp(problems.file());
    def->timezone = TimeZone::load(def->timezone_name, &tzp, ctx.tzdir);
    if (!def->timezone)
      problems.error("/timezone", "unknown-timezone",
                     "unknown time zone \"" + def->timezone_name + "\"");
  }
  if (!def->timezone) def->timezone = TimeZone::utc();
  if (auto cal = doc.find("calendar"); cal != doc.end() && cal->is_string()) {
    def->calendar = cal->get<std::string>();
    c.check_calendar(def->calendar, "/calendar");
  }
  if (auto ds = doc.find("dataSchema"); ds != doc.end()) {
    def->data_schema = JsonSchema::compile(*ds, problems, "/dataSchema");
    if (def->data_schema) split_data_schema(*ds, *def);
  }
  if (auto r = doc.find("roles"); r != doc.end() && r->is_array())
    for (const auto& role : *r)
      if (role.is_string()) def->roles.push_back(role.get<std::string>());
  if (auto a = doc.find("access"); a != doc.end() && a->is_object()) {
    def->access.declared = true;
    if (auto u = a->find("unit"); u != a->end()) {
      def->access.unit = *u;
      c.check_expr(*u, "/access/unit");
    }
    if (auto r = a->find("readers"); r != a->end()) {
      def->access.readers = *r;
      c.check_data_expr(*r, "/access/readers");
    }
    if (auto s = a->find("start"); s != a->end()) {
      def->access.start = *s;
      c.check_expr(*s, "/access/start");
    }
  }
  // How long a finished instance is kept (docs/retention.md); read again from `source`.
  if (auto r = doc.find("retention"); r != doc.end()) {
    std::string why;
    if (!r->is_string() || !parse_duration(r->get<std::string>(), &why))
      problems.error("/retention", "bad-retention",
                     "retention must be an ISO 8601 duration such as \"P5Y\" or \"P90D\"" +
                         (why.empty() ? std::string() : ": " + why));
  }
  if (auto st = doc.find("states"); st != doc.end()) c.parse_states(*st, "/states", -1);
  c.resolve_targets();
  std::string initial = string_member(doc, "initial", "");
  def->initial = def->find_state(initial);
  if (def->initial < 0 && doc.contains("initial") && doc["initial"].is_string())
    problems.error("/initial", "unknown-initial",
                   "initial state \"" + initial + "\" is not defined");
  else if (def->initial >= 0 && def->states[def->initial].parent >= 0)
    problems.error("/initial", "unknown-initial", "the initial state must be a top-level state");
  for (const auto& s : def->states)
    if (s.type == StateType::compound && s.initial_child < 0 && s.children.empty())
      problems.error(s.pointer, "empty-compound",
                     "compound state \"" + s.name + "\" has no child states");

  definition_detail::check_graph(*def, problems);
  definition_detail::check_timers(*def, problems);
  definition_detail::check_lints(*def, doc, problems);
  drop_shadowed_schema_errors(problems, first);

  for (std::size_t i = first; i < problems.items().size(); ++i)
    if (problems.items()[i].severity == Severity::error) return nullptr;
  def->source = doc;
  std::string text = doc.dump();
  def->digest = sha256_hex(text);
  def->uses_instance = text.find("instance") != std::string::npos;
  def->uses_now = text.find("now") != std::string::npos;
  return def;
}

std::shared_ptr<const Definition> compile_definition_text(std::string_view text, Problems& problems,
                                                          const DefinitionContext& ctx) {
  std::size_t first = problems.items().size();
  auto doc = load_json(text, problems);
  if (!doc) return nullptr;
  auto def = compile_definition(*doc, problems, ctx);
  Problems located(problems.file());
  for (std::size_t i = first; i < problems.items().size(); ++i) located.add(problems.items()[i]);
  attach_positions(text, located);
  std::stable_sort(located.items().begin(), located.items().end(),
                   [](const Problem& a, const Problem& b) {
                     return std::tie(a.line, a.column) < std::tie(b.line, b.column);
                   });
  std::copy(located.items().begin(), located.items().end(),
            problems.items().begin() + static_cast<std::ptrdiff_t>(first));
  return def;
}

}  // namespace bihuan
