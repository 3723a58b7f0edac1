// verify() and check_store(): the structural walk and then the records, history chains
// and indexes, all in a child process (runtime/verify.hpp, docs/storage.md).
#include "runtime/verify.hpp"

#include <algorithm>
#include <filesystem>
#include <unordered_map>

#include "runtime/access_index.hpp"
#include "runtime/engine_impl.hpp"
#include "runtime/idempotency.hpp"
#include "runtime/outbox_state.hpp"
#include "runtime/record_check.hpp"
#include "runtime/verify_attachments.hpp"
#include "storage/walk.hpp"

namespace bihuan::runtime {

using storage::be64;
using storage::Db;
using storage::read_be64;

namespace {

constexpr std::uint64_t kMaxProblems = 10000;  // lines sent; the rest are counted

std::string hex(std::string_view bytes) { return storage::hex(bytes, 128); }

// A key as text for a sentence: printable bytes as they are, others as '?', at most 80.
std::string shown(std::string_view bytes) {
  std::string out;
  for (unsigned char c : bytes.substr(0, 80))
    out += (c >= 0x20 && c < 0x7f) ? static_cast<char>(c) : '?';
  if (bytes.size() > 80) out += "...";
  return out;
}

std::string in_quotes(std::string_view bytes) { return "\"" + shown(bytes) + "\""; }

void send_problem(ChildOut& out, std::string_view kind, std::string_view db, std::string_view key,
                  std::string_view text) {
  std::string l;
  l.append(kind).append("\t").append(db).append("\t").append(key).append("\t").append(text);
  out.line('P', l);
}

// What the index checks need of a record, kept for every instance (a few dozen bytes).
struct Seen {
  bool sound = false;  // decoded and fits its definition version; else its damage is reported
  std::string definition;
  std::string state;  // its current state's name
  std::string business_key;
  std::uint64_t parent = 0;
  std::uint64_t version = 0;
  std::vector<std::pair<std::uint64_t, std::uint32_t>> timers;  // (due ms, seq)
  std::vector<IndexEntry> access;  // its reader and unit index entries (access_index.hpp)
};

// The record, chain and index checks, on one read transaction of a structurally sound
// store. Every problem goes to `out` at once.
class Checker {
 public:
  Checker(storage::Txn& txn, const DefinitionSet& defs, ChildOut& out, const std::string& dir,
          const AttachmentStore* store, bool keeps_removed = false)
      : txn_(txn),
        defs_(defs),
        out_(out),
        keeps_removed_(keeps_removed),
        attachments_(dir, defs, store) {}

  void run() {
    records();
    // The indexes, each walked against the records. Another index is one more row.
    const std::pair<Db, void (Checker::*)(std::string_view, std::string_view)> indexes[] = {
        {Db::idem, &Checker::idem_entry},      {Db::bkey, &Checker::bkey_entry},
        {Db::sidx, &Checker::sidx_entry},      {Db::timers, &Checker::timer_entry},
        {Db::children, &Checker::child_entry}, {Db::outbox, &Checker::outbox_entry},
        {Db::dead, &Checker::dead_entry},      {Db::due, &Checker::due_entry},
        {Db::ridx, &Checker::ridx_entry},      {Db::uidx, &Checker::uidx_entry},
        {Db::gone, &Checker::gone_entry},
    };
    for (const auto& [db, check] : indexes) {
      auto cur = txn_.cursor(db);
      for (bool ok = cur->first(); ok; ok = cur->next()) {
        ++index_entries_;
        (this->*check)(cur->key(), cur->value());
      }
      if (cur->status()) unreadable(db, cur->status());
    }
    // Every entry of the log belongs to exactly one chain (of a stored instance, on a store
    // that keeps removed instances' entries until their month goes).
    int rc = 0;
    if (keeps_removed_)
      stored_entries();
    else if (std::size_t logged = txn_.entries(Db::hist, rc); rc)
      unreadable(Db::hist, rc);
    else if (logged != entries_)
      problem("chain", Db::hist, "",
              "the history log holds " + std::to_string(logged) +
                  " entries but the instances' chains reach " + std::to_string(entries_));
    if (problems_ > kMaxProblems)
      send_problem(out_, "index", "", "",
                   std::to_string(problems_ - kMaxProblems) + " more problems are not listed");
    out_.line('C', std::to_string(instances_) + "\t" + std::to_string(entries_) + "\t" +
                       std::to_string(index_entries_));
  }

