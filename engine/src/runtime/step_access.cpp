// A record's access (unit and reader keys) from its definition's `access` block, and the
// start rule (docs/authorization.md).
#include <algorithm>
#include <set>
#include <string_view>

#include "runtime/expressions.hpp"
#include "runtime/step_access.hpp"

namespace bihuan::runtime {
namespace {

constexpr std::size_t kMaxUnitBytes = 400, kMaxUnitSegments = 16;
constexpr std::size_t kMaxReaderKeys = 64, kMaxReaderKeyBytes = 256;

[[noreturn]] void bad(const std::string& where, const std::string& what) {
  fail(StepError::expression_error, where + ": " + what);
}

std::string check_unit(const json& v, const std::string& where) {
  if (v.is_null()) return "";
  if (!v.is_string()) bad(where, "the unit must be a string path or null, not " + v.dump());
  std::string u = v.get<std::string>();
  if (u.empty()) return u;
  if (u.size() > kMaxUnitBytes)
    bad(where, "the unit path has " + std::to_string(u.size()) + " bytes; at most " +
                   std::to_string(kMaxUnitBytes));
  std::size_t segments = 1, start = 0;
  for (std::size_t i = 0; i <= u.size(); ++i) {
    if (i < u.size() && static_cast<unsigned char>(u[i]) < 0x20)
      bad(where, "the unit path \"" + u + "\" holds a control character");
    if (i == u.size() || u[i] == '/') {
      if (i == start) bad(where, "the unit path \"" + u + "\" has an empty segment");
      if (i < u.size()) ++segments;
      start = i + 1;
    }
  }
  if (segments > kMaxUnitSegments)
    bad(where, "the unit path \"" + u + "\" has " + std::to_string(segments) +
                   " segments; at most " + std::to_string(kMaxUnitSegments));
  return u;
}

void collect_keys(const json& v, const std::string& where, std::vector<std::string>& out) {
  if (v.is_null()) return;
  if (v.is_array()) {
    for (const auto& e : v) collect_keys(e, where, out);
    return;
  }
  if (!v.is_string()) bad(where, "reader keys must be strings, not " + v.dump());
  const auto& k = v.get_ref<const std::string&>();
  if (k.empty()) return;
  if (k.size() > kMaxReaderKeyBytes)
    bad(where, "the reader key \"" + k.substr(0, 40) + "...\" has " + std::to_string(k.size()) +
                   " bytes; at most " + std::to_string(kMaxReaderKeyBytes));
  if (k.find('\0') != std::string::npos) bad(where, "a reader key holds a NUL character");
  out.push_back(k);
}

// Operators whose value depends on their arguments alone (and the scope, for var,
// missing and missing_some, handled by the scan).
bool pure_operator(std::string_view op) {
  static const std::set<std::string_view> impure = {"now", "time_add", "time_diff", "time_before",
                                                    "log"};
  return !impure.count(op);
}

// Adds to `out` what `e` reads of the root context (in_item: inside the per-item rule of
// map, filter, all, none, some or reduce, where var reads the item, not the root). Any
// value that is not one operator (a data expression's object, an array) is scanned
// member by member, so a rule and a data expression (Expressions::build) read alike.
void scan_access_reads(const json& e, bool in_item, AccessReads& out) {
  if (!out.pure) return;
  if (e.is_array()) {
    for (const auto& x : e) scan_access_reads(x, in_item, out);
    return;
  }
  if (!e.is_object()) return;
  if (e.size() != 1 || !expr::is_operator(e.begin().key())) {
    for (const auto& [k, v] : e.items()) scan_access_reads(v, in_item, out);
    return;
  }
  const std::string& op = e.begin().key();
  const json& args = e.begin().value();
  if (!pure_operator(op)) {
    out.pure = false;
    return;
  }
  if (op == "var") {
    const json* path = args.is_array() ? (args.empty() ? nullptr : &args[0]) : &args;
    if (args.is_array())  // the default is evaluated in this scope too
      for (std::size_t i = 1; i < args.size(); ++i) scan_access_reads(args[i], in_item, out);
    if (in_item) return;
    if (!path || !path->is_string()) {
      out.pure = false;  // the whole context, or a computed path
      return;
    }
    const auto& p = path->get_ref<const std::string&>();
    if (p == "data") {
      out.all_data = true;
    } else if (p.rfind("data.", 0) == 0) {
      out.members.insert(p.substr(5, p.find('.', 5) - 5));
    } else {
      out.pure = false;  // "instance..." (its version changes each step), or anything else
    }
    return;
  }
  if ((op == "missing" || op == "missing_some") && !in_item) {
    out.pure = false;  // computed keys over the root
    return;
  }
  bool iterates = op == "map" || op == "filter" || op == "all" || op == "none" || op == "some" ||
                  op == "reduce";
  if (!iterates || !args.is_array()) {
    scan_access_reads(args, in_item, out);
    return;
  }
  for (std::size_t i = 0; i < args.size(); ++i) scan_access_reads(args[i], in_item || i == 1, out);
}

}  // namespace

bool AccessReads::touched_by(const std::vector<std::string>& changed) const {
  if (!pure) return true;
  for (const auto& m : changed)
    if (m.empty() || all_data || members.count(m)) return true;
  return false;
}

AccessReads access_reads(const Definition& def) {
  AccessReads out;
  if (!def.access.unit && !def.access.readers) return out;  // the open default
  if (def.access.unit) scan_access_reads(*def.access.unit, false, out);
  if (def.access.readers) scan_access_reads(*def.access.readers, false, out);
  return out;
}

void compute_access(InstanceRecord& r, const Definition& def, const Calendars* calendars) {
  if (!def.access.unit && !def.access.readers) {
    r.unit.clear();
    r.readers = {"*"};
    return;
  }
  Expressions ex(def, calendars);
  // The data is lent to the context and given back, never copied.
  json ctx(json::value_t::object);
  ctx["data"] = std::move(r.data);
  ctx["instance"] = {{"id", id_to_text(r.id)},
                     {"businessKey", r.business_key},
                     {"definition", r.definition},
                     {"version", r.version},
                     {"state", def.states[r.state].name}};
  struct GiveBack {
    InstanceRecord& r;
    json& ctx;
    ~GiveBack() { r.data = std::move(ctx["data"]); }
  } give_back{r, ctx};
  std::string unit;
  if (def.access.unit)
    unit = check_unit(ex.eval(*def.access.unit, ctx, "/access/unit"), "/access/unit");
  std::vector<std::string> keys;
  if (def.access.readers)
    collect_keys(ex.build(*def.access.readers, ctx, "/access/readers"), "/access/readers", keys);
  std::sort(keys.begin(), keys.end());
  keys.erase(std::unique(keys.begin(), keys.end()), keys.end());
  if (keys.size() > kMaxReaderKeys)
    bad("/access/readers",
        std::to_string(keys.size()) + " reader keys; at most " + std::to_string(kMaxReaderKeys));
  r.unit = std::move(unit);
  r.readers = std::move(keys);
}

void check_start(const Definition& def, const Actor& actor, const json& data,
                 const Calendars* calendars) {
  if (!def.access.start || actor.is_system() || actor.global_admin()) return;
  Expressions ex(def, calendars);
  json ctx = {{"actor", actor.to_json()}, {"data", data}};
  if (!ex.test(*def.access.start, ctx, "/access/start"))
    fail(StepError::start_not_allowed,
         "actor \"" + actor.id + "\" may not start " + def.id + " with this data (access.start)");
}

bool actors_admit(const json& allowed, const Actor& actor) {
  std::vector<std::string> keys;  // made once, if a key (text with ':') is named
  auto admits = [&](const json& a) {
    if (!a.is_string()) return false;
    const auto& text = a.get_ref<const std::string&>();
    if (text == actor.id) return true;
    if (text.find(':') == std::string::npos) return false;
    if (keys.empty()) keys = actor.keys();
    return std::binary_search(keys.begin(), keys.end(), text);
  };
  return allowed.is_array() ? std::any_of(allowed.begin(), allowed.end(), admits) : admits(allowed);
}

}  // namespace bihuan::runtime
