// Read paths: each uses its own LMDB read transaction and never waits for the writer.
#include <algorithm>

#include "bihuan/expr.hpp"
#include "bihuan/query_match.hpp"
#include "runtime/expressions.hpp"
#include "runtime/failure.hpp"
#include "runtime/outbox_state.hpp"
#include "runtime/reader.hpp"
#include "runtime/record_check.hpp"
#include "runtime/step.hpp"
#include "runtime/step_access.hpp"

namespace bihuan::runtime {

using storage::be64;
using storage::Db;

std::string Reader::unreadable(int rc) const {
  return "the store could not be read (" + storage::error_text(rc) + "); retry later";
}

std::unique_ptr<storage::Txn> Reader::read_txn(int* rc) const {
  int ignored = 0;
  auto txn = env_.begin(false, rc ? rc : &ignored);
  if (txn) observe_definitions(*txn);  // versions another process deployed (definitions.cpp)
  return txn;
}

std::optional<InstanceRecord> Reader::read_record(storage::Txn& txn, std::uint64_t id,
                                                  std::string* damage, int* rc_out) const {
  int rc = 0;
  auto bytes = txn.get(Db::inst, be64(id), rc);
  if (rc_out) *rc_out = rc;
  if (!bytes) return std::nullopt;
  auto r = decode_instance(*bytes);
  std::string what = stored_record_damage(
      r, id, r ? registry_.find(r->definition, r->definition_version).get() : nullptr);
  if (what.empty()) return r;
  if (damage) *damage = std::move(what);
  return std::nullopt;
}

std::optional<std::string> Reader::damage_of(storage::Txn& txn, std::uint64_t id) const {
  std::string what;
  if (read_record(txn, id, &what) || what.empty()) return std::nullopt;
  return "instance " + id_to_text(id) + ": " + damaged_text(what);
}

std::optional<std::string> Reader::damage(const std::string& instance_id) const {
  auto id = id_from_text(instance_id);
  if (!id) return std::nullopt;
  auto txn = read_txn();
  return txn ? damage_of(*txn, *id) : std::nullopt;
}

std::optional<std::string> Reader::damage_by_business_key(const std::string& key) const {
  auto txn = read_txn();
  if (!txn) return std::nullopt;
  int rc = 0;
  auto v = txn->get(Db::bkey, key, rc);
  if (!v || v->size() != 8) return std::nullopt;
  return damage_of(*txn, storage::read_be64(*v));
}

InstanceView Reader::view_of(const InstanceRecord& r) const {
  return to_view(r, registry_.find(r.definition, r.definition_version).get());
}

InstanceView Reader::view_of(InstanceRecord&& r) const {
  auto def = registry_.find(r.definition, r.definition_version);
  return to_view(std::move(r), def.get());
}

std::optional<InstanceView> Reader::get(const std::string& instance_id,
                                        std::string* unavailable) const {
  if (unavailable) unavailable->clear();
  auto id = id_from_text(instance_id);
  if (!id) return std::nullopt;
  int rc = 0;
  auto txn = read_txn(&rc);
  std::optional<InstanceRecord> r;
  if (txn) r = read_record(*txn, *id, nullptr, &rc);
  if (rc && unavailable) *unavailable = unreadable(rc);
  if (!r) return std::nullopt;
  return view_of(std::move(*r));
}

std::optional<InstanceView> Reader::get_by_business_key(const std::string& key,
                                                        std::string* unavailable) const {
  if (unavailable) unavailable->clear();
  int rc = 0;
  auto txn = read_txn(&rc);
  std::optional<InstanceRecord> r;
  if (txn) {
    auto v = txn->get(Db::bkey, key, rc);
    if (v && v->size() == 8) r = read_record(*txn, storage::read_be64(*v), nullptr, &rc);
  }
  if (rc && unavailable) *unavailable = unreadable(rc);
  if (!r) return std::nullopt;
  return view_of(std::move(*r));
}

namespace {

using storage::hex;
using storage::unhex;

}  // namespace

InstancePage Reader::query(const InstanceQuery& q) const {
  if (scoped(q.viewer)) return scoped_query(q);  // scoped_reads.cpp
  InstancePage page;
  auto failed = [&](int rc) { return unavailable_page(rc); };
  int rc = 0;
  auto txn = read_txn(&rc);
  if (!txn) return failed(rc);
  // Pick the narrowest index: state index for a definition, business keys for a prefix,
  // else every instance in id (= creation) order. The cursor is the last key seen.
  Db db = Db::inst;
  std::string prefix;
  if (!q.definition.empty() && !q.unit.empty() && q.state.empty()) {
    // The unit's subtree of the definition's part of the unit index (access_index.hpp).
    db = Db::uidx;
    prefix = q.definition + std::string(1, '\0') + q.unit + "/";
  } else if (!q.definition.empty()) {
    db = Db::sidx;
    prefix = q.definition + std::string(1, '\0');
    if (!q.state.empty()) prefix += q.state + std::string(1, '\0');
  } else if (!q.business_key_prefix.empty()) {
    db = Db::bkey;
    prefix = q.business_key_prefix;
  }
  std::string start = prefix;
  bool skip_first = false;
  if (!q.cursor.empty()) {
    // A cursor is the last key a page of the same query saw. One that is not (a typo, or
    // a cursor of another query) is refused: starting over would hand a paging client the
    // first page again, and it would loop.
    auto raw = unhex(q.cursor);
    if (!raw || raw->size() <= prefix.size() || raw->rfind(prefix, 0) != 0) {
      page.error = "the cursor \"" + q.cursor.substr(0, 64) +
                   "\" is not a nextCursor of this query" +
                   " (the same definition, state and business-key prefix)";
      return page;
    }
    start = *raw;
    skip_first = true;
  }
  auto cur = scan(*txn, db);
  std::size_t limit = std::clamp<std::size_t>(q.limit, 1, 1000);
  std::size_t scanned = 0;
  std::string last_key;
  for (bool ok = start.empty() ? cur.first() : cur.seek(start); ok; ok = cur.next()) {
    std::string_view key = cur.key();
    if (key.substr(0, prefix.size()) != prefix) break;
    if (skip_first && key == start) continue;
    last_key = std::string(key);
    std::uint64_t id = db == Db::inst                     ? storage::read_be64(key)
                       : db == Db::sidx || db == Db::uidx ? storage::read_be64(key, key.size() - 8)
                                                          : storage::read_be64(cur.value());
    auto r = read_record(*txn, id, nullptr, &rc);
    if (rc) return failed(rc);
    if (!r) continue;
    auto v = view_of(*r);
    if (db == Db::bkey && v.business_key != key) continue;  // key reused by a newer instance
    if (query_matches(v, q)) page.items.push_back(std::move(v));
    if (page.items.size() >= limit || ++scanned >= 100000) {
      if (cur.next() && cur.key().substr(0, prefix.size()) == prefix)
        page.next_cursor = hex(last_key);
      break;
    }
  }
  if (cur.status()) return failed(cur.status());
  return page;
}

std::vector<InboxItem> Reader::inbox(const Actor& actor, std::size_t limit) const {
  return inbox_page({actor, limit, ""}).items;
}

namespace {

// Inbox order: tasks with a deadline first, by deadline, then by instance id.
struct InboxKey {
  bool no_deadline = false;
  std::int64_t due_ms = 0;
  std::uint64_t id = 0;
  auto operator<=>(const InboxKey&) const = default;
};

std::string inbox_cursor(const InboxKey& k) {
  return hex(std::string(1, k.no_deadline ? '\1' : '\0') +
             be64(static_cast<std::uint64_t>(k.due_ms)) + be64(k.id));
}

std::optional<InboxKey> parse_inbox_cursor(const std::string& text) {
  auto raw = unhex(text);
  if (!raw || raw->size() != 17 || static_cast<unsigned char>((*raw)[0]) > 1) return std::nullopt;
  return InboxKey{(*raw)[0] == '\1', static_cast<std::int64_t>(storage::read_be64(*raw, 1)),
                  storage::read_be64(*raw, 9)};
}

}  // namespace

InboxPage Reader::inbox_page(const InboxQuery& q) const {
  // Scans the state index for every state with an event the actor's roles allow, and
  // passes over the instances the actor does not see (access_index.hpp: Scope). Per
  // instance it decodes the record and evaluates `actors` expressions against its data
  // (moved into the context, not copied); only the `limit` + 1 tasks due first after the
  // cursor are kept, and only those become views.
  struct Found {
    InboxKey key;
    InstanceRecord record;
    std::shared_ptr<const Definition> def;
    std::vector<std::string> events;
  };
  auto earlier = [](const Found& a, const Found& b) { return a.key < b.key; };
  InboxPage page;
  const Actor& actor = q.actor;
  std::optional<InboxKey> after;
  if (!q.cursor.empty() && !(after = parse_inbox_cursor(q.cursor))) {
    page.error = "the cursor \"" + q.cursor.substr(0, 64) + "\" is not a nextCursor of an inbox";
    return page;
  }
  const std::size_t limit = q.limit;
  if (limit == 0) return page;
  std::vector<Found> kept;  // a max-heap by `earlier` of at most limit + 1 tasks
  int rc = 0;
  auto failed = [&](int code) {
    page.error = unreadable(code);
    page.unavailable = true;
    return page;
  };
  auto txn = read_txn(&rc);
  if (!txn) return failed(rc);
  const TimePoint now = options_.clock->now();
  const json actor_json = actor.to_json();
  // Only instances the actor sees (docs/authorization.md); system and global
  // administrators see all.
  std::optional<Scope> scope;
  if (!actor.is_system() && !actor.global_admin()) scope.emplace(actor);
  std::set<std::pair<std::string, std::string>> scanned;  // (definition, state)
  std::size_t renewed = 0;  // new snapshots taken by the scans (runtime/scan.hpp)
  for (const auto& def : registry_.all()) {
    for (const auto& st : def->states) {
      if (st.type == StateType::compound || !scanned.insert({def->id, st.name}).second) continue;
      // Events this actor's roles allow in this state (actors expressions are per instance).
      std::vector<const EventSpec*> candidates;
      for (const auto* ev : def->events_in(st.index)) {
        if (!ev->human()) continue;
        bool role_ok = ev->roles.empty() ||
                       std::any_of(ev->roles.begin(), ev->roles.end(), [&](const std::string& r) {
                         return r != "system" && actor.has_role(r);
                       });
        if (role_ok) candidates.push_back(ev);
      }
      if (candidates.empty()) continue;
      std::string prefix = def->id + std::string(1, '\0') + st.name + std::string(1, '\0');
      auto cur = scan(*txn, Db::sidx);
      std::shared_ptr<const Definition> rdef;
      std::string now_text;  // `now` in rdef's zone
      json ctx;              // the context of `actors` expressions
      for (bool ok = cur.seek(prefix); ok; ok = cur.next()) {
        if (cur.key().substr(0, prefix.size()) != prefix) break;
        auto r =
            read_record(*txn, storage::read_be64(cur.key(), cur.key().size() - 8), nullptr, &rc);
        if (rc) return failed(rc);
        if (!r || r->status != InstanceStatus::running || (scope && !scope->sees(*r))) continue;
        if (!rdef || rdef->version != r->definition_version || rdef->id != r->definition) {
          rdef = registry_.find(r->definition, r->definition_version);
          if (rdef) now_text = format_time(now, *rdef->timezone);
        }
        if (!rdef || rdef->states[r->state].name != st.name) continue;
        // The innermost deadline, as views show it.
        InboxKey key{r->deadlines.empty(), r->deadlines.empty() ? 0 : r->deadlines.back().second,
                     r->id};
        if ((after && !(*after < key)) || (kept.size() > limit && !(key < kept.front().key)))
          continue;
        std::vector<std::string> events;
        bool lent = false;  // the record's data is in ctx
        for (const auto* ev : candidates) {
          const EventSpec* actual = rdef->find_event(r->state, ev->name);
          if (!actual) continue;
          if (actual->actors) {
            if (ctx.is_null())  // once per state: later instances replace data and instance
              ctx = {{"data", nullptr},
                     {"actor", actor_json},
                     {"instance", {{"id", ""}, {"businessKey", ""}, {"state", st.name}}},
                     {"event", nullptr},
                     {"now", ""}};
            if (!lent) {
              ctx["data"] = std::move(r->data);
              ctx["instance"]["id"] = id_to_text(r->id);
              ctx["instance"]["businessKey"] = r->business_key;
              ctx["now"] = now_text;
              lent = true;
            }
            try {
              json allowed = Expressions(*rdef, options_.calendars.get())
                                 .eval(*actual->actors, ctx, actual->pointer + "/actors");
              if (!actors_admit(allowed, actor)) continue;
            } catch (const StepFailure&) {
              continue;
            }
          }
          events.push_back(ev->name);
        }
        if (lent) r->data = std::move(ctx["data"]);
        if (events.empty()) continue;
        Found f{key, std::move(*r), rdef, std::move(events)};
        if (kept.size() <= limit) {
          kept.push_back(std::move(f));
          std::push_heap(kept.begin(), kept.end(), earlier);
        } else if (earlier(f, kept.front())) {
          std::pop_heap(kept.begin(), kept.end(), earlier);
          kept.back() = std::move(f);
          std::push_heap(kept.begin(), kept.end(), earlier);
        }
      }
      if (cur.status()) return failed(cur.status());
      renewed += cur.renewals();
    }
  }
  std::sort_heap(kept.begin(), kept.end(), earlier);
  if (renewed) {
    // Across snapshots an instance that moved from a state scanned before to one scanned
    // after may have been found twice: each task is listed once (its earlier key).
    std::set<std::uint64_t> ids;
    std::erase_if(kept, [&](const Found& f) { return !ids.insert(f.key.id).second; });
  }
  if (kept.size() > limit) {
    kept.pop_back();
    page.next_cursor = inbox_cursor(kept.back().key);
  }
  page.items.reserve(kept.size());
  for (auto& f : kept) {
    InboxItem item;
    item.instance = to_view(f.record, f.def.get());
    item.events = std::move(f.events);
    item.deadline = item.instance.deadline;
    page.items.push_back(std::move(item));
  }
  return page;
}

namespace {

// Where a walk of a history chain starts: the log key of an entry and its step number.
struct ChainStart {
  std::uint64_t key = 0;
  std::uint64_t seq = 0;
};

// Walks the history chain of record `r`, newest entry first, along the links of the
// history log, from `from` ({r.last_entry, r.version} for the newest entry; key 0: none)
// for at most `max` entries: visit(entry, body) per entry. A missing or undecodable entry, an entry
// of another instance, or a link that does not lead back stops the walk with a sentence in *broken.
// Returns where the walk stopped: the next entry's key (0 at the first entry) and seq.
// *rc (if given): the LMDB error that stopped the walk (not damage: the store failed).
template <class Visit>
ChainStart walk_chain(storage::Txn& txn, const InstanceRecord& r, std::vector<std::string>* broken,
                      Visit visit, ChainStart from, std::uint64_t max, int* rc_out = nullptr) {
  std::string id_text = id_to_text(r.id);
  ChainStart at = from;
  auto stop = [&](const std::string& why) {
    if (broken)
      broken->push_back("instance " + id_text + ": entry " + std::to_string(at.seq) + ": " + why);
    return ChainStart{0, at.seq};
  };
  for (std::uint64_t n = 0; at.key != 0 && n < max; ++n) {
    int rc = 0;
    auto bytes = txn.get(Db::hist, be64(at.key), rc);
    if (rc) {
      if (rc_out) *rc_out = rc;
      return stop("cannot be read: " + storage::error_text(rc));
    }
    if (!bytes) return stop("is missing from the history log");
    auto stored = split_history_value(*bytes);
    std::string_view body;
    auto e = stored ? history_from_bytes(stored->sealed, &body) : std::nullopt;
    if (!e) return stop("does not decode");
    if (stored->instance != r.id)
      return stop("belongs to instance " + id_to_text(stored->instance) + " (link tampered)");
    if (stored->prev_entry >= at.key)
      return stop("links forward in the history log (link tampered)");
    visit(std::move(*e), body);
    at = {stored->prev_entry, at.seq - 1};
  }
  return at;
}

std::string history_cursor(ChainStart at) { return hex(be64(at.seq) + be64(at.key)); }

}  // namespace

std::vector<HistoryEntry> Reader::history(const std::string& instance_id) const {
  return history_page({instance_id, "", 0}).items;
}

HistoryPage Reader::history_page(const HistoryQuery& q) const {
  HistoryPage page;
  auto id = id_from_text(q.instance_id);
  if (!id) return page;
  auto failed = [&](int code) {
    page.items.clear();
    page.next_cursor.clear();
    page.error = unreadable(code);
    page.unavailable = true;
    return page;
  };
  int rc = 0;
  auto txn = read_txn(&rc);
  if (!txn) return failed(rc);
  auto r = read_record(*txn, *id, nullptr, &rc);
  if (rc) return failed(rc);
  if (!r) return page;
  std::uint64_t max = q.limit == 0 ? UINT64_MAX : q.limit;
  ChainStart from{r->last_entry, r->version};
  if (!q.cursor.empty()) {
    // The cursor names the newest entry of the page: its step number and log key. It must
    // be an entry of this instance with that step number; read once, it opens the page.
    std::optional<ChainStart> named;
    if (auto raw = unhex(q.cursor); raw && raw->size() == 16)
      named = ChainStart{storage::read_be64(*raw, 8), storage::read_be64(*raw)};
    auto bytes = named && named->key ? txn->get(Db::hist, be64(named->key), rc) : std::nullopt;
    if (rc) return failed(rc);
    auto stored = bytes ? split_history_value(*bytes) : std::nullopt;
    auto e = stored ? history_from_bytes(stored->sealed, nullptr) : std::nullopt;
    if (!e || stored->instance != r->id || e->seq != named->seq || named->seq == 0 ||
        named->seq > r->version || stored->prev_entry >= named->key) {
      page.error = "the cursor \"" + q.cursor.substr(0, 64) +
                   "\" does not name an entry of instance " + q.instance_id +
                   " (give a nextCursor from a page of its history)";
      return page;
    }
    page.items.push_back(std::move(*e));
    from = {stored->prev_entry, named->seq - 1};
    --max;
  }
  // A damaged record may claim any version.
  page.items.reserve(std::min<std::uint64_t>({max, from.seq, 4096}) + page.items.size());
  ChainStart next = walk_chain(
      *txn, *r, nullptr,
      [&](HistoryEntry&& e, std::string_view) { page.items.push_back(std::move(e)); }, from, max,
      &rc);
  if (rc) return failed(rc);
  if (next.key != 0) page.next_cursor = history_cursor(next);
  std::reverse(page.items.begin(), page.items.end());
  return page;
}

std::optional<InstanceView> Reader::as_of(const std::string& instance_id, TimePoint t,
                                          std::string* unavailable) const {
  HistoryPage page = history_page({instance_id, "", 0});
  if (page.unavailable) {
    if (unavailable) *unavailable = page.error;
    return std::nullopt;
  }
  auto& entries = page.items;
  auto current = get(instance_id, unavailable);
  if (entries.empty() || !current || entries.front().at > t) return std::nullopt;
  InstanceView v = *current;
  v.data = json::object();
  v.deadline.reset();
  // The definition version it ran on: the one its first migration left, if any.
  for (const auto& e : entries)
    if (e.kind == "migrate" && e.payload.is_object()) {
      v.definition_version = e.payload.value("fromVersion", v.definition_version);
      break;
    }
  for (const auto& e : entries) {
    if (e.at > t) break;
    if (e.kind == "migrate" && e.payload.is_object())
      v.definition_version = e.payload.value("toVersion", v.definition_version);
    for (const auto& change : e.changes) {
      if (!change.is_array() || change.size() != 2 || !change[0].is_string()) continue;
      std::string ptr = change[0].get<std::string>();
      if (ptr.empty())
        v.data = change[1];
      else {
        try {
          assign_pointer(v.data, ptr, change[1]);
        } catch (const StepFailure&) {
        }
      }
    }
    v.state = e.to;
    v.version = e.seq;
    v.updated_at = e.at;
    v.status = e.status == "completed"   ? InstanceStatus::completed
               : e.status == "cancelled" ? InstanceStatus::cancelled
                                         : InstanceStatus::running;
  }
  if (v.status != InstanceStatus::completed) v.outcome.clear();
  return v;
}

// verify() lives in verify.cpp; one instance's chain here (the same checks as its
// Checker::chain, with walk_chain's link checks).
ChainCheck Reader::verify_instance(const std::string& instance_id) const {
  ChainCheck out;
  auto id = id_from_text(instance_id);
  if (!id) return out;
  int rc = 0;
  auto failed = [&](int code) {
    out.error = unreadable(code);
    out.unavailable = true;
    return out;
  };
  auto txn = read_txn(&rc);
  if (!txn) return failed(rc);
  auto r = read_record(*txn, *id, nullptr, &rc);
  if (rc) return failed(rc);
  if (!r) return out;
  out.found = true;
  out.version = r->version;
  std::string newer_prev = r->last_hash;
  const char* newer = "the instance record";
  std::uint64_t expect = r->version;
  auto broken = [&](std::uint64_t seq, const std::string& why) {
    out.broken.push_back("instance " + instance_id + ": entry " + std::to_string(seq) + ": " + why);
    if (out.first_broken == 0 || seq < out.first_broken) out.first_broken = seq;
  };
  std::vector<std::string> stopped;
  ChainStart end = walk_chain(
      *txn, *r, &stopped,
      [&](HistoryEntry&& e, std::string_view body) {
        ++out.entries;
        if (e.seq != expect) broken(expect, "sequence number is " + std::to_string(e.seq));
        if (e.hash != newer_prev)
          broken(expect,
                 std::string("hash differs from the one ") + newer + " names (link broken)");
        if (history_hash(e.prev_hash, body) != e.hash)
          broken(expect, "content does not match its hash (tampered)");
        newer_prev = e.prev_hash;
        newer = "the next entry";
        --expect;
      },
      {r->last_entry, r->version}, UINT64_MAX, &rc);
  if (rc) return failed(rc);
  if (!stopped.empty()) {
    out.broken.push_back(stopped.front());
    if (out.first_broken == 0 || end.seq < out.first_broken) out.first_broken = end.seq;
  }
  if (stopped.empty() && out.entries == r->version && !newer_prev.empty())
    broken(1, "names a previous hash (link broken)");
  if (out.entries != r->version && stopped.empty())
    broken(expect == 0 ? 1 : expect, "the chain has " + std::to_string(out.entries) +
                                         " entries but the record's version is " +
                                         std::to_string(r->version));
  return out;
}

std::vector<PendingTimer> Reader::instance_timers(const std::string& instance_id,
                                                  std::string* unavailable) const {
  if (unavailable) unavailable->clear();
  std::vector<PendingTimer> out;
  auto id = id_from_text(instance_id);
  if (!id) return out;
  int rc = 0;
  auto txn = read_txn(&rc);
  std::optional<InstanceRecord> r;
  if (txn) r = read_record(*txn, *id, nullptr, &rc);
  if (rc && unavailable) *unavailable = unreadable(rc);
  if (!r || r->status != InstanceStatus::running) return out;
  auto def = registry_.find(r->definition, r->definition_version);
  auto state_name = [&](int s) {
    return def && s >= 0 && s < static_cast<int>(def->states.size()) ? def->states[s].name
                                                                     : std::string();
  };
  for (const auto& [state, due] : r->deadlines) {
    PendingTimer t;
    t.name = "deadline";
    t.kind = "deadline";
    t.state = state_name(state);
    t.due = TimePoint(Millis(due));
    out.push_back(std::move(t));
  }
  for (const auto& ref : r->timers) {
    PendingTimer t;
    t.kind = "timer";
    t.state = state_name(ref.state);
    t.due = TimePoint(Millis(static_cast<std::int64_t>(ref.due_ms)));
    t.fired = ref.fired;
    const TimerSpec* spec =
        def && ref.state >= 0 && ref.state < static_cast<int>(def->states.size()) &&
                ref.timer >= 0 && ref.timer < static_cast<int>(def->states[ref.state].timers.size())
            ? &def->states[ref.state].timers[ref.timer]
            : nullptr;
    if (spec) {
      t.name = spec->id;
      t.event = spec->event;
      if (spec->event.empty() && spec->transition.target >= 0)
        t.target = state_name(spec->transition.target);
      t.every = spec->every;
    }
    out.push_back(std::move(t));
  }
  std::stable_sort(out.begin(), out.end(),
                   [](const PendingTimer& a, const PendingTimer& b) { return a.due < b.due; });
  return out;
}

ChildrenPage Reader::children(const std::string& instance_id, const std::string& cursor,
                              std::size_t limit, const std::optional<Actor>& viewer) const {
  ChildrenPage page;
  auto id = id_from_text(instance_id);
  if (!id) return page;
  auto failed = [&](int code) {
    page.items.clear();
    page.next_cursor.clear();
    page.error = unreadable(code);
    page.unavailable = true;
    return page;
  };
  std::string prefix = be64(*id), start = prefix;
  if (!cursor.empty()) {
    auto after = id_from_text(cursor);
    if (!after) {
      page.error = "the cursor \"" + cursor.substr(0, 64) +
                   "\" is not a child id (give a nextCursor from a page of children)";
      return page;
    }
    start = prefix + be64(*after + 1);
  }
  int rc = 0;
  auto txn = read_txn(&rc);
  if (!txn) return failed(rc);
  auto cur = txn->cursor(Db::children);
  // At most this many index entries per page when the viewer sees few of them.
  std::size_t budget = std::max<std::size_t>(limit * 20, 1000), read = 0;
  std::uint64_t last = 0;
  bool more = false;
  for (bool ok = cur->seek(start); ok; ok = cur->next()) {
    auto key = cur->key();
    if (key.size() != 16 || key.substr(0, 8) != prefix) break;
    if (page.items.size() >= limit || read >= budget) {
      more = true;
      break;
    }
    ++read;
    last = storage::read_be64(key, 8);
    auto r = read_record(*txn, last, nullptr, &rc);
    if (rc) return failed(rc);
    if (!r) continue;  // gone or damaged: passed over
    InstanceView v = view_of(*r);
    if (viewer && !visible(v, *viewer)) continue;
    page.items.push_back(std::move(v));
  }
  if (int st = cur->status()) return failed(st);
  if (more) page.next_cursor = id_to_text(last);
  return page;
}

std::size_t Reader::pending_timers() const {
  auto txn = read_txn();
  int rc = 0;
  return txn ? txn->entries(Db::timers, rc) : 0;  // documented: 0 when it cannot be read
}

}  // namespace bihuan::runtime