 private:
  void problem(std::string_view kind, Db db, std::string_view key, const std::string& text) {
    if (++problems_ <= kMaxProblems) send_problem(out_, kind, storage::db_name(db), key, text);
  }

  const Definition* find(const std::string& id, std::int64_t version) const {
    auto it = defs_.find({id, version});
    return it == defs_.end() ? nullptr : it->second.get();
  }

  // The instance an index entry names: nullptr (and a problem) if there is none; a record
  // that is damaged is reported by records() and not checked further (*skip).
  // A read that failed (the walk found the structure sound, so this is rare): reported;
  // the check goes on.
  void unreadable(Db db, int rc) {
    problem("structure", db, "",
            std::string("database ") + storage::db_name(db) +
                " cannot be read: " + storage::error_text(rc));
  }
  std::optional<std::string_view> get(Db db, std::string_view key) {
    int rc = 0;
    auto v = txn_.get(db, key, rc);
    if (rc) unreadable(db, rc);
    return v;
  }

  const Seen* instance(Db db, std::string_view key, std::uint64_t id, const std::string& what,
                       bool* skip) {
    auto it = seen_.find(id);
    *skip = it != seen_.end() && !it->second.sound;
    if (it != seen_.end()) return &it->second;
    problem("index", db, hex(key),
            what + " names instance " + id_to_text(id) + ", which does not exist");
    return nullptr;
  }

  // The log's entries of stored instances (ids_, sorted) against the chains' count.
  void stored_entries() {
    std::uint64_t logged = 0, removed = 0;
    auto cur = txn_.cursor(Db::hist);
    for (bool ok = cur->first(); ok; ok = cur->next()) {
      std::uint64_t owner = cur->value().size() >= 8 ? read_be64(cur->value()) : 0;
      if (std::binary_search(ids_.begin(), ids_.end(), owner))
        ++logged;
      else
        ++removed;
    }
    if (cur->status())
      unreadable(Db::hist, cur->status());
    else if (logged != entries_)
      problem("chain", Db::hist, "",
              "the history log holds " + std::to_string(logged) +
                  " entries of stored instances but their chains reach " +
                  std::to_string(entries_) + " (besides " + std::to_string(removed) +
                  " entries of removed instances, which go with their month)");
  }

  void records() {
    auto inst = txn_.cursor(Db::inst);
    for (bool ok = inst->first(); ok; ok = inst->next()) {
      ++instances_;
      std::uint64_t id = read_be64(inst->key());
      if (keeps_removed_) ids_.push_back(id);  // in key order: sorted
      std::string id_text = id_to_text(id);
      if (inst->key().size() != 8) {
        problem("record", Db::inst, hex(inst->key()),
                "an instance key of " + std::to_string(inst->key().size()) +
                    " bytes (expected an 8-byte id)");
        continue;
      }
      Seen& s = seen_[id];
      auto r = decode_instance(inst->value());
      if (!r) {
        problem("record", Db::inst, id_text, "instance " + id_text + ": record does not decode");
        continue;
      }
      const Definition* def = find(r->definition, r->definition_version);
      std::string damage = def ? record_damage(*r, id, *def)
                               : "names definition " + r->definition + " v" +
                                     std::to_string(r->definition_version) +
                                     ", which is not deployed";
      if (!damage.empty())
        problem("record", Db::inst, id_text,
                "instance " + id_text + ": record is damaged: " + damage);
      r->id = id;  // its chain is walked as the key's
      chain(*r, id_text);
      if (!damage.empty()) continue;
      s = Seen{
          true, r->definition, def->states[r->state].name, r->business_key, r->parent, r->version,
          {}};
      for (const auto& t : r->timers) s.timers.emplace_back(t.due_ms, t.seq);
      s.access = access_entries(access_fields(*r), id);
      indexed(*r, s, id_text);
    }
    if (inst->status()) unreadable(Db::inst, inst->status());
  }

