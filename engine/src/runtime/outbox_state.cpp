// Delivery bookkeeping for the dispatcher: acknowledgements, failed attempts, dead letters
// and their retry, and the outbox reads. Every change is a writer request (Request::ack,
// Request::outbox_state) applied in a group-commit batch like a step; it rewrites only the
// delivery keys of the stored map (n attempts, at next attempt ms, dead, err last error),
// never the message, and keeps the two structures beside the records in the same
// transaction (docs/storage.md):
//   outbox      be64(seq) -> message waiting or retrying
//   outbox_due  channel \0 be64(due ms) be64(seq) -> "", exactly one per `outbox` record
//   dead        be64(seq) -> dead letter (not in `outbox`, no due key)
#include "runtime/outbox_state.hpp"

#include <algorithm>
#include <charconv>
#include <limits>

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
  msg.attempts =
      static_cast<std::uint32_t>(std::clamp<std::int64_t>(int_member(m, "n"), 0, UINT32_MAX));
  if (auto it = m.find("at"); it != m.end() && it->is_number_integer())
    msg.next_attempt_at = TimePoint(Millis(it->get<std::int64_t>()));
  msg.dead = bool_member(m, "dead");
  msg.last_error = text_member(m, "err");
}

std::string outbox_due_key(std::string_view channel, std::int64_t due_ms, std::uint64_t seq) {
  std::string k;
  k.reserve(channel.size() + 17);
  k.append(channel);
  k.push_back('\0');
  k += be64(static_cast<std::uint64_t>(std::max<std::int64_t>(due_ms, 0)));
  k += be64(seq);
  return k;
}

std::int64_t outbox_due_ms(const json& m) {
  auto it = m.find("at");
  return it != m.end() && it->is_number_integer() ? it->get<std::int64_t>()
                                                  : int_member(m, "created");
}

std::string outbox_due_key_of(const json& m, std::uint64_t seq) {
  return outbox_due_key(text_member(m, "channel"), outbox_due_ms(m), seq);
}

std::optional<OutboxMessage> decode_outbox(std::uint64_t seq, std::string_view bytes) {
  json m = json::from_msgpack(bytes.begin(), bytes.end(), true, false);
  if (!m.is_object()) return std::nullopt;
  return outbox_message(seq, m);
}

