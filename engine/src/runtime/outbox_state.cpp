// Delivery bookkeeping for the dispatcher: acknowledgements, failed attempts, dead letters
// and their retry. Every change is a writer request (Request::outbox_state) applied in a
// group-commit batch like a step; it rewrites only the delivery keys of the stored map
// (n attempts, at next attempt ms, dead, err last error) and never touches the message.
#include "runtime/outbox_state.hpp"

#include <algorithm>
#include <charconv>

#include "runtime/engine_impl.hpp"

namespace bihuan::runtime {

using storage::be64;
using storage::Db;

namespace {

// Request::outbox_state carries its operation in Request::value: "f<ms>" failed attempt
// (next attempt at ms), "d<ms>" failed and dead, "r" retry a dead letter now.
std::string failure_op(TimePoint next, bool dead) {
  return (dead ? "d" : "f") + std::to_string(next.time_since_epoch().count());
}

StepResult refused(StepError e, std::string message) {
  StepResult out;
  out.error = e;
  out.message = std::move(message);
  return out;
}

std::function<void(StepResult)> to_bool(std::function<void(bool)> done) {
  if (!done) return nullptr;
  return [done = std::move(done)](StepResult r) { done(r.ok()); };
}

}  // namespace

std::string text_member(const json& m, const char* key) {
  auto it = m.find(key);
  return it != m.end() && it->is_string() ? it->get<std::string>() : std::string();
}

std::int64_t int_member(const json& m, const char* key, std::int64_t fallback) {
  auto it = m.find(key);
  return it != m.end() && it->is_number_integer() ? it->get<std::int64_t>() : fallback;
}

bool bool_member(const json& m, const char* key) {
  auto it = m.find(key);
  return it != m.end() && it->is_boolean() && it->get<bool>();
}

void read_delivery_state(const json& m, OutboxMessage& msg) {
  msg.attempts = static_cast<std::uint32_t>(std::clamp<std::int64_t>(int_member(m, "n"), 0, UINT32_MAX));
  if (auto it = m.find("at"); it != m.end() && it->is_number_integer())
    msg.next_attempt_at = TimePoint(Millis(it->get<std::int64_t>()));
  msg.dead = bool_member(m, "dead");
  msg.last_error = text_member(m, "err");
}

std::optional<OutboxMessage> decode_outbox(std::uint64_t seq, std::string_view bytes) {
  json m = json::from_msgpack(bytes.begin(), bytes.end(), true, false);
  if (!m.is_object()) return std::nullopt;
  OutboxMessage msg;
  msg.seq = seq;
  msg.kind = text_member(m, "kind");
  msg.channel = text_member(m, "channel");
  msg.instance_id = text_member(m, "instance");
  msg.step = static_cast<std::uint64_t>(std::max<std::int64_t>(0, int_member(m, "step")));
  msg.idempotency_key = text_member(m, "key");
  if (auto it = m.find("body"); it != m.end()) msg.body = *it;
  msg.created_at = TimePoint(Millis(int_member(m, "created")));
  read_delivery_state(m, msg);
  return msg;
}

StepResult EngineImpl::apply_outbox_state(Batch& b, const Request& r) {
  std::string key = be64(r.id);
  int rc = 0;
  auto bytes = b.txn.get(Db::outbox, key, rc);
  if (rc) {
    b.note(rc);
    return refused(StepError::storage_unavailable, "outbox message " + std::to_string(r.id) + " cannot be read");
  }
  if (!bytes) return refused(StepError::not_found, "outbox message " + std::to_string(r.id) + " does not exist");
  json m = json::from_msgpack(bytes->begin(), bytes->end(), true, false);
  if (!m.is_object()) return refused(StepError::invalid_request, "outbox message " + std::to_string(r.id) + " does not decode");
  const std::string& op = r.value;
  if (op == "r") {
    if (!bool_member(m, "dead")) return refused(StepError::invalid_request, "outbox message " + std::to_string(r.id) + " is not a dead letter");
    m["dead"] = false;
    m["n"] = 0;
    m["at"] = b.now.time_since_epoch().count();
  } else if (!op.empty() && (op[0] == 'f' || op[0] == 'd')) {
    std::int64_t at = 0;
    std::from_chars(op.data() + 1, op.data() + op.size(), at);
    m["n"] = std::max<std::int64_t>(0, int_member(m, "n")) + 1;
    m["at"] = at;
    m["err"] = r.text.size() > 4000 ? r.text.substr(0, 4000) : r.text;
    m["dead"] = op[0] == 'd';
  } else {
    return refused(StepError::invalid_request, "unknown outbox operation");
  }
  auto out = json::to_msgpack(m);
  rc = b.txn.put(Db::outbox, key, std::string_view(reinterpret_cast<const char*>(out.data()), out.size()));
  b.note(rc);
  return {};
}

void EngineImpl::ack_outbox_async(std::uint64_t seq, std::function<void(bool)> done) {
  submit(Request{Request::ack, {}, {}, seq, {}, {}, {}, to_bool(std::move(done))});
}

bool EngineImpl::record_delivery_failure(std::uint64_t seq, const std::string& error, TimePoint next_attempt_at,
                                         bool dead) {
  return submit_and_wait(Request{Request::outbox_state, {}, {}, seq, error, failure_op(next_attempt_at, dead), {}, nullptr}).ok();
}

void EngineImpl::record_delivery_failure_async(std::uint64_t seq, std::string error, TimePoint next_attempt_at,
                                               bool dead, std::function<void(bool)> done) {
  submit(Request{Request::outbox_state, {}, {}, seq, std::move(error), failure_op(next_attempt_at, dead), {},
                 to_bool(std::move(done))});
}

bool EngineImpl::retry_dead_letter(std::uint64_t seq) {
  return submit_and_wait(Request{Request::outbox_state, {}, {}, seq, {}, "r", {}, nullptr}).ok();
}

std::vector<OutboxMessage> EngineImpl::dead_letters(std::size_t limit, std::uint64_t after_seq) const {
  std::vector<OutboxMessage> out;
  while (out.size() < limit) {
    auto page = outbox(512, after_seq);
    if (page.empty()) break;
    after_seq = page.back().seq;
    for (auto& m : page)
      if (m.dead && out.size() < limit) out.push_back(std::move(m));
  }
  return out;
}

}  // namespace bihuan::runtime