  // The index entries a sound record needs.
  void indexed(const InstanceRecord& r, const Seen& s, const std::string& id_text) {
    std::string sk = r.definition + '\0' + s.state + '\0' + be64(r.id);
    if (!get(Db::sidx, sk))
      problem("index", Db::sidx, id_text,
              "instance " + id_text + " is in state " + s.state + " of " + r.definition +
                  ", but the state index has no entry for it (expected key " + hex(sk) +
                  "; lists by definition and inboxes miss it)");
    if (!r.business_key.empty()) {
      auto v = get(Db::bkey, r.business_key);
      if (!v)
        problem("index", Db::bkey, id_text,
                "instance " + id_text + " has business key " + in_quotes(r.business_key) +
                    ", but the business-key index has no entry for it");
      else if (v->size() == 8 && read_be64(*v) < r.id)
        problem("index", Db::bkey, hex(r.business_key),
                "the business key " + in_quotes(r.business_key) + " names instance " +
                    id_to_text(read_be64(*v)) + ", older than instance " + id_text +
                    " with the same key (expected the newest)");
    }
    for (const auto& t : r.timers)
      if (!get(Db::timers, timer_key(t, r.id)))
        problem("index", Db::timers, id_text,
                "instance " + id_text + " has timer " + std::to_string(t.seq) + " armed for " +
                    std::to_string(t.due_ms) +
                    " ms, but the timer index has no entry for it (expected key " +
                    hex(timer_key(t, r.id)) + "; it would never fire)");
    for (const auto& e : s.access)
      if (!get(e.db, e.key))
        problem("index", e.db, id_text,
                "instance " + id_text + (e.db == Db::ridx ? " has reader key " : " has unit ") +
                    in_quotes(e.db == Db::ridx ? std::string_view(e.key).substr(0, e.key.find('\0'))
                                               : std::string_view(r.unit)) +
                    ", but the " + (e.db == Db::ridx ? "reader" : "unit") +
                    " index has no entry for it (expected key " + hex(e.key) +
                    "; scoped lists and counts miss it)");
    if (r.parent && !get(Db::children, be64(r.parent) + be64(r.id)))
      problem("index", Db::children, id_text,
              "instance " + id_text + " names parent " + id_to_text(r.parent) +
                  ", but the children index has no entry for it (cancelling the parent would not "
                  "cancel it)");
  }

