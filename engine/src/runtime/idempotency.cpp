// Idempotency records: keys, encoding, and the checks a replay passes (idempotency.hpp).
#include "runtime/idempotency.hpp"

#include <algorithm>

#include "runtime/batch.hpp"
#include "runtime/failure.hpp"
#include "runtime/msgpack.hpp"

namespace bihuan::runtime::idem {

using storage::be64;
using storage::Db;

namespace {

std::string actor_part(const std::string& actor_id) { return sha256_hex(actor_id).substr(0, 32); }

// Old records (before requests were recorded): one key for every caller.
std::string legacy_start_key(const std::string& key) {
  std::string k = "s";
  k += '\0';
  k += key;
  return k;
}

std::string legacy_event_key(std::uint64_t id, const std::string& key) {
  std::string k = "e";
  k += '\0';
  k += be64(id);
  k += key;
  return k;
}

std::string dump(const json& j) { return j.dump(-1, ' ', false, json::error_handler_t::replace); }
std::string digest(const json& j) { return sha256_hex(dump(j)); }
std::string legacy_fingerprint(const std::string& event, const json& payload) {
  return sha256_hex(event + '\0' + dump(payload));
}

// Reads one record; a failed read or an undecodable record refuses the step.
std::optional<std::string_view> read(Batch& b, const std::string& key,
                                     const std::string& idem_key) {
  int rc = 0;
  auto v = b.txn.get(Db::idem, key, rc);
  if (rc)
    fail(StepError::storage_unavailable,
         "the record of idempotency key \"" + idem_key +
             "\" cannot be read: " + storage::error_text(rc) + "; nothing was applied, retry",
         {{"code", rc}});
  return v;
}

[[noreturn]] void damaged(const std::string& idem_key) {
  fail(StepError::record_damaged,
       "the stored record of idempotency key \"" + idem_key +
           "\" is damaged; nothing was applied (bihuan verify lists it)");
}

std::optional<IdemRecord> decode(std::string_view bytes) {
  msgpack::Reader in(bytes);
  auto n = in.map();
  if (!n) return std::nullopt;
  IdemRecord r;
  bool has_id = false, has_version = false;
  auto text = [&](std::string& out) {
    auto s = in.str();
    if (s) out.assign(*s);
    return s.has_value();
  };
  for (std::uint32_t i = 0; i < *n; ++i) {
    auto k = in.str();
    if (!k) return std::nullopt;
    bool ok = true;
    if (*k == "i") {
      auto v = in.integer();
      ok = has_id = v.has_value();
      if (ok) r.instance = static_cast<std::uint64_t>(*v);
    } else if (*k == "n") {
      auto v = in.integer();
      ok = has_version = v.has_value() && *v > 0;
      if (ok) r.version = static_cast<std::uint64_t>(*v);
    } else if (*k == "s") {
      ok = text(r.state);
    } else if (*k == "st") {
      auto v = in.integer();
      ok = v && *v >= 0 && *v <= 2;
      if (ok) r.status = static_cast<InstanceStatus>(*v);
    } else if (*k == "o") {
      ok = text(r.outcome);
    } else if (*k == "v") {
      auto v = in.integer();
      ok = v.has_value();
      if (ok) r.definition_version = *v;
    } else if (*k == "u") {
      auto v = in.integer();
      ok = v.has_value();
      if (ok) r.updated_ms = *v;
    } else if (*k == "dl") {
      auto v = in.integer();
      ok = v.has_value();
      if (ok) r.deadline_ms = *v;
    } else if (*k == "d") {
      ok = text(r.definition);
    } else if (*k == "rv") {
      auto v = in.integer();
      ok = v.has_value();
      if (ok) r.requested_version = *v;
    } else if (*k == "k") {
      ok = text(r.business_key);
    } else if (*k == "x") {
      ok = text(r.body_digest);
    } else if (*k == "e") {
      ok = text(r.event);
    } else if (*k == "ev") {
      auto v = in.integer();
      ok = v.has_value() && *v >= 0;
      if (ok) r.expected_version = static_cast<std::uint64_t>(*v);
    } else if (*k == "r") {
      auto m = in.array();
      ok = m.has_value();
      for (std::uint32_t j = 0; ok && j < *m; ++j) ok = text(r.roles.emplace_back());
    } else {
      ok = in.skip();  // a member a later build added
    }
    if (!ok) return std::nullopt;
  }
  if (!has_id || !has_version || !in.done()) return std::nullopt;
  return r;
}

json differs(const char* pointer, std::string message) {
  return {{"pointer", pointer}, {"code", "differs"}, {"message", std::move(message)}};
}

std::string quoted(const std::string& s) { return "\"" + s + "\""; }

[[noreturn]] void reused(const std::string& key, json problems) {
  std::string parts;
  for (const auto& p : problems)
    parts += (parts.empty() ? "" : ", ") + p["pointer"].get<std::string>();
  fail(StepError::idempotency_key_reused,
       "idempotency key \"" + key + "\" was already used for a different request (it differs in " +
           parts + "); use a new key for a new request",
       {{"problems", std::move(problems)}});
}

}  // namespace

std::optional<IdemRecord> decode_record(std::string_view bytes) { return decode(bytes); }

std::string start_key(const std::string& actor_id, const std::string& key) {
  std::string k = "S";
  k += '\0';
  k += actor_part(actor_id);
  k += key;
  return k;
}

std::string event_key(std::uint64_t instance, const std::string& actor_id, const std::string& key) {
  std::string k = "E";
  k += '\0';
  k += be64(instance);
  k += actor_part(actor_id);
  k += key;
  return k;
}

std::optional<IdemRecord> find_start(Batch& b, const StartRequest& req) {
  if (auto v = read(b, start_key(req.actor.id, req.idempotency_key), req.idempotency_key)) {
    auto r = decode(*v);
    if (!r) damaged(req.idempotency_key);
    return r;
  }
  if (auto v = read(b, legacy_start_key(req.idempotency_key), req.idempotency_key)) {
    if (v->size() != 8) damaged(req.idempotency_key);
    IdemRecord r;
    r.legacy = true;
    r.instance = storage::read_be64(*v);
    return r;
  }
  return std::nullopt;
}

std::optional<IdemRecord> find_event(Batch& b, std::uint64_t instance, const EventRequest& req) {
  if (auto v =
          read(b, event_key(instance, req.actor.id, req.idempotency_key), req.idempotency_key)) {
    auto r = decode(*v);
    if (!r || r->instance != instance) damaged(req.idempotency_key);
    return r;
  }
  if (auto v = read(b, legacy_event_key(instance, req.idempotency_key), req.idempotency_key)) {
    IdemRecord r;
    r.legacy = true;
    r.instance = instance;
    r.legacy_fingerprint.assign(*v);
    return r;
  }
  return std::nullopt;
}

namespace {
void set_result(IdemRecord& r, const InstanceView& after) {
  r.instance = *id_from_text(after.id);
  r.version = after.version;
  r.state = after.state;
  r.status = after.status;
  r.outcome = after.outcome;
  r.definition_version = after.definition_version;
  r.updated_ms = after.updated_at.time_since_epoch().count();
  if (after.deadline) r.deadline_ms = after.deadline->time_since_epoch().count();
}
}  // namespace

IdemRecord of_start(const StartRequest& req, const InstanceView& after) {
  IdemRecord r;
  r.definition = req.definition;
  r.requested_version = req.version;
  r.business_key = req.business_key;
  r.body_digest = digest(req.data);
  set_result(r, after);
  return r;
}

IdemRecord of_event(const EventRequest& req, const std::vector<std::string>& roles,
                    const InstanceView& after) {
  IdemRecord r;
  r.event = req.event;
  r.body_digest = digest(req.payload);
  r.expected_version = req.expected_version;
  r.roles = roles;
  set_result(r, after);
  return r;
}

std::string encode(const IdemRecord& r) {
  std::string out;
  {
    bool start = !r.definition.empty();
    // i n s st v u x, then d k (start) or e r (event), then the optional members.
    std::uint32_t n = 9 + (r.outcome.empty() ? 0 : 1) + (r.deadline_ms ? 1 : 0) +
                      (start ? (r.requested_version ? 1 : 0) : (r.expected_version ? 1 : 0));
    msgpack::Writer w(out);
    w.map(n);
    w.str("i"), w.uint(r.instance);
    w.str("n"), w.uint(r.version);
    w.str("s"), w.str(r.state);
    w.str("st"), w.uint(static_cast<std::uint64_t>(r.status));
    if (!r.outcome.empty()) w.str("o"), w.str(r.outcome);
    w.str("v"), w.sint(r.definition_version);
    w.str("u"), w.sint(r.updated_ms);
    if (r.deadline_ms) w.str("dl"), w.sint(*r.deadline_ms);
    w.str("x"), w.str(r.body_digest);
    if (start) {
      w.str("d"), w.str(r.definition);
      if (r.requested_version) w.str("rv"), w.sint(*r.requested_version);
      w.str("k"), w.str(r.business_key);
    } else {
      w.str("e"), w.str(r.event);
      if (r.expected_version) w.str("ev"), w.uint(*r.expected_version);
      w.str("r"), w.array(static_cast<std::uint32_t>(r.roles.size()));
      for (const auto& role : r.roles) w.str(role);
    }
    w.finish();
  }
  return out;
}

void check_same_start(const IdemRecord& r, const StartRequest& req, const InstanceView& current) {
  json problems = json::array();
  const std::string& definition = r.legacy ? current.definition : r.definition;
  const std::string& business_key = r.legacy ? current.business_key : r.business_key;
  if (req.definition != definition)
    problems.push_back(differs("/definition", "the key started a " + quoted(definition) +
                                                  " instance, not " + quoted(req.definition)));
  if (!r.legacy && req.version != r.requested_version)
    problems.push_back(differs(
        "/version", "the key asked for " + (r.requested_version
                                                ? "version " + std::to_string(*r.requested_version)
                                                : std::string("the latest version"))));
  if (req.business_key != business_key)
    problems.push_back(
        differs("/businessKey",
                business_key.empty()
                    ? std::string("the key started an instance without a business key")
                    : "the key started an instance with business key " + quoted(business_key)));
  if (!r.legacy && digest(req.data) != r.body_digest)
    problems.push_back(
        differs("/data", "the data differs from the data the key started an instance with"));
  if (!problems.empty()) reused(req.idempotency_key, std::move(problems));
}

void check_same_event(const IdemRecord& r, const EventRequest& req) {
  json problems = json::array();
  if (r.legacy) {
    if (legacy_fingerprint(req.event, req.payload) != r.legacy_fingerprint)
      problems.push_back(differs("/event", "the key was used for a different event or payload"));
  } else {
    if (req.event != r.event)
      problems.push_back(differs("/event", "the key was used for event " + quoted(r.event) +
                                               ", not " + quoted(req.event)));
    if (digest(req.payload) != r.body_digest)
      problems.push_back(
          differs("/payload", "the payload differs from the payload sent with this key"));
    if (req.expected_version != r.expected_version)
      problems.push_back(differs(
          "header:If-Match",
          r.expected_version
              ? "the key was used with expected version " + std::to_string(*r.expected_version)
              : std::string("the key was used without an expected version")));
  }
  if (!problems.empty()) reused(req.idempotency_key, std::move(problems));
}

void authorize_event(const IdemRecord& r, const EventRequest& req, const Definition& def) {
  auto allowed = [&](const std::vector<std::string>& roles) {
    return roles.empty() || std::any_of(roles.begin(), roles.end(), [&](const std::string& role) {
             return req.actor.has_role(role);
           });
  };
  if (!r.legacy) {
    if (!allowed(r.roles))
      fail(StepError::role_not_allowed,
           "event \"" + r.event + "\" needs one of the roles " + json(r.roles).dump(),
           {{"required", r.roles}});
    return;
  }
  // An old record does not say where the event was accepted: any state that accepts it.
  std::vector<std::string> required;
  for (int s = 0; s < static_cast<int>(def.states.size()); ++s) {
    const EventSpec* ev = def.find_event(s, req.event);
    if (!ev) continue;
    if (allowed(ev->roles)) return;
    for (const auto& role : ev->roles)
      if (std::find(required.begin(), required.end(), role) == required.end())
        required.push_back(role);
  }
  fail(StepError::role_not_allowed,
       "event \"" + req.event + "\" needs one of the roles " + json(required).dump(),
       {{"required", required}});
}

InstanceView replay_view(const IdemRecord& r, InstanceView current, bool& moved_on) {
  moved_on = false;
  if (r.legacy || current.version == r.version) return current;
  moved_on = true;
  current.version = r.version;
  current.state = r.state;
  current.status = r.status;
  current.outcome = r.outcome;
  current.definition_version = r.definition_version;
  current.updated_at = TimePoint(Millis(r.updated_ms));
  current.deadline.reset();
  if (r.deadline_ms) current.deadline = TimePoint(Millis(*r.deadline_ms));
  current.data = nullptr;
  return current;
}

}  // namespace bihuan::runtime::idem
