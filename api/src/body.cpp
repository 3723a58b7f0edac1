// Checks of JSON request bodies shared by the routes: members, their types, and the
// members of a migration (one instance or a plan).
#include "context.hpp"

namespace bihuan::api {

std::optional<json> object_body(const Call& call, Reply& error, const json* empty_default) {
  auto body = body_json(call, error, empty_default);
  if (body && !body->is_object()) {
    error = problem(422, "wrong-type", "the body must be a JSON object",
                    {{"", "type", "expected an object"}});
    return std::nullopt;
  }
  return body;
}

// Rejects members other than `known` with the pointer of each.
std::optional<Reply> unknown_members(const json& body, std::initializer_list<const char*> known) {
  std::vector<FieldError> errors;
  std::string list;
  for (const char* k : known) list += (list.empty() ? "" : ", ") + std::string(k);
  for (auto it = body.begin(); it != body.end(); ++it) {
    bool ok = false;
    for (const char* k : known) ok = ok || it.key() == k;
    if (!ok)
      errors.push_back({"/" + pointer_escape(it.key()), "unknown-member",
                        "unknown member (expected one of: " + list + ")"});
  }
  if (errors.empty()) return std::nullopt;
  std::string detail = "the body has a member this request does not take: " + errors[0].pointer;
  return problem(422, "unknown-member", detail, std::move(errors));
}

std::optional<Reply> expect_type(const json& body, const char* key, json::value_t type,
                                 const char* what, bool required) {
  if (!body.contains(key)) {
    if (!required) return std::nullopt;
    return problem(422, "missing-member",
                   std::string("the body needs \"") + key + "\" (" + what + ")",
                   {{std::string("/") + key, "required", std::string("expected ") + what}});
  }
  const json& v = body[key];
  bool ok = v.type() == type || (type == json::value_t::number_integer && v.is_number_unsigned());
  if (!ok)
    return problem(422, "wrong-type", std::string("\"") + key + "\" must be " + what,
                   {{std::string("/") + key, "type",
                     std::string("expected ") + what + ", got " + v.type_name()}});
  return std::nullopt;
}

std::optional<Reply> migrate_members(const json& body, MigrateRequest& req) {
  if (auto bad =
          expect_type(body, "states", json::value_t::object, "an object of state names", false))
    return bad;
  if (auto bad = expect_type(body, "set", json::value_t::object,
                             "an object of JSON Pointer: expression", false))
    return bad;
  if (auto bad = expect_type(body, "reason", json::value_t::string, "a string", false)) return bad;
  if (auto bad = expect_type(body, "dryRun", json::value_t::boolean, "true or false", false))
    return bad;
  if (auto it = body.find("toVersion"); it != body.end()) {
    if (!it->is_number_integer() || it->get<std::int64_t>() < 1)
      return problem(422, "wrong-type", "toVersion must be a deployed version number",
                     {{"/toVersion", "type", "expected an integer >= 1"}});
    req.to_version = it->get<std::int64_t>();
  }
  if (auto it = body.find("states"); it != body.end())
    for (auto s = it->begin(); s != it->end(); ++s) {
      if (!s.value().is_string())
        return problem(422, "wrong-type", "states maps a state name to a state name",
                       {{"/states/" + pointer_escape(s.key()), "type", "expected a state name"}});
      req.states.emplace(s.key(), s.value().get<std::string>());
    }
  if (auto it = body.find("set"); it != body.end())
    for (auto s = it->begin(); s != it->end(); ++s) req.set.emplace_back(s.key(), s.value());
  req.reason = body.value("reason", "");
  req.dry_run = body.value("dryRun", false);
  return std::nullopt;
}

}  // namespace bihuan::api