  // Newest first: each entry's hash must be what the newer entry names as previous.
  void chain(const InstanceRecord& r, const std::string& id_text) {
    std::uint64_t expect = r.version, n = 0, at = r.last_entry;
    std::string newer_prev = r.last_hash;
    const char* newer = "the instance record";
    auto broken = [&](const std::string& why) {
      problem("chain", Db::hist, id_text,
              "instance " + id_text + ": entry " + std::to_string(expect) + ": " + why);
    };
    while (at != 0) {
      auto bytes = get(Db::hist, be64(at));
      if (!bytes) {
        broken("is missing from the history log");
        break;
      }
      auto stored = split_history_value(*bytes);
      std::string_view body;
      auto e = stored ? history_from_bytes(stored->sealed, &body) : std::nullopt;
      if (!e) {
        broken("does not decode");
        break;
      }
      if (stored->instance != r.id) {
        broken("belongs to instance " + id_to_text(stored->instance) + " (link tampered)");
        break;
      }
      if (stored->prev_entry >= at) {
        broken("links forward in the history log (link tampered)");
        break;
      }
      ++n;
      if (e->seq != expect) broken("sequence number is " + std::to_string(e->seq));
      if (e->hash != newer_prev)
        broken(std::string("hash differs from the one ") + newer + " names (link broken)");
      if (history_hash(e->prev_hash, body) != e->hash)
        broken("content does not match its hash (tampered)");
      attachments_.entry(r, *e, [&](const std::string& why) {
        if (++problems_ <= kMaxProblems)
          send_problem(out_, "attachment", "attachments", id_text,
                       "instance " + id_text + ": entry " + std::to_string(e->seq) + ": " + why);
      });
      newer_prev = e->prev_hash;
      newer = "the next entry";
      --expect;
      at = stored->prev_entry;
    }
    entries_ += n;
    if (n == r.version && !newer_prev.empty())
      problem("chain", Db::hist, id_text,
              "instance " + id_text + ": entry 1: names a previous hash (link broken)");
    if (n != r.version)
      problem("chain", Db::hist, id_text,
              "instance " + id_text + ": has " + std::to_string(n) +
                  " history entries but version " + std::to_string(r.version));
  }

  // s\0key -> be64(id) (a start); e\0 be64(id) key -> SHA-256 hex of the event (an event).
  void idem_entry(std::string_view key, std::string_view value) {
    bool skip = false;
    if (key.size() >= 2 && key[0] == 's' && key[1] == '\0') {
      std::string what = "the idempotency record of start key " + in_quotes(key.substr(2));
      if (value.size() != 8)
        problem("index", Db::idem, hex(key),
                what + " holds " + std::to_string(value.size()) +
                    " bytes (expected an 8-byte instance id)");
      else
        instance(Db::idem, key, read_be64(value),
                 what + " (a retried start would answer with nothing)", &skip);
    } else if (key.size() >= 10 && key[0] == 'e' && key[1] == '\0') {
      std::string what = "the idempotency record of event key " + in_quotes(key.substr(10));
      instance(Db::idem, key, read_be64(key, 2), what, &skip);
      if (value.size() != 64 ||
          value.find_first_not_of("0123456789abcdef") != std::string_view::npos)
        problem("index", Db::idem, hex(key),
                what + " holds " + in_quotes(value) +
                    " (expected a SHA-256 fingerprint, 64 hex digits)");
    } else if (key.size() >= 2 && (key[0] == 'S' || key[0] == 'E') && key[1] == '\0') {
      // A record keyed by the caller (idempotency.hpp): it holds the step's result.
      std::string what = std::string("the idempotency record ") +
                         (key[0] == 'S' ? "of a start" : "of an event") + " (key " + hex(key) + ")";
      auto rec = idem::decode_record(value);
      if (!rec) {
        problem("index", Db::idem, hex(key),
                what + " does not decode (a retried step is refused: record-damaged)");
        return;
      }
      if (key[0] == 'E' && (key.size() < 10 || read_be64(key, 2) != rec->instance))
        problem("index", Db::idem, hex(key),
                what + " is keyed by another instance than the " + id_to_text(rec->instance) +
                    " it names");
      const Seen* s = instance(Db::idem, key, rec->instance,
                               what + " (a retried step would answer with nothing)", &skip);
      if (s && !skip && rec->version > s->version)
        problem("index", Db::idem, hex(key),
                what + " answers version " + std::to_string(rec->version) + " but instance " +
                    id_to_text(rec->instance) + " is at version " + std::to_string(s->version));
    } else {
      problem("index", Db::idem, hex(key),
              "an idempotency record " + in_quotes(key) +
                  " is neither a start's (S\\0 or s\\0) nor an event's (E\\0 or e\\0)");
    }
  }

