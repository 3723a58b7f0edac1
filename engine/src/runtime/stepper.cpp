// Public entry points of the step machine: each builds a Unit, runs a Step over it, and
// writes the unit into the batch's transaction only if the step succeeded.
#include "runtime/stepper.hpp"

#include <algorithm>
#include <cerrno>
#include <deque>

#include "runtime/access_index.hpp"
#include "runtime/idempotency.hpp"
#include "runtime/record_check.hpp"
#include "runtime/step.hpp"
#include "runtime/step_access.hpp"

namespace bihuan::runtime {

using storage::be64;
using storage::Db;

namespace {

std::string state_key(const std::string& def, const std::string& state, std::uint64_t id) {
  std::string k = def;
  k += '\0';
  k += state;
  k += '\0';
  k += be64(id);
  return k;
}

// An exception other than StepFailure out of a step is a defect of the engine, not of the
// request; the step is refused like any other (its unit is discarded, nothing of it was
// written) so that the batch and the process go on.
StepFailure internal(const std::exception& e) {
  return {StepError::internal_error,
          std::string("the engine failed on this step (a defect; please report it): ") + e.what()};
}

StepResult refused(const StepFailure& f) {
  StepResult r;
  r.error = f.error;
  r.message = f.message;
  r.details = f.details;
  return r;
}

void check_actor(const Actor& actor) {
  check_text(actor.id, "the actor id");
  for (const auto& role : actor.roles) check_text(role, "a role of the actor");
}

// A read that failed inside a step that cannot be refused alone (a timer firing, a
// cascade): the batch fails whole, so nothing is dropped for it.
bool fail_batch_on_read(Batch& b, const StepFailure& f) {
  if (f.error != StepError::storage_unavailable) return false;
  b.note(f.details.is_object() ? f.details.value("code", EIO) : EIO);
  return true;
}

}  // namespace

std::optional<InstanceRecord> Stepper::load(Batch& b, std::uint64_t id, std::string* damage) {
  if (auto it = b.overlay.find(id); it != b.overlay.end()) return it->second;
  int rc = 0;
  auto bytes = b.txn.get(Db::inst, be64(id), rc);
  b.note(rc);
  if (!bytes) return std::nullopt;
  auto r = decode_instance(*bytes);
  std::string what =
      stored_record_damage(r, id, r ? definition(r->definition, r->definition_version) : nullptr);
  if (what.empty()) return r;
  if (damage) *damage = std::move(what);
  return std::nullopt;
}

const Definition* Stepper::definition(const std::string& id, std::int64_t version) {
  for (const auto& d : used_)
    if (d->version == version && d->id == id) return d.get();
  auto d = env_.definitions.find(id, version);
  if (!d) return nullptr;
  return used_.emplace_back(std::move(d)).get();
}

InstanceView Stepper::view(const InstanceRecord& r) {
  return to_view(r, definition(r.definition, r.definition_version));
}

bool Stepper::access_kept(const Unit& u, std::uint64_t id, const InstanceRecord& rec,
                          const Definition& def) {
  if (std::find(u.access_fresh.begin(), u.access_fresh.end(), id) != u.access_fresh.end())
    return true;
  auto was = u.original_state.find(id);
  if (was == u.original_state.end() || was->second.state < 0 ||
      was->second.version != rec.definition_version)
    return false;
  auto known = std::find_if(access_reads_.begin(), access_reads_.end(),
                            [&](const auto& e) { return e.first == &def; });
  if (known == access_reads_.end())
    known = access_reads_.insert(access_reads_.end(),
                                 {&def, std::make_shared<const AccessReads>(access_reads(def))});
  if (!known->second->pure) return false;
  auto touched = u.data_touched.find(id);
  return touched == u.data_touched.end() || !known->second->touched_by(touched->second);
}

void Stepper::seal(Unit& u) {
  u.sealed.clear();
  u.sealed.reserve(u.records.size());
  for (auto& [id, rec] : u.records)
    if (const Definition* def = definition(rec.definition, rec.definition_version))
      if (!access_kept(u, id, rec, *def)) compute_access(rec, *def, env_.calendars);
  for (const auto& [id, rec] : u.records) {
    std::string bytes = encode(rec);
    if (bytes.size() > kMaxRecordBytes)
      fail(StepError::data_invalid,
           "instance " + id_to_text(id) + " would be stored in " + std::to_string(bytes.size()) +
               " bytes, nearly all of it its data; at most " + std::to_string(kMaxRecordBytes) +
               " are allowed",
           {{"limit", kMaxRecordBytes}, {"bytes", bytes.size()}});
    if (std::size_t key = longest_access_key(rec); key > Unit::kMaxStoredKeyBytes)
      fail(StepError::data_invalid,
           "instance " + id_to_text(id) + " would need an access index key of " +
               std::to_string(key) + " bytes (definition id and unit, or a reader key); at most " +
               std::to_string(Unit::kMaxStoredKeyBytes) + " fit",
           {{"limit", Unit::kMaxStoredKeyBytes}, {"bytes", key}});
    u.sealed.push_back(std::move(bytes));
  }
}

void Stepper::apply(Batch& b, Unit& u) {
  if (b.storage_rc) return;
  // Units that skipped seal() (a cancel, a timer key dropped, a refused firing recorded)
  // never grow their records; they are encoded here, unchecked.
  if (u.sealed.size() != u.records.size()) {
    u.sealed.clear();
    for (auto& [id, rec] : u.records) {
      // Their data did not change, but a new record (none today) or a new version would
      // need its access: computed, and kept as it was if it cannot be.
      if (const Definition* def = definition(rec.definition, rec.definition_version)) try {
          compute_access(rec, *def, env_.calendars);
        } catch (const StepFailure&) {
        }
      u.sealed.push_back(encode(rec));
    }
  }
  for (auto& [is_put, db, key, value] : u.ops) {
    // History and outbox keys only grow: append at the right edge of their trees.
    bool append = db == Db::hist || db == Db::outbox;
    b.note(is_put ? b.txn.put_owned(db, std::move(key), std::move(value), append)
                  : b.txn.del(db, key));
    if (b.failed()) return;
  }
  std::size_t sealed = 0;
  for (auto& [id, rec] : u.records) {
    const Definition* def = definition(rec.definition, rec.definition_version);
    auto was = u.original_state.find(id);
    Unit::Original before = was != u.original_state.end() ? was->second : Unit::Original{};
    if (def && (before.state != rec.state || before.version != rec.definition_version)) {
      // The index key names the state, so the name before is read in the version the
      // record was loaded with (a migration changes the version).
      const Definition* old = before.state < 0 ? nullptr
                              : before.version == rec.definition_version
                                  ? def
                                  : definition(rec.definition, before.version);
      const std::string* was_in = old ? &old->states[before.state].name : nullptr;
      const std::string& now_in = def->states[rec.state].name;
      if (!was_in || *was_in != now_in) {
        if (was_in) b.note(b.txn.del(Db::sidx, state_key(rec.definition, *was_in, id)));
        b.note(b.txn.put(Db::sidx, state_key(rec.definition, now_in, id), ""));
      }
    }
    // The reader and unit indexes (access_index.hpp) follow the record's access fields:
    // those it was stored with are read before it is overwritten (a new one has none).
    std::optional<AccessFields> stored;
    if (before.state >= 0) {
      if (auto it = b.overlay.find(id); it != b.overlay.end()) {
        stored = access_fields(it->second);
      } else {
        int rc = 0;
        auto bytes = b.txn.get(Db::inst, be64(id), rc);
        b.note(rc);
        if (bytes) stored = stored_access(*bytes);  // undecodable: no entry known to remove
      }
    }
    if (!stored || !same_access(*stored, rec))
      b.note(reindex_access(b.txn, id, stored ? &*stored : nullptr, access_fields(rec)));
    b.note(b.txn.put_owned(Db::inst, be64(id), std::move(u.sealed[sealed++])));
    if (b.failed()) return;
    b.overlay[id] = std::move(rec);
  }
  b.next = u.next;
  b.outbox_written += 1;
}

StepResult Stepper::start(Batch& b, const StartRequest& req) {
  Unit u(b.next);
  Step s(*this, env_, b, u);
  StepResult result;
  try {
    auto def = env_.definitions.find(req.definition, req.version);
    if (!def)
      fail(StepError::not_found,
           "no deployed definition \"" + req.definition + "\"" +
               (req.version ? " version " + std::to_string(*req.version) : ""));
    u.pinned.push_back(def);
    check_key(req.idempotency_key, "the idempotency key");  // the business key: Step::create
    check_actor(req.actor);
    check_start(*def, req.actor, req.data, env_.calendars);  // a replay too: authorized alike
    if (!req.idempotency_key.empty()) {
      // A retry: the same request answers what its start answered; another is refused.
      if (auto prior = idem::find_start(b, req)) {
        auto current = view(s.fetch(prior->instance));
        idem::check_same_start(*prior, req, current);
        bool moved_on = false;
        result.instance = idem::replay_view(*prior, std::move(current), moved_on);
        if (moved_on) result.details = {{"currentVersion", s.fetch(prior->instance).version}};
        result.replayed = result.created = true;
        return result;
      }
    }
    if (!req.business_key.empty()) {
      if (auto existing = s.find_business_key(req.business_key)) {
        auto& r = s.fetch(*existing);
        if (r.status == InstanceStatus::running) {
          auto current = view(r);
          // The existing instance is named (or returned) only to a caller who may see it.
          bool sees = visible(current, req.actor);
          if (!req.return_existing || !sees)
            fail(StepError::duplicate_business_key,
                 "a running instance already has business key \"" + req.business_key + "\"",
                 sees ? json{{"instance", current.id}} : json(nullptr));
          result.instance = std::move(current);
          result.replayed = true;
          return result;
        }
      }
    }
    std::uint64_t id = s.create(*def, req.data, req.business_key, 0, "", req.actor, 0);
    compute_access(u.records.at(id), *def, env_.calendars);
    u.access_fresh.push_back(id);  // seal() keeps it
    result.instance = to_view(u.records.at(id), def.get());
    result.created = true;
    if (!req.idempotency_key.empty())
      u.put(Db::idem, idem::start_key(req.actor.id, req.idempotency_key),
            idem::encode(idem::of_start(req, *result.instance)));
    seal(u);
  } catch (const StepFailure& f) {
    return refused(f);
  } catch (const std::exception& e) {
    return refused(internal(e));
  }
  apply(b, u);
  run_cascades(b, std::move(u.cascades));
  return result;
}

StepResult Stepper::event(Batch& b, const EventRequest& req) {
  Unit u(b.next);
  Step s(*this, env_, b, u);
  StepResult result;
  std::uint64_t id = 0;
  try {
    if (!req.instance_id.empty()) {
      auto parsed = id_from_text(req.instance_id);
      if (!parsed)
        fail(StepError::not_found,
             "\"" + req.instance_id + "\" is not an instance id (16 hex digits)");
      id = *parsed;
    } else if (!req.business_key.empty()) {
      check_key(req.business_key, "the business key");
      auto found = s.find_business_key(req.business_key);
      if (!found)
        fail(StepError::not_found, "no instance with business key \"" + req.business_key + "\"");
      id = *found;
    } else {
      fail(StepError::invalid_request, "an event needs an instance id or a business key");
    }
    if (req.event.empty()) fail(StepError::invalid_request, "an event needs a name");
    check_text(req.event, "the event name");
    check_key(req.idempotency_key, "the idempotency key");
    check_actor(req.actor);
    // Only a request's payload: the engine's own (a child's end carries its data, which
    // may be as deep as allowed) are made from checked data.
    if (auto defect = json_defect(req.payload, kMaxDataDepth))
      fail(StepError::payload_invalid, "the payload of \"" + req.event + "\" " + *defect,
           {{"limit", kMaxDataDepth}});
    InstanceRecord& r = s.fetch(id);
    // An instance the sender may not see is not there for it (no existence leak).
    if (!visible(r.unit, r.readers, req.actor))
      fail(StepError::not_found, req.instance_id.empty()
                                     ? "no instance with business key \"" + req.business_key + "\""
                                     : "no instance with id " + id_to_text(id));
    if (!req.idempotency_key.empty()) {
      // A retry: the same request, by a caller the event's roles still admit, answers what
      // its step answered; another request with this key is refused.
      if (auto prior = idem::find_event(b, id, req)) {
        idem::authorize_event(*prior, req, s.definition_of(r));
        idem::check_same_event(*prior, req);
        bool moved_on = false;
        result.instance = idem::replay_view(*prior, view(r), moved_on);
        if (moved_on) result.details = {{"currentVersion", r.version}};
        result.replayed = true;
        return result;
      }
    }
    // The roles the event needs where it is accepted now, for a replay's check.
    std::vector<std::string> roles;
    if (!req.idempotency_key.empty())
      if (const EventSpec* ev = s.definition_of(r).find_event(r.state, req.event))
        roles = ev->roles;
    s.handle_event(r, req.event, req.payload, req.actor, req.expected_version, "event");
    result.instance = view(r);
    if (!req.idempotency_key.empty())
      u.put(Db::idem, idem::event_key(id, req.actor.id, req.idempotency_key),
            idem::encode(idem::of_event(req, roles, *result.instance)));
    seal(u);
    result.instance->unit = r.unit;  // seal() computed them from the data after the step
    result.instance->readers = r.readers;
  } catch (const StepFailure& f) {
    auto out = refused(f);
    if (auto it = u.records.find(id); it != u.records.end() && f.error != StepError::not_found) {
      // Report the instance as it is (unchanged), not the discarded working copy.
      if (auto current = load(b, id)) out.instance = view(*current);
    }
    return out;
  } catch (const std::exception& e) {
    return refused(internal(e));
  }
  apply(b, u);
  run_cascades(b, std::move(u.cascades));
  return result;
}

StepResult Stepper::migrate(Batch& b, std::uint64_t id, const MigrateRequest& req) {
  Unit u(b.next);
  Step s(*this, env_, b, u);
  StepResult result;
  try {
    check_text(req.reason, "the reason");
    check_actor(req.actor);
    InstanceRecord& r = s.fetch(id);
    json report = s.migrate(r, req);
    seal(u);
    result.instance = view(r);
    report["dryRun"] = req.dry_run;
    result.details = std::move(report);
  } catch (const StepFailure& f) {
    return refused(f);
  } catch (const std::exception& e) {
    return refused(internal(e));
  }
  if (!req.dry_run) apply(b, u);
  return result;
}

StepResult Stepper::cancel(Batch& b, std::uint64_t id, const std::string& reason,
                           const Actor& actor) {
  Unit u(b.next);
  Step s(*this, env_, b, u);
  StepResult result;
  try {
    check_text(reason, "the reason");
    check_actor(actor);
    InstanceRecord& r = s.fetch(id);
    s.cancel(r, reason, actor, false);  // not sealed: a cancel never grows a record, so one
    result.instance = view(r);          // stored before the limit can still be cancelled
  } catch (const StepFailure& f) {
    return refused(f);
  } catch (const std::exception& e) {
    return refused(internal(e));
  }
  apply(b, u);
  run_cascades(b, std::move(u.cascades));
  return result;
}

bool Stepper::fire_timer(Batch& b, std::string_view key) {
  StoredTimer st = parse_timer_key(key);
  Unit u(b.next);
  Step s(*this, env_, b, u);
  // Consuming the timer: its key goes, its reference leaves the record, a repeating timer
  // is armed again. Run again from scratch if the firing itself is refused below (that
  // is cheaper than copying the record in case it is).
  auto consume = [&]() -> std::optional<TimerRef> {
    u = Unit(b.next);
    u.del(Db::timers, std::string(key));
    InstanceRecord& r = s.fetch(st.instance);
    auto it = std::find_if(r.timers.begin(), r.timers.end(),
                           [&](const TimerRef& t) { return t.seq == st.seq; });
    if (it == r.timers.end() || r.status != InstanceStatus::running) return std::nullopt;
    TimerRef fired = *it;
    r.timers.erase(it);
    s.rearm(r, fired, TimePoint{Millis(static_cast<std::int64_t>(fired.due_ms))});
    return fired;
  };
  // A firing that is dropped or refused is counted and logged once the batch commits.
  auto dropped = [&](const std::string& why, bool refused) {
    if (b.failed()) return;  // the batch fails whole: nothing was dropped
    b.timer_drops.push_back(
        {{"instance", id_to_text(st.instance)},
         {"timerSeq", st.seq},
         {"due",
          format_time(TimePoint(Millis(static_cast<std::int64_t>(st.due_ms))), *TimeZone::utc())},
         {"reason", why},
         {"refused", refused}});
  };
  try {
    auto fired = consume();
    if (!fired) {
      apply(b, u);  // a stale key: just remove it
      dropped("the instance no longer holds this timer, or has ended", false);
      return false;
    }
    InstanceRecord& r = u.records.at(st.instance);
    TimePoint due{Millis(static_cast<std::int64_t>(fired->due_ms))};
    const Definition& def = s.definition_of(r);
    const TimerSpec& spec = def.states[fired->state].timers[fired->timer];
    // The firing itself may be refused (guard false, event not accepted): the timer is
    // still consumed, and the refusal is recorded in the history.
    std::optional<StepFailure> refusal;
    try {
      if (!spec.event.empty())
        s.handle_event(r, spec.event,
                       {{"timer", spec.id}, {"due", format_time(due, *def.timezone)}},
                       Actor::system(), std::nullopt, "timer");
      else
        s.timer_transition(r, spec);
      seal(u);
    } catch (const StepFailure& f) {
      refusal = f;
    } catch (const std::exception& e) {
      refusal = internal(e);
    }
    if (refusal && fail_batch_on_read(b, *refusal)) return false;
    if (refusal) {
      dropped("the firing was refused (" + to_string(refusal->error) + "): " + refusal->message,
              true);
      consume();
      InstanceRecord& again = u.records.at(st.instance);
      again.version++;
      again.updated_ms = b.now.time_since_epoch().count();
      s.record_history(again, "timer", spec.event.empty() ? "timer:" + spec.id : spec.event,
                       Actor::system(), def.states[again.state].name,
                       {{"timer", spec.id},
                        {"refused", to_string(refusal->error)},
                        {"message", refusal->message}},
                       json::array());
    }
  } catch (const StepFailure& f) {
    if (fail_batch_on_read(b, f)) return false;
    apply(b, u);  // instance gone: drop the key
    dropped(f.message, false);
    return false;
  } catch (const std::exception& e) {
    // Even its refusal could not be recorded: drop the key rather than fail every sweep.
    u = Unit(b.next);
    u.del(Db::timers, std::string(key));
    apply(b, u);
    dropped(std::string("its refusal could not be recorded: ") + e.what(), false);
    return false;
  }
  apply(b, u);
  run_cascades(b, std::move(u.cascades));
  return true;
}

void Stepper::run_cascades(Batch& b, std::vector<Cascade> first) {
  if (first.empty()) return;
  std::deque<Cascade> todo(std::make_move_iterator(first.begin()),
                           std::make_move_iterator(first.end()));
  std::size_t done = 0;
  while (!todo.empty() && done++ < env_.max_cascade && !b.storage_rc) {
    Cascade c = std::move(todo.front());
    todo.pop_front();
    Unit u(b.next);
    Step s(*this, env_, b, u);
    try {
      std::uint64_t id = c.target;
      if (!id && !c.target_business_key.empty()) {
        auto found = s.find_business_key(c.target_business_key);
        if (!found) continue;
        id = *found;
      }
      InstanceRecord& r = s.fetch(id);
      if (c.kind == Cascade::cancel) {
        if (r.status != InstanceStatus::running) continue;
        s.cancel(r, c.reason, c.actor, true);
      } else {
        s.handle_event(r, c.event, c.payload, c.actor, std::nullopt,
                       c.actor.id.rfind("instance:", 0) == 0 ? "message" : "child");
        seal(u);
      }
    } catch (const StepFailure& f) {
      if (fail_batch_on_read(b, f)) return;
      continue;  // an internal event the target does not accept is dropped (the sender's step
                 // stands)
    } catch (const std::exception&) {
      continue;  // likewise (StepError::internal_error)
    }
    apply(b, u);
    for (auto& next : u.cascades) todo.push_back(std::move(next));
  }
}

}  // namespace bihuan::runtime