OutboxMessage outbox_message(std::uint64_t seq, const json& m) {
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

namespace {

json decode_map(std::string_view bytes) {
  return json::from_msgpack(bytes.begin(), bytes.end(), true, false);
}

std::string_view bytes_of(const std::vector<std::uint8_t>& v) {
  return {reinterpret_cast<const char*>(v.data()), v.size()};
}

}  // namespace

// A failed attempt ("f<ms>": next attempt at ms; "d<ms>": dead) or a retry ("r") moves the
// record to where its new state lives: a waiting one in `outbox` with its due key, a dead
// one in `dead` without. The old due key is the one the record names before the change.
StepResult EngineImpl::apply_outbox_state(Batch& b, const Request& r) {
  const std::string& op = r.value;
  bool retry = op == "r";
  if (!retry && (op.empty() || (op[0] != 'f' && op[0] != 'd')))
    return refused(StepError::invalid_request, "unknown outbox operation");
  std::string key = be64(r.id), name = "outbox message " + std::to_string(r.id);
  int rc = 0;
  bool was_dead = false;
  auto bytes = b.txn.get(Db::outbox, key, rc);
  if (!bytes && !rc) {
    bytes = b.txn.get(Db::dead, key, rc);
    was_dead = bytes.has_value();
  }
  if (rc) {
    b.note(rc);
    return refused(StepError::storage_unavailable, name + " cannot be read");
  }
  if (!bytes) return refused(StepError::not_found, name + " does not exist");
  if (retry && !was_dead)
    return refused(StepError::invalid_request, name + " is not a dead letter");
  json m = decode_map(*bytes);
  if (!m.is_object()) return refused(StepError::invalid_request, name + " does not decode");
  std::string old_due = was_dead ? std::string() : outbox_due_key_of(m, r.id);
  bool dead = false;
  if (retry) {
    m["n"] = 0;
    m["at"] = b.now.time_since_epoch().count();
  } else {
    std::int64_t at = 0;
    std::from_chars(op.data() + 1, op.data() + op.size(), at);
    m["n"] = std::max<std::int64_t>(0, int_member(m, "n")) + 1;
    m["at"] = at;
    m["err"] = r.text.size() > 4000 ? r.text.substr(0, 4000) : r.text;
    dead = op[0] == 'd';
  }
  m["dead"] = dead;
  auto out = json::to_msgpack(m);
  if (!was_dead) b.note(b.txn.del(Db::due, old_due));
  if (dead) {
    if (!was_dead) b.note(b.txn.del(Db::outbox, key));
    b.note(b.txn.put(Db::dead, key, bytes_of(out)));
    // The newest message leaving `outbox`: as for an acknowledgement, the next open must
    // not number a new message with this seq again.
    if (r.id + 1 == b.next.outbox) b.note(b.txn.put(Db::meta, kOutboxNextKey, be64(b.next.outbox)));
  } else {
    if (was_dead) b.note(b.txn.del(Db::dead, key));
    b.note(b.txn.put(Db::outbox, key, bytes_of(out)));
    b.note(b.txn.put(Db::due, outbox_due_key_of(m, r.id), ""));
  }
  return {};
}

// Deletes the message wherever it is (and its due key); a seq that is gone already is
// acknowledged too (a redelivery's second acknowledgement).
StepResult EngineImpl::apply_ack(Batch& b, const Request& r) {
  std::string key = be64(r.id);
  int rc = 0;
  if (auto bytes = b.txn.get(Db::outbox, key, rc)) {
    // A record that does not decode names no due key: its key, if any, is left for
    // verify to report (outbox_due() skips a key whose record is gone).
    json m = decode_map(*bytes);
    if (m.is_object()) b.note(b.txn.del(Db::due, outbox_due_key_of(m, r.id)));
    b.note(b.txn.del(Db::outbox, key));
  } else {
    b.note(rc);
    b.note(b.txn.del(Db::dead, key));
  }
  // A seq names one message for good (plugins and the admin API see it), so the next
  // open must not start again after a lower one. That can only happen once the newest
  // message is gone: the mark is written then, not on every acknowledgement.
  if (!b.failed() && r.id + 1 == b.next.outbox)
    b.note(b.txn.put(Db::meta, kOutboxNextKey, be64(b.next.outbox)));
  return {};
}

bool EngineImpl::ack_outbox(std::uint64_t seq) {
  return submit_and_wait(Request{Request::ack, {}, {}, seq, {}, {}, {}, nullptr}).ok();
}

void EngineImpl::ack_outbox_async(std::uint64_t seq, std::function<void(bool)> done) {
  submit(Request{Request::ack, {}, {}, seq, {}, {}, {}, to_bool(std::move(done))});
}

bool EngineImpl::record_delivery_failure(std::uint64_t seq, const std::string& error,
                                         TimePoint next_attempt_at, bool dead) {
  return submit_and_wait(Request{Request::outbox_state,
                                 {},
                                 {},
                                 seq,
                                 error,
                                 failure_op(next_attempt_at, dead),
                                 {},
                                 nullptr})
      .ok();
}

void EngineImpl::record_delivery_failure_async(std::uint64_t seq, std::string error,
                                               TimePoint next_attempt_at, bool dead,
                                               std::function<void(bool)> done) {
  submit(Request{Request::outbox_state,
                 {},
                 {},
                 seq,
                 std::move(error),
                 failure_op(next_attempt_at, dead),
                 {},
                 to_bool(std::move(done))});
}

bool EngineImpl::retry_dead_letter(std::uint64_t seq) {
  return submit_and_wait(Request{Request::outbox_state, {}, {}, seq, {}, "r", {}, nullptr}).ok();
}

// A record that does not decode is skipped by every read (verify() lists it); wrong-typed
// members read as missing.
std::vector<OutboxMessage> Reader::dead_letters(std::size_t limit, std::uint64_t after_seq) const {
  std::vector<OutboxMessage> out;
  auto txn = read_txn();
  if (!txn) return out;
  auto cur = txn->cursor(Db::dead);
  for (bool ok = cur && cur->seek(be64(after_seq + 1)); ok && out.size() < limit; ok = cur->next())
    if (auto msg = decode_outbox(storage::read_be64(cur->key()), cur->value())) {
      msg->dead = true;
      out.push_back(std::move(*msg));
    }
  return out;
}

// Both databases in seq order: two cursors, the smaller key first.
std::vector<OutboxMessage> Reader::outbox(std::size_t limit, std::uint64_t after_seq) const {
  std::vector<OutboxMessage> out;
  if (after_seq == UINT64_MAX) return out;
  auto txn = read_txn();
  if (!txn) return out;
  auto waiting = txn->cursor(Db::outbox), dead = txn->cursor(Db::dead);
  std::string from = be64(after_seq + 1);
  bool w = waiting && waiting->seek(from), d = dead && dead->seek(from);
  while ((w || d) && out.size() < limit) {
    bool take_dead = d && (!w || dead->key() < waiting->key());
    storage::Cursor& c = take_dead ? *dead : *waiting;
    if (auto msg = decode_outbox(storage::read_be64(c.key()), c.value())) {
      msg->dead = msg->dead || take_dead;
      out.push_back(std::move(*msg));
    }
    (take_dead ? d : w) = c.next();
  }
  return out;
}

// Walks the channel's keys from `after`: each names a seq whose record is read and must
// name this very key (a stale key, left by a damaged record, is skipped: verify reports it).
OutboxDuePage Reader::outbox_due(const std::string& channel, TimePoint until, std::size_t limit,
                                 std::optional<OutboxDueKey> after) const {
  OutboxDuePage page;
  if (after) page.next = *after;
  auto txn = read_txn();
  if (!txn) return page;
  auto cur = txn->cursor(Db::due);
  if (!cur) return page;
  std::string prefix = channel + '\0';
  std::string start = after ? outbox_due_key(channel, after->due_ms, after->seq) : prefix;
  std::int64_t until_ms = until.time_since_epoch().count();
  for (bool ok = cur->seek(start); ok; ok = cur->next()) {
    std::string_view k = cur->key();
    if (k.substr(0, prefix.size()) != prefix) break;  // the next channel
    if (k.size() != prefix.size() + 16)
      continue;  // another channel whose name starts with this one and \0
    if (after && k == start) continue;
    auto due = static_cast<std::int64_t>(storage::read_be64(k.substr(prefix.size(), 8)));
    std::uint64_t seq = storage::read_be64(k.substr(prefix.size() + 8));
    if (due > until_ms) {
      page.next_due = TimePoint(Millis(due));
      break;
    }
    if (page.messages.size() >= limit) {
      page.more = true;
      break;
    }
    int rc = 0;
    auto bytes = txn->get(Db::outbox, be64(seq), rc);
    if (rc) break;  // unreadable: the dispatcher polls again (the store's failure is logged)
    page.next = {due, seq};
    if (!bytes) continue;
    json m = json::from_msgpack(bytes->begin(), bytes->end(), true, false);
    if (m.is_object() && outbox_due_key_of(m, seq) == k)
      page.messages.push_back(outbox_message(seq, m));
  }
  return page;
}

// One seek per channel: from a channel's first key, the next channel starts at or after
// its name followed by \1.
std::vector<std::string> Reader::outbox_channels() const {
  std::vector<std::string> out;
  auto txn = read_txn();
  if (!txn) return out;
  auto cur = txn->cursor(Db::due);
  for (bool ok = cur && cur->first(); ok;) {
    std::string_view k = cur->key();
    if (k.size() < 17) {  // not a key the engine wrote
      ok = cur->next();
      continue;
    }
    std::string name(k.substr(0, k.size() - 17));
    out.push_back(name);
    ok = cur->seek(name + '\1');
  }
  return out;
}

}  // namespace bihuan::runtime