  void bkey_entry(std::string_view key, std::string_view value) {
    std::string what = "the business key " + in_quotes(key);
    if (value.size() != 8) {
      problem("index", Db::bkey, hex(key),
              what + " holds " + std::to_string(value.size()) +
                  " bytes (expected an 8-byte instance id)");
      return;
    }
    bool skip = false;
    const Seen* s = instance(Db::bkey, key, read_be64(value), what, &skip);
    if (s && !skip && s->business_key != key)
      problem("index", Db::bkey, hex(key),
              what + " names instance " + id_to_text(read_be64(value)) +
                  ", whose business key is " + in_quotes(s->business_key));
  }

  // definition \0 state \0 be64(id)
  void sidx_entry(std::string_view key, std::string_view) {
    std::size_t first = key.find('\0');
    if (first == std::string_view::npos || key.size() < first + 10 || key[key.size() - 9] != '\0') {
      problem("index", Db::sidx, hex(key),
              "a state-index key that is not definition \\0 state \\0 id");
      return;
    }
    std::string_view def = key.substr(0, first),
                     state = key.substr(first + 1, key.size() - 9 - first - 1);
    std::uint64_t id = read_be64(key, key.size() - 8);
    bool skip = false;
    const Seen* s = instance(
        Db::sidx, key, id,
        "the state index entry " + in_quotes(std::string(def) + "/" + std::string(state)), &skip);
    if (!s || skip) return;
    if (s->definition != def || s->state != state)
      problem("index", Db::sidx, hex(key),
              "the state index puts instance " + id_to_text(id) + " in " + shown(def) + "/" +
                  shown(state) + ", but it is in " + s->definition + "/" + s->state +
                  " (expected one entry, for its current state)");
  }

  // ridx: reader \0 definition \0 be64(id); uidx: definition \0 unit "/" \0 be64(id). The
  // entry must be one its instance's access fields give (Seen::access).
  void access_entry(Db db, std::string_view key) {
    const char* what = db == Db::ridx ? "reader" : "unit";
    if (key.size() < 10 || key[key.size() - 9] != '\0' || key.find('\0') + 9 >= key.size()) {
      problem(
          "index", db, hex(key),
          std::string("a ") + what + "-index key that is not " +
              (db == Db::ridx ? "reader \\0 definition \\0 id" : "definition \\0 unit/ \\0 id"));
      return;
    }
    std::uint64_t id = read_be64(key, key.size() - 8);
    bool skip = false;
    const Seen* s = instance(
        db, key, id,
        std::string("the ") + what + " index entry " + in_quotes(key.substr(0, key.size() - 9)),
        &skip);
    if (!s || skip) return;
    if (!std::binary_search(s->access.begin(), s->access.end(), IndexEntry{db, std::string(key)}))
      problem("index", db, hex(key),
              std::string("the ") + what + " index entry " +
                  in_quotes(key.substr(0, key.size() - 9)) + " names instance " + id_to_text(id) +
                  ", whose " +
                  (db == Db::ridx ? "reader keys do not include it" : "unit is another") +
                  " (it would show the instance to callers who may not see it)");
  }
  void ridx_entry(std::string_view key, std::string_view) { access_entry(Db::ridx, key); }
  void uidx_entry(std::string_view key, std::string_view) { access_entry(Db::uidx, key); }

  // be64(due) be64(instance) be32(seq)
  void timer_entry(std::string_view key, std::string_view) {
    if (key.size() != kTimerKeyBytes) {
      problem("index", Db::timers, hex(key),
              "a timer key of " + std::to_string(key.size()) + " bytes (expected 20)");
      return;
    }
    auto t = parse_timer_key(key);
    bool skip = false;
    std::string what =
        "timer " + std::to_string(t.seq) + " due at " + std::to_string(t.due_ms) + " ms";
    const Seen* s =
        instance(Db::timers, key, t.instance, "the timer index entry of " + what, &skip);
    if (!s || skip) return;
    for (const auto& [due, seq] : s->timers)
      if (seq == t.seq && due == t.due_ms) return;
    problem(
        "index", Db::timers, hex(key),
        "the timer index holds " + what + " of instance " + id_to_text(t.instance) +
            ", which the instance does not have armed (expected only the timers its record holds)");
  }

