// Retention (bihuan/retention.hpp; docs/retention.md): finished instances whose retention
// has run out are written to an archive file and then removed, a batch at a time. The
// scan runs on the caller's thread in read transactions of bounded length; each removal
// is one request through the writer (one write transaction), so steps commit in between.
#include <algorithm>
#include <cctype>
#include <filesystem>
#include <map>
#include <set>
#include <unordered_set>

#include "bihuan/attachments.hpp"
#include "runtime/archive.hpp"
#include "runtime/attachment_refs.hpp"
#include "runtime/chain_walk.hpp"
#include "runtime/engine_impl.hpp"
#include "runtime/idempotency.hpp"
#include "runtime/record.hpp"

namespace bihuan::runtime {

using storage::be64;
using storage::Db;

// One removal (or restore) of a batch, applied by the writer.
struct RetireRequest {
  struct Item {
    std::uint64_t id = 0;
    std::uint64_t version = 0;             // retire: removed only if the record still has it
    std::string record;                    // restore: the stored record
    std::vector<std::string> entries;      // restore: its sealed history, oldest first
    std::vector<std::string> idem_keys;    // retire: start idempotency records naming it
    std::vector<std::string> attachments;  // restore: the files it names (reference index)
    std::vector<std::uint64_t> old_keys;   // restore: the log keys it had (may be empty)
  };
  bool restore = false;
  std::vector<Item> items;
  std::string archive;  // retire: the file's name, recorded as meta "archive/<name>"
  std::string summary;  // its meta value (JSON text)
};

namespace {

inline constexpr const char* kArchiveMetaPrefix = "archive/";
// Records read per read transaction by the scan: no snapshot is held for long.
inline constexpr std::size_t kScanChunk = 4096;
// Instances removed (or restored) per write request (submit_retire).
inline constexpr std::size_t kRetireChunk = 64;

std::string state_key(const std::string& def, const std::string& state, std::uint64_t id) {
  std::string k = def;
  k += '\0';
  k += state;
  k += '\0';
  k += be64(id);
  return k;
}

// Every key in `db` that starts with `prefix`.
std::vector<std::string> keys_with_prefix(Store& store, Db db, const std::string& prefix, int& rc) {
  std::vector<std::string> keys;
  auto cur = store.cursor(db);
  for (bool on = cur->seek(prefix); on && cur->key().substr(0, prefix.size()) == prefix;
       on = cur->next())
    keys.emplace_back(cur->key());
  rc = cur->status();
  return keys;
}

std::string compact_time(std::int64_t ms) {
  std::string t = format_time(TimePoint(Millis(ms)), *TimeZone::utc());
  std::string out;
  for (char c : t)
    if (std::isalnum(static_cast<unsigned char>(c))) out += c;
  return out;
}

}  // namespace

StepResult EngineImpl::apply_retire(Batch& b, const Request& r) {
  const RetireRequest& q = *r.retire_req;
  std::size_t done = 0, skipped = 0;
  for (const auto& item : q.items) {
    std::string id_key = be64(item.id);
    int rc = 0;
    auto bytes = b.txn.get(Db::inst, id_key, rc);
    if (rc) {
      b.note(rc);
      return {};
    }
    if (q.restore) {
      if (bytes) {
        ++skipped;  // present: left alone
        continue;
      }
      auto rec = decode_instance(item.record);
      if (!rec) continue;  // read_archive checked it
      // A store that keeps removed history may still hold its old entries: they go, so
      // the log holds each step once (a detached month's are gone already).
      if (keeps_removed_history())
        for (std::uint64_t old : item.old_keys) {
          auto held = b.txn.get(Db::hist, be64(old), rc);
          b.note(rc);
          if (held && held->size() >= 8 && storage::read_be64(*held) == item.id)
            b.note(b.txn.del(Db::hist, be64(old)));
        }
      std::uint64_t prev = 0;
      for (const auto& sealed : item.entries) {
        std::uint64_t key = b.next.history++;
        b.note(b.txn.put(Db::hist, be64(key), history_value(item.id, prev, sealed), true));
        prev = key;
      }
      rec->last_entry = prev;
      b.note(b.txn.put(Db::inst, id_key, encode(*rec)));
      b.note(b.txn.del(Db::gone, id_key));  // live again: counted from its record
      b.note(put_attachment_refs(b.txn, item.id, item.attachments));
      if (auto def = reader_.registry().find(rec->definition, rec->definition_version);
          def && rec->state >= 0 && static_cast<std::size_t>(rec->state) < def->states.size())
        b.note(b.txn.put(Db::sidx,
                         state_key(rec->definition, def->states[rec->state].name, item.id), ""));
      if (!rec->business_key.empty()) {
        auto newest = b.txn.get(Db::bkey, rec->business_key, rc);
        b.note(rc);
        if (!newest || storage::read_be64(*newest) < item.id)
          b.note(b.txn.put(Db::bkey, rec->business_key, id_key));
      }
      AccessFields fields = access_fields(*rec);
      b.note(reindex_access(b.txn, item.id, nullptr, fields));
      if (rec->parent) b.note(b.txn.put(Db::children, be64(rec->parent) + id_key, ""));
      for (const auto& t : rec->timers) b.note(b.txn.put(Db::timers, timer_key(t, item.id), ""));
      ++done;
      continue;
    }
    if (!bytes) {
      ++skipped;  // already removed (an earlier run finished this archive)
      continue;
    }
    auto decoded = decode_instance(*bytes);
    if (!decoded || decoded->version != item.version ||
        decoded->status == InstanceStatus::running) {
      ++skipped;  // changed since it was archived: kept (it is in the archive as it was)
      continue;
    }
    InstanceRecord rec = std::move(*decoded);
    // Its history, newest first along the links; a store that keeps removed history (by
    // month, PostgreSQL) leaves it to go with its month (detach_history_month).
    if (int walk = keeps_removed_history()
                       ? 0
                       : walk_chain(b.txn, rec, [&](std::uint64_t key, std::string_view) {
                           b.note(b.txn.del(Db::hist, be64(key)));
                         })) {
      b.note(walk);
      return {};
    }
    b.note(b.txn.del(Db::inst, id_key));
    if (auto def = reader_.registry().find(rec.definition, rec.definition_version);
        def && rec.state >= 0 && static_cast<std::size_t>(rec.state) < def->states.size())
      b.note(b.txn.del(Db::sidx, state_key(rec.definition, def->states[rec.state].name, item.id)));
    if (!rec.business_key.empty()) {
      auto newest = b.txn.get(Db::bkey, rec.business_key, rc);
      b.note(rc);
      if (newest && *newest == id_key) b.note(b.txn.del(Db::bkey, rec.business_key));
    }
    for (const auto& e : access_entries(access_fields(rec), item.id))
      b.note(b.txn.del(e.db, e.key));
    if (rec.parent) b.note(b.txn.del(Db::children, be64(rec.parent) + id_key));
    for (const auto& t : rec.timers) b.note(b.txn.del(Db::timers, timer_key(t, item.id)));
    // The files it names were copied beside the archive and released (run_retention).
    b.note(drop_attachment_refs(b.txn, item.id));
    // Its last record stays for statistics (a period's counts do not change).
    rec.last_entry = 0;
    rec.timers.clear();
    b.note(b.txn.put(Db::gone, id_key, encode(rec)));
    // Stale entries naming it: children index entries of children gone before, and the
    // idempotency records of its events (docs/storage.md, `idem`).
    for (const auto& k : keys_with_prefix(b.txn, Db::children, id_key, rc))
      b.note(b.txn.del(Db::children, k));
    b.note(rc);
    for (const auto& k : keys_with_prefix(b.txn, Db::idem, std::string("E\0", 2) + id_key, rc))
      b.note(b.txn.del(Db::idem, k));
    b.note(rc);
    for (const auto& k : item.idem_keys) {  // read again: a newer start may have taken the key
      auto v = b.txn.get(Db::idem, k, rc);
      b.note(rc);
      if (!v) continue;
      bool names_it = k[0] == 's' ? *v == id_key : [&] {
        auto found = idem::decode_record(*v);
        return found && found->instance == item.id;
      }();
      if (names_it) b.note(b.txn.del(Db::idem, k));
    }
    ++done;
  }
  if (!q.restore) {
    // The removed keys are never given out again (change-feed cursors name them).
    b.note(b.txn.put(Db::meta, kHistoryNextKey, be64(b.next.history)));
    if (!q.archive.empty()) b.note(b.txn.put(Db::meta, kArchiveMetaPrefix + q.archive, q.summary));
  }
  StepResult out;
  out.details = {{q.restore ? "restored" : "removed", done},
                 {q.restore ? "present" : "skipped", skipped}};
  return out;
}

StepResult EngineImpl::submit_retire(std::shared_ptr<const RetireRequest> req) {
  // A retire request is not stageable: its batch is executed and committed directly, the
  // pipeline drained around it. So a batch is applied kRetireChunk instances at a time,
  // one request each, and steps go on in between. Only the last request records the
  // archive: a stop before it leaves the archive unrecorded, and the next run finishes it
  // (instances already removed are skipped).
  const char* done_key = req->restore ? "restored" : "removed";
  const char* kept_key = req->restore ? "present" : "skipped";
  const auto& items = req->items;
  std::size_t done = 0, kept = 0, i = 0;
  do {  // at least one request: an archive with no instances is still recorded
    const std::size_t end = std::min(items.size(), i + kRetireChunk);
    auto part = std::make_shared<RetireRequest>();
    part->restore = req->restore;
    part->items.assign(items.begin() + static_cast<std::ptrdiff_t>(i),
                       items.begin() + static_cast<std::ptrdiff_t>(end));
    if (end == items.size()) {
      part->archive = req->archive;
      part->summary = req->summary;
    }
    Request r{Request::retire, {}, {}, 0, {}, {}, {}, nullptr};
    r.retire_req = std::move(part);
    StepResult res = submit_and_wait(std::move(r));
    if (!res.ok()) return res;
    done += res.details.value(done_key, std::size_t{0});
    kept += res.details.value(kept_key, std::size_t{0});
    i = end;
  } while (i < items.size());
  StepResult total;
  total.details = {{done_key, done}, {kept_key, kept}};
  return total;
}

RetentionReport EngineImpl::run_retention(const RetentionRun& run) {
  RetentionReport rep;
  namespace fs = std::filesystem;
  const std::string dir =
      run.options.archive_dir.empty() ? options_.data_dir + "/archives" : run.options.archive_dir;
  const std::size_t batch = std::clamp<std::size_t>(run.options.batch, 1, 100000);
  std::error_code ec;
  std::size_t batches = 0;
  const TimePoint now = options_.clock->now();
  // The files archived instances name (docs/retention.md, "Attachments"): copied under
  // <dir>/files before their archive is renamed into place, released before the instances
  // are removed. A crash between the release and the removal leaves markers whose files
  // are still named (the sweep drops those markers, and the next run releases them again),
  // never a file that nothing would remove.
  const std::string files_dir = dir + "/files";
  fs::remove_all(files_dir + "/tmp", ec);  // copies a stopped run left half done
  const auto store = attachment_store_.load();
  auto release = [&](const std::vector<ArchivedInstance>& items) -> bool {
    std::set<std::string> done;
    for (const auto& it : items)
      for (const auto& a : it.attachments) {
        if (!done.insert(a).second) continue;
        std::string why;
        if (!(store ? store->release(a, now, &why)
                    : AttachmentStore::release_file(options_.data_dir, a, now, &why))) {
          rep.error = "releasing the archived file " + a + ": " + why +
                      " (the archive is finished by the next run)";
          return false;
        }
      }
    return true;
  };

  // Start idempotency records name their instance in the value (docs/storage.md, `idem`):
  // those of removed instances go with them, read once per run.
  std::unordered_map<std::uint64_t, std::vector<std::string>> start_records;
  {
    int rc = 0;
    auto txn = read_txn(&rc);
    if (!txn) {
      rep.error = unreadable(rc);
      return rep;
    }
    for (const char* prefix : {"S", "s"}) {
      auto cur = txn->cursor(Db::idem);
      std::string p(prefix, 1);
      p += '\0';
      for (bool on = cur->seek(p); on && cur->key().substr(0, 2) == p; on = cur->next()) {
        std::uint64_t names = 0;
        if (p[0] == 's') {
          if (cur->value().size() == 8) names = storage::read_be64(cur->value());
        } else if (auto rec = idem::decode_record(cur->value())) {
          names = rec->instance;
        }
        if (names) start_records[names].emplace_back(cur->key());
      }
      if (int st = cur->status()) {
        rep.error = unreadable(st);
        return rep;
      }
    }
  }

  // 1. Temporaries of a run that stopped before its rename hold nothing that was removed.
  //    Complete archives the store has not recorded (a stop between the rename and the
  //    removal) are finished first: their instances are removed now.
  if (fs::is_directory(dir, ec)) {
    std::vector<std::string> names;
    for (const auto& f : fs::directory_iterator(dir, ec)) {
      std::string name = f.path().filename().string();
      if (name.size() > 4 && name.ends_with(std::string(kArchiveSuffix) + ".tmp"))
        fs::remove(f.path(), ec);
      else if (name.ends_with(kArchiveSuffix))
        names.push_back(name);
    }
    std::sort(names.begin(), names.end());
    for (const auto& name : names) {
      int rc = 0;
      auto txn = read_txn(&rc);
      if (!txn) {
        rep.error = unreadable(rc);
        return rep;
      }
      bool recorded = txn->get(Db::meta, kArchiveMetaPrefix + name, rc).has_value();
      txn.reset();
      if (rc) {
        rep.error = unreadable(rc);
        return rep;
      }
      if (recorded) continue;
      ArchiveContents contents = read_archive(dir + "/" + name);
      if (!contents.check.ok()) {
        rep.error =
            "the unrecorded archive " + dir + "/" + name + " does not verify (" +
            (contents.check.problems.empty() ? std::string("?") : contents.check.problems.front()) +
            "): nothing more is removed until it is moved away";
        return rep;
      }
      // Version 1 archives hold addresses only: their files stayed, and stay, in the store.
      if (contents.header.value("version", 1) >= 2 && !release(contents.items)) return rep;
      auto req = std::make_shared<RetireRequest>();
      req->archive = name;
      req->summary = json{
          {"instances", contents.items.size()},
          {"sha256", contents.check.sha256},
          {"recovered",
           true}}.dump();
      for (auto& it : contents.items)
        if (auto rec = decode_instance(it.record)) {
          req->items.push_back({it.id, rec->version, {}, {}, {}});
          if (auto sr = start_records.find(it.id); sr != start_records.end())
            req->items.back().idem_keys = sr->second;
        }
      StepResult res = submit_retire(req);
      if (!res.ok()) {
        rep.error = "finishing " + name + ": " + res.message;
        return rep;
      }
      rep.removed += res.details.value("removed", std::size_t{0});
      ++rep.recovered;
      rep.archives.push_back(dir + "/" + name);
    }
  }

  // 2. Instances the outbox still names are kept until their messages are gone.
  std::unordered_set<std::uint64_t> named;
  for (const auto& list : {outbox(1u << 30, 0), dead_letters(1u << 30, 0)})
    for (const auto& m : list)
      if (auto id = id_from_text(m.instance_id)) named.insert(*id);

  // 3. The scan, in chunks; a batch is archived and removed as soon as it is full.
  std::vector<ArchivedInstance> pending;
  std::map<std::pair<std::string, std::int64_t>, std::shared_ptr<const Definition>> used;
  std::vector<std::uint64_t> versions;
  std::set<std::uint64_t> removed_keys;  // the log keys of the removed entries
  auto flush = [&]() -> bool {
    // The files first, each copied once per batch; an instance with a file that cannot be
    // copied (missing, corrupt, a file store out of reach) is held, and the reason logged.
    std::map<std::string, std::string> unavailable;  // address -> why
    std::set<std::string> copied;
    std::size_t keep = 0;
    for (std::size_t i = 0; i < pending.size(); ++i) {
      std::string why;
      for (const auto& a : pending[i].attachments) {
        if (copied.count(a)) continue;
        auto bad = unavailable.find(a);
        if (bad == unavailable.end()) {
          std::string e;
          if (AttachmentStore::export_file(options_.data_dir, store.get(), a, files_dir, &e)) {
            copied.insert(a);
            continue;
          }
          bad = unavailable.emplace(a, e).first;
        }
        why = a + ": " + bad->second;
        break;
      }
      if (!why.empty()) {
        ++rep.held;
        log("warn", "retention keeps an instance whose file cannot be archived",
            {{"instance", id_to_text(pending[i].id)},
             {"file", why},
             {"dataDir", options_.data_dir}});
        continue;
      }
      if (keep != i) {
        pending[keep] = std::move(pending[i]);
        versions[keep] = versions[i];
      }
      ++keep;
    }
    pending.resize(keep);
    versions.resize(keep);
    if (pending.empty()) {
      used.clear();
      return true;
    }
    archive_crash_point("after-copies");
    json defs = json::array();
    for (const auto& [k, def] : used)
      defs.push_back({{"id", k.first},
                      {"version", k.second},
                      {"digest", def ? def->digest : ""},
                      {"source", def ? def->source : json()}});
    json header = {{"format", kArchiveFormat},
                   {"version", kArchiveVersion},
                   {"created", format_time(now, *TimeZone::utc())},
                   {"instances", pending.size()},
                   {"definitions", defs},
                   {"attachments",
                    "each instance's files are under files/sha256/ab/cd/<hex> beside this "
                    "file, named by their address (the SHA-256 of their bytes)"}};
    std::string sha;
    std::string lines = archive_lines(header, pending, &sha);
    std::string stem = "archive-" + compact_time(now.time_since_epoch().count()) + "-" +
                       id_to_text(pending.front().id);
    std::string name = stem + kArchiveSuffix;
    for (int n = 2; fs::exists(dir + "/" + name, ec); ++n)  // never over an older archive
      name = stem + "-" + std::to_string(n) + kArchiveSuffix;
    std::string why = write_archive(dir, name, lines);
    if (!why.empty()) {
      rep.error = why;
      return false;
    }
    if (!release(pending)) return false;
    archive_crash_point("after-release");
    auto req = std::make_shared<RetireRequest>();
    req->archive = name;
    req->summary = json{{"instances", pending.size()}, {"sha256", sha}}.dump();
    for (std::size_t i = 0; i < pending.size(); ++i) {
      req->items.push_back({pending[i].id, versions[i], {}, {}, {}});
      if (auto it = start_records.find(pending[i].id); it != start_records.end())
        req->items.back().idem_keys = it->second;
    }
    StepResult res = submit_retire(req);
    if (!res.ok()) {
      rep.error = "removing the instances of " + name + ": " + res.message +
                  " (the archive is finished by the next run)";
      return false;
    }
    rep.removed += res.details.value("removed", std::size_t{0});
    rep.archives.push_back(dir + "/" + name);
    for (const auto& p : pending)  // their entries' months are detached after the run
      removed_keys.insert(p.keys.begin(), p.keys.end());
    pending.clear();
    versions.clear();
    used.clear();
    ++batches;
    return true;
  };

  auto finish = [&] {
    if (rep.error.empty() && keeps_removed_history()) detach_months(removed_keys, rep);
    return rep;
  };
  std::uint64_t after = 0;
  bool more = true;
  while (more && batches < run.max_batches) {
    int rc = 0;
    auto txn = read_txn(&rc);
    if (!txn) {
      rep.error = unreadable(rc);
      return rep;
    }
    auto cur = txn->cursor(Db::inst);
    std::size_t read = 0;
    bool on = cur->seek(be64(after + 1));
    for (; on && read < kScanChunk && pending.size() < batch; on = cur->next(), ++read) {
      std::uint64_t id = storage::read_be64(cur->key());
      after = id;
      ++rep.scanned;
      auto rec = decode_instance(cur->value());
      if (!rec || rec->status == InstanceStatus::running) continue;
      auto def = reader_.registry().find(rec->definition, rec->definition_version);
      std::optional<Duration> keep = run.retention;
      if (!keep && def && def->source.is_object() && def->source.contains("retention") &&
          def->source["retention"].is_string())
        keep = parse_duration(def->source["retention"].get<std::string>());
      if (!keep) keep = run.options.default_retention;
      if (!keep) continue;
      const TimeZone& tz = def && def->timezone ? *def->timezone : *TimeZone::utc();
      if (add_duration(TimePoint(Millis(rec->updated_ms)), *keep, tz) > now) continue;
      ++rep.expired;
      bool held = named.count(id) > 0;
      if (!held) {  // a child still stored keeps its parent
        auto kids = txn->cursor(Db::children);
        for (bool k = kids->seek(be64(id)); k && kids->key().substr(0, 8) == be64(id);
             k = kids->next())
          if (txn->get(Db::inst, kids->key().substr(8, 8), rc)) {
            held = true;
            break;
          }
      }
      if (held) {
        ++rep.held;
        continue;
      }
      ArchivedInstance a{id, std::string(cur->value()), {}, attachment_refs_of(*txn, id, rc), {}};
      if (rc) {
        rep.error = unreadable(rc);
        return rep;
      }
      bool whole = false;
      if ((rc = walk_chain(
               *txn, *rec,
               [&](std::uint64_t key, std::string_view sealed) {
                 a.entries.emplace_back(sealed);
                 a.keys.push_back(key);
               },
               &whole))) {
        rep.error = unreadable(rc);
        return rep;
      }
      if (!whole) {  // a broken chain is verify's to report; it is kept
        ++rep.held;
        log("warn", "retention keeps an instance whose history chain is broken",
            {{"instance", id_to_text(id)}, {"dataDir", options_.data_dir}});
        continue;
      }
      std::reverse(a.entries.begin(), a.entries.end());
      std::reverse(a.keys.begin(), a.keys.end());
      used[{rec->definition, rec->definition_version}] = def;
      versions.push_back(rec->version);
      pending.push_back(std::move(a));
    }
    if (int st = cur->status()) {
      rep.error = unreadable(st);
      return rep;
    }
    more = on;
    cur.reset();
    txn.reset();  // the snapshot ends before the archive is written and the writer removes
    if (pending.size() >= batch || !more)
      if (!flush()) return rep;
  }
  return finish();
}

void EngineImpl::detach_months(const std::set<std::uint64_t>& removed, RetentionReport& rep) {
  if (removed.empty()) return;
  storage::Remote* remote = env_->remote();
  std::vector<storage::HistoryMonth> months;
  std::string why;
  if (!remote->history_months(false, &months, &why)) {
    log("warn", "retention cannot list the history's months", {{"error", why}});
    return;
  }
  for (const auto& m : months) {
    auto in_month = removed.lower_bound(m.first_key);
    if (in_month == removed.end() || *in_month >= m.end_key || m.current || !m.written) continue;
    bool held = false;
    if (remote->detach_history_month(m.month, false, &why, &held)) {
      rep.months_detached.push_back(m.month);
      log("info", "retention detached a month of history",
          {{"table", m.table}, {"bytes", m.bytes}});
    } else if (!held) {
      log("warn", "retention cannot detach a month of history",
          {{"table", m.table}, {"error", why}});
    }
  }
}

}  // namespace bihuan::runtime

