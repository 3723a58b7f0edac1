// Definitions: deploy, decided in the write transaction, and the registry kept up with
// versions that another process (the CLI beside a server) stores in the same data
// directory.
#include "runtime/engine_impl.hpp"

namespace bihuan::runtime {

using storage::be64;
using storage::Db;

namespace {

// The defs key of a version: id, NUL, be64 version.
std::string defs_key(const std::string& id, std::int64_t version) {
  return id + std::string(1, '\0') + be64(static_cast<std::uint64_t>(version));
}

// The stored versions' count (0 when none was stored, or when it cannot be read: then
// nothing new is loaded now and the next transaction looks again).
std::uint64_t stored_count(storage::Txn& txn) {
  int rc = 0;
  auto v = txn.get(Db::meta, kDefsCountKey, rc);
  return !rc && v && v->size() == 8 ? storage::read_be64(*v) : 0;
}

std::string version_exists(const std::string& id, std::int64_t version) {
  return "definition " + id + " version " + std::to_string(version) +
         " is already deployed with different content; deploy it as a new version";
}

}  // namespace

DeployResult EngineImpl::deploy(const json& doc, const std::string& source_name) {
  DeployResult out;
  out.problems.set_file(source_name);
  DefinitionContext ctx;
  ctx.calendars = options_.calendars.get();
  if (!options_.notifiers.empty()) ctx.notifiers = &options_.notifiers;
  if (!options_.task_handlers.empty()) ctx.task_handlers = &options_.task_handlers;
  auto def = compile_definition(doc, out.problems, ctx);
  if (!def) return out;
  out.id = def->id;
  out.version = def->version;
  // The registry holds committed versions only, and a stored version never changes: a
  // version found there is decided without the writer.
  if (auto existing = reader_.registry().find(def->id, def->version)) {
    if (existing->digest == def->digest) {
      out.ok = out.unchanged = true;
      return out;
    }
    out.problems.error("/version", "version-exists", version_exists(def->id, def->version));
    return out;
  }
  Request r{Request::deploy, {}, {}, 0, defs_key(def->id, def->version), doc.dump(), {}, nullptr};
  r.def = def;
  StepResult res = submit_and_wait(std::move(r));
  if (res.error == StepError::version_conflict) {
    out.problems.error("/version", "version-exists", res.message);
    return out;
  }
  if (!res.ok()) {
    out.problems.error("", "storage", res.message);
    return out;
  }
  out.ok = true;
  out.unchanged = res.details.is_object() && res.details.value("unchanged", false);
  return out;
}

StepResult EngineImpl::apply_deploy(Batch& b, const Request& r) {
  StepResult out;
  if (b.failed()) return out;
  int rc = 0;
  auto stored = b.txn.get(Db::defs, r.text, rc);
  if (rc) {
    b.note(rc);
    return out;
  }
  if (stored) {  // the same text is the same digest (both are of doc.dump())
    if (*stored == r.value) {
      out.details = {{"unchanged", true}};
    } else {
      out.error = StepError::version_conflict;
      out.message = version_exists(r.def->id, r.def->version);
    }
    return out;
  }
  auto count = b.txn.get(Db::meta, kDefsCountKey, rc);
  if (rc) {
    b.note(rc);
    return out;
  }
  std::uint64_t n = count && count->size() == 8 ? storage::read_be64(*count) + 1 : 1;
  b.note(b.txn.put(Db::defs, r.text, r.value));
  b.note(b.txn.put(Db::meta, kDefsCountKey, be64(n)));
  out.details = {{"stored", n}};
  return out;
}

void EngineImpl::register_deployed(const std::vector<Request>& batch,
                                   const std::vector<StepResult>& results) {
  for (std::size_t i = 0; i < batch.size(); ++i) {
    if (batch[i].kind != Request::deploy || !results[i].ok() ||
        !results[i].details.contains("stored"))
      continue;
    reader_.registered(batch[i].def, results[i].details["stored"].get<std::uint64_t>());
  }
}

void Reader::registered(std::shared_ptr<const Definition> def, std::uint64_t count) const {
  registry_.add(std::move(def));
  // Ours is the next count: nothing else is new. (Otherwise the next read loads the rest.)
  std::uint64_t seen = count - 1;
  defs_seen_.compare_exchange_strong(seen, count);
}

bool Reader::load_definitions(storage::Txn& txn, Problems* problems) const {
  const std::uint64_t count = stored_count(txn);
  DefinitionContext ctx;
  ctx.calendars = options_.calendars.get();
  if (auto cur = txn.cursor(Db::defs)) {
    for (bool ok = cur->first(); ok; ok = cur->next()) {
      std::string_view key = cur->key();
      const std::size_t nul = key.find('\0');
      const std::string id(key.substr(0, nul));
      if (nul != std::string_view::npos && key.size() == nul + 9 &&
          registry_.find(id, static_cast<std::int64_t>(storage::read_be64(key.substr(nul + 1)))))
        continue;
      Problems p("stored definition " + id);
      auto doc = load_json(cur->value(), p);
      auto def = doc ? compile_definition(*doc, p, ctx) : nullptr;
      if (!def) {
        if (!problems) continue;  // a lazy reload: the version stays unknown to this process
        for (auto& item : p.items()) problems->add(item);
        problems->error("", "stored-definition",
                        "a stored definition no longer compiles (missing calendar?)");
        return false;
      }
      registry_.add(def);
    }
    if (cur->status()) {  // not every version was read: the count is not taken as seen
      if (problems)
        problems->error(
            "", "storage",
            "the stored definitions cannot be read: " + storage::error_text(cur->status()));
      return false;
    }
  }
  // At open: the count as found. Later: never lower (the writer may have counted its own
  // deploy meanwhile).
  std::uint64_t seen = defs_seen_.load();
  if (problems || seen == UINT64_MAX)
    defs_seen_ = count;
  else
    while (seen < count && !defs_seen_.compare_exchange_weak(seen, count)) {
    }
  return true;
}

void Reader::observe_definitions(storage::Txn& txn) const {
  const std::uint64_t count = stored_count(txn);
  if (count <= defs_seen_.load()) return;  // also before init (defs_seen_ is max then)
  std::lock_guard lock(defs_mu_);
  if (count <= defs_seen_.load()) return;  // another thread loaded them meanwhile
  load_definitions(txn, nullptr);
}

std::shared_ptr<const Definition> Reader::definition(const std::string& id,
                                                     std::optional<std::int64_t> version) const {
  if (version)
    if (auto known = registry_.find(id, version)) return known;  // a stored version never changes
  read_txn();  // loads versions stored by another process, if any
  return registry_.find(id, version);
}

std::vector<std::shared_ptr<const Definition>> Reader::definitions() const {
  read_txn();
  return registry_.all();
}

}  // namespace bihuan::runtime