  // be64(parent) be64(child)
  // An archived instance's last record (retention.cpp): it decodes, it names a deployed
  // definition's state, and the instance is not also live (it would be counted twice).
  void gone_entry(std::string_view key, std::string_view value) {
    if (key.size() != 8) {
      problem("index", Db::gone, hex(key),
              "an archived instance's key of " + std::to_string(key.size()) +
                  " bytes (expected an 8-byte id)");
      return;
    }
    std::uint64_t id = read_be64(key);
    std::string id_text = id_to_text(id);
    auto r = decode_instance(value);
    if (!r) {
      problem("index", Db::gone, id_text,
              "archived instance " + id_text + ": its last record does not decode");
      return;
    }
    const Definition* def = find(r->definition, r->definition_version);
    if (!def || r->state < 0 || static_cast<std::size_t>(r->state) >= def->states.size())
      problem("index", Db::gone, id_text,
              "archived instance " + id_text + ": its last record names " + r->definition + " v" +
                  std::to_string(r->definition_version) +
                  (def ? " state " + std::to_string(r->state) + ", which it does not have"
                       : ", which is not deployed"));
    if (seen_.count(id))
      problem("index", Db::gone, id_text,
              "instance " + id_text + " is both stored and archived (counted twice)");
  }

  void child_entry(std::string_view key, std::string_view) {
    if (key.size() != 16) {
      problem("index", Db::children, hex(key),
              "a children key of " + std::to_string(key.size()) + " bytes (expected 16)");
      return;
    }
    std::uint64_t parent = read_be64(key), child = read_be64(key, 8);
    std::string what = "the children entry " + id_to_text(parent) + " -> " + id_to_text(child);
    bool skip = false, skip_child = false;
    instance(Db::children, key, parent, what, &skip);
    const Seen* c = instance(Db::children, key, child, what, &skip_child);
    if (c && !skip_child && c->parent != parent)
      problem("index", Db::children, hex(key),
              what + ": instance " + id_to_text(child) + " names " +
                  (c->parent ? "parent " + id_to_text(c->parent) : std::string("no parent")));
  }

  void outbox_entry(std::string_view key, std::string_view value) {
    std::uint64_t seq = read_be64(key);
    auto msg = decode_outbox(seq, value);
    if (!msg) {
      problem("outbox", Db::outbox, std::to_string(seq),
              "outbox message " + std::to_string(seq) +
                  ": record does not decode (it is never delivered)");
      return;
    }
    json m = json::from_msgpack(value.begin(), value.end(), true, false);
    if (m.is_object() && !get(Db::due, outbox_due_key_of(m, seq)))
      problem("index", Db::outbox, std::to_string(seq),
              "outbox message " + std::to_string(seq) +
                  " has no due-index entry (it is never delivered)");
    auto id = msg->instance_id.empty() ? std::nullopt : id_from_text(msg->instance_id);
    if (id && !seen_.count(*id))
      problem("outbox", Db::outbox, std::to_string(seq),
              "outbox message " + std::to_string(seq) + " names instance " + msg->instance_id +
                  ", which does not exist");
  }

  // A dead letter: a message record with `dead` set, whose seq is not also waiting.
  void dead_entry(std::string_view key, std::string_view value) {
    std::uint64_t seq = read_be64(key);
    auto msg = decode_outbox(seq, value);
    if (!msg) {
      problem("outbox", Db::dead, std::to_string(seq),
              "dead letter " + std::to_string(seq) +
                  ": record does not decode (it can never be retried)");
      return;
    }
    if (!msg->dead)
      problem("outbox", Db::dead, std::to_string(seq),
              "dead letter " + std::to_string(seq) + " is not marked dead");
    if (get(Db::outbox, key))
      problem("outbox", Db::dead, std::to_string(seq),
              "message " + std::to_string(seq) +
                  " is both waiting (outbox) and dead (it could be delivered twice)");
  }