namespace bihuan {

RetentionReport run_retention(Engine& engine, const RetentionRun& run) {
  return dynamic_cast<runtime::EngineImpl&>(engine).run_retention(run);
}

namespace {
storage::Remote* months_store(Engine& engine, std::string* error) {
  storage::Remote* remote = dynamic_cast<runtime::EngineImpl&>(engine).remote_store();
  if ((!remote || !remote->keeps_removed_history()) && error)
    *error = "the store at " + engine.options().data_dir +
             " is LMDB: its history is one table, and retention deletes a removed instance's "
             "entries with it (history by month is a PostgreSQL store's)";
  return remote && remote->keeps_removed_history() ? remote : nullptr;
}
}  // namespace

bool history_months(Engine& engine, bool count, std::vector<HistoryMonth>* out,
                    std::string* error) {
  storage::Remote* remote = months_store(engine, error);
  return remote && remote->history_months(count, out, error);
}

bool detach_history_month(Engine& engine, int yyyymm, bool keep, std::string* error, bool* held) {
  if (held) *held = false;
  storage::Remote* remote = months_store(engine, error);
  return remote && remote->detach_history_month(yyyymm, keep, error, held);
}

ArchiveCheck verify_archive(const std::string& path) { return runtime::read_archive(path).check; }

RestoreReport restore_archive(Engine& engine, const std::string& path) {
  RestoreReport rep;
  auto contents = runtime::read_archive(path);
  if (!contents.check.ok()) {
    rep.error =
        "the archive does not verify: " +
        (contents.check.problems.empty() ? std::string("?") : contents.check.problems.front());
    return rep;
  }
  // The definition versions its instances ran on, deployed if this store lacks them.
  if (contents.header.contains("definitions") && contents.header["definitions"].is_array())
    for (const auto& d : contents.header["definitions"]) {
      std::string id = d.value("id", "");
      auto version = d.value("version", std::int64_t{0});
      if (engine.definition(id, version) || !d.contains("source") || d["source"].is_null())
        continue;
      DeployResult res = engine.deploy(d["source"], path);
      if (!res.ok) {
        rep.error =
            "definition " + id + " version " + std::to_string(version) +
            " from the archive cannot be deployed" +
            (res.problems.items().empty() ? "" : ": " + res.problems.items()[0].to_string());
        return rep;
      }
    }
  // The files, back into the store where it lacks them (a version 1 archive has none).
  auto& impl = dynamic_cast<runtime::EngineImpl&>(engine);
  if (contents.header.value("version", 1) >= 2) {
    auto parent = std::filesystem::path(path).parent_path();
    const std::string files =
        ((parent.empty() ? std::filesystem::path(".") : parent) / "files").string();
    const auto store = impl.attachment_store();
    std::set<std::string> done;
    for (const auto& it : contents.items)
      for (const auto& a : it.attachments) {
        std::string why;
        if (done.insert(a).second &&
            !AttachmentStore::import_file(engine.options().data_dir, store.get(), a, files,
                                          engine.clock().now(), &why)) {
          rep.error = "file " + a + " of instance " + runtime::id_to_text(it.id) + ": " + why;
          return rep;
        }
      }
  }
  auto req = std::make_shared<runtime::RetireRequest>();
  req->restore = true;
  for (auto& it : contents.items)
    req->items.push_back({it.id, 0, it.record, it.entries, {}, it.attachments, it.keys});
  StepResult res = impl.submit_retire(req);
  if (!res.ok()) {
    rep.error = res.message.empty() ? "the store could not be written" : res.message;
    return rep;
  }
  rep.restored = res.details.value("restored", std::size_t{0});
  rep.present = res.details.value("present", std::size_t{0});
  return rep;
}

}  // namespace bihuan