  // A due-index key: channel \0 be64(due) be64(seq), naming a waiting message whose own
  // channel and due time make exactly this key (docs/storage.md, "The outbox").
  void due_entry(std::string_view key, std::string_view) {
    if (key.size() < 17 || key[key.size() - 17] != '\0') {
      problem("index", Db::due, hex(key),
              "a due-index key that is not channel \\0 be64(due) be64(seq)");
      return;
    }
    std::uint64_t seq = read_be64(key, key.size() - 8);
    auto bytes = get(Db::outbox, be64(seq));
    if (!bytes) {
      problem("index", Db::due, hex(key),
              "the due-index entry of outbox message " + std::to_string(seq) +
                  " names no waiting message");
      return;
    }
    json m = json::from_msgpack(bytes->begin(), bytes->end(), true, false);
    if (m.is_object() && outbox_due_key_of(m, seq) != key)
      problem("index", Db::due, hex(key),
              "the due-index entry of message " + std::to_string(seq) +
                  " disagrees with its channel or due time");
  }

  storage::Txn& txn_;
  const DefinitionSet& defs_;
  ChildOut& out_;
  std::unordered_map<std::uint64_t, Seen> seen_;
  std::uint64_t instances_ = 0, entries_ = 0, index_entries_ = 0, problems_ = 0;
  bool keeps_removed_ = false;
  std::vector<std::uint64_t> ids_;  // stored instances, sorted (keeps_removed_ only)
  AttachmentAudit attachments_;     // the files entries name (verify_attachments.hpp)
};

ChildOut* assert_out = nullptr;  // the child's pipe, for LMDB's assertion message

// Splits "a\tb\tc\trest" into n fields, the last taking the rest.
std::vector<std::string> fields(const std::string& text, std::size_t n) {
  std::vector<std::string> out;
  std::size_t at = 0;
  while (out.size() + 1 < n) {
    std::size_t tab = text.find('\t', at);
    if (tab == std::string::npos) break;
    out.push_back(text.substr(at, tab - at));
    at = tab + 1;
  }
  out.push_back(text.substr(at));
  out.resize(n);
  return out;
}

}  // namespace

VerifyReport check_store(const std::string& dir, const DefinitionSet* defs,
                         const AttachmentStore* attachments, storage::Env* remote) {
  VerifyReport report;
  report.file =
      remote ? remote->remote()->describe() : (std::filesystem::path(dir) / "data.mdb").string();
  ChildEnd end = run_in_child(
      [&](ChildOut& out) {
        try {
          if (remote) {
            out.line('S', std::to_string(static_cast<unsigned>(storage::Db::count_)) + "\t0");
            if (!defs) return;
            out.line('L', "");
            int rc = 0;
            auto txn = remote->begin(false, &rc);
            if (!txn) {
              out.line('O', "cannot begin a read transaction on " + report.file + ": " +
                                storage::error_text(rc));
              return;
            }
            Checker(*txn, *defs, out, dir, attachments, remote->remote()->keeps_removed_history())
                .run();
            return;
          }
          std::string error;
          auto env = storage::Env::open_read_only(dir, &error);
          if (!env) {
            out.line('O', error);
            return;
          }
          assert_out = &out;
          storage::on_lmdb_assert(*env,
                                  [](const char* message) { assert_out->line('A', message); });
          bool sound = true;
          storage::WalkSink sink{
              [&](const std::string& db) { out.line('W', db); },
              [&](const std::string& db, const std::string& key, const std::string& text) {
                sound = false;
                send_problem(out, "structure", db, key, text);
              }};
          auto counts = storage::walk_structure(*env, sink);
          out.line('S', std::to_string(counts.databases) + "\t" + std::to_string(counts.pages));
          if (!sound || !defs) return;
          out.line('L', "");
          int rc = 0;
          auto txn = env->begin(false, &rc);
          if (!txn) {
            out.line('O',
                     "cannot begin a read transaction on " + dir + ": " + storage::error_text(rc));
            return;
          }
          Checker(*txn, *defs, out, dir, attachments).run();
        } catch (const std::exception& e) {
          out.line('X', e.what());
        }
      },
      remote != nullptr);
  std::string walking, assertion;
  bool checking = false;  // past the walk: records and indexes
  auto add = [&](VerifyProblem p) {
    if (p.kind == "structure") {
      report.structure_ok = false;
      p.text = "store structure damaged in " + report.file + ": database " + p.db + ": " + p.text +
               (p.key.empty() ? "" : " (key " + p.key + ")");
    }
    report.broken.push_back(p.text);
    report.problems.push_back(std::move(p));
  };
  for (const auto& l : end.lines) {
    std::string text = l.substr(1);
    switch (l[0]) {
      case 'W':
        walking = text;
        break;
      case 'L':
        checking = true;
        break;
      case 'A':
        assertion = text;
        break;
      case 'S': {
        auto f = fields(text, 2);
        report.databases = std::strtoull(f[0].c_str(), nullptr, 10);
        report.pages = std::strtoull(f[1].c_str(), nullptr, 10);
        break;
      }
      case 'C': {
        auto f = fields(text, 3);
        report.instances = std::strtoull(f[0].c_str(), nullptr, 10);
        report.entries = std::strtoull(f[1].c_str(), nullptr, 10);
        report.index_entries = std::strtoull(f[2].c_str(), nullptr, 10);
        break;
      }
      case 'P': {
        auto f = fields(text, 4);
        add({f[0], f[1], f[2], f[3]});
        break;
      }
      case 'O':
        add({"open", "", "", text});
        break;
      case 'X':
        add({checking ? "record" : "structure", walking, "", "the check failed: " + text});
        break;
      default:
        break;
    }
  }
  if (!end.death.empty()) {
    std::string how =
        "the check's process was " + end.death +
        (assertion.empty() ? std::string() : " on LMDB's assertion \"" + assertion + "\"");
    if (end.lines.empty() && end.death.rfind("could not start", 0) == 0)
      add({"open", "", "", end.death});
    else if (checking)
      add({"structure", walking, "",
           how + " while it checked the records and indexes (a page is damaged)"});
    else
      add({"structure", walking.empty() ? "(main)" : walking, "",
           how + " while it walked this database (a page is damaged)"});
  }
  return report;
}

std::string damaged_store_text(const std::string& dir, const VerifyReport& report) {
  std::string first, more;
  std::size_t n = 0;
  for (const auto& p : report.problems)
    if (p.kind == "structure" && n++ == 0) first = p.text;
  if (n > 1) more = " (and " + std::to_string(n - 1) + " more)";
  return first + more +
         ". The last stop was not clean and the check at open found the store damaged, so it is "
         "not "
         "served. Restore the newest backup: stop every process using " +
         dir + ", move " + dir +
         " aside (keep it for analysis), check the backup with `bihuan verify --data-dir "
         "<backup>`, copy it to " +
         dir + " and start again (docs/operations.md, \"Restoring from a backup\")";
}

VerifyReport Reader::verify(StartCheck* start_check, const AttachmentStore* attachments) const {
  // The definitions are copied here: the child must not take the registry's lock.
  DefinitionSet defs;
  for (auto& d : registry_.all()) defs[{d->id, d->version}] = d;
  VerifyReport report =
      check_store(options_.data_dir, &defs, attachments, env_.remote() ? &env_ : nullptr);
  if (!report.structure_ok && start_check) start_check->damage_found();
  return report;
}

}  // namespace bihuan::runtime
