// Scoped lists (docs/authorization.md): a viewer that is neither system nor a global
// administrator reads only its index ranges, never every instance. The ranges are its
// reader keys' parts of `ridx` and, with a unit, its unit's part of `uidx` for each
// definition (access_index.hpp); an instance in several of them is taken from the first.
#include "bihuan/query_match.hpp"
#include "runtime/reader.hpp"
#include "runtime/step.hpp"  // to_view

namespace bihuan::runtime {

using storage::Db;

Reader::ScopeWalk Reader::walk_scope(
    storage::Txn& txn, const Scope& scope, const std::vector<ScopeStream>& streams,
    std::size_t from, const std::string& after, std::size_t budget,
    const std::function<bool(InstanceRecord&, std::size_t)>& visit) const {
  ScopeWalk w;
  auto in = [](std::string_view key, const std::string& prefix) {
    return key.substr(0, prefix.size()) == prefix;
  };
  std::size_t read = 0;
  for (std::size_t s = from; s < streams.size(); ++s) {
    const ScopeStream& st = streams[s];
    auto cur = std::make_unique<ScanCursor>(scan(txn, st.db));
    const bool resume = s == from && !after.empty();
    bool ok = cur->seek(resume ? after : st.prefix);
    if (ok && resume && cur->key() == after) ok = cur->next();
    for (; ok && in(cur->key(), st.prefix); ok = cur->next()) {
      std::string_view key = cur->key();
      if (key.size() < st.prefix.size() + 8) continue;  // not an engine's key: verify names it
      ++read;
      auto r = read_record(txn, storage::read_be64(key, key.size() - 8), nullptr, &w.rc);
      if (w.rc) return w;
      // The record decides, not the entry: a stale entry yields nothing.
      bool go_on = !r || !yields(scope, st, *r) || visit(*r, s);
      if (go_on && read < budget) continue;
      w.stream = s;
      w.key = std::string(key);
      w.more = cur->next() && in(cur->key(), st.prefix);
      for (std::size_t t = s + 1; !w.more && !cur->status() && t < streams.size(); ++t) {
        w.renewals += cur->renewals();
        cur = std::make_unique<ScanCursor>(scan(txn, streams[t].db));
        w.more = cur->seek(streams[t].prefix) && in(cur->key(), streams[t].prefix);
      }
      w.rc = cur->status();
      w.renewals += cur->renewals();
      return w;
    }
    w.renewals += cur->renewals();
    if ((w.rc = cur->status())) return w;
  }
  return w;
}

namespace {

// The query's filters on a record (InstanceQuery), as query_matches() decides them on a
// view, without making a view of a record that does not match; its definition and viewer
// are the ranges walked.
bool record_matches(const InstanceRecord& r, const Definition* def, const InstanceQuery& q) {
  if (q.status && r.status != *q.status) return false;
  if (!q.definition.empty() && r.definition != q.definition) return false;
  if (!q.state.empty() && (!def || def->states[r.state].name != q.state)) return false;
  if (!q.business_key_prefix.empty() && r.business_key.rfind(q.business_key_prefix, 0) != 0)
    return false;
  if (!q.unit.empty() && !unit_covers(q.unit, r.unit)) return false;
  return data_matches(r.data, q.data_equals);
}

}  // namespace

InstancePage Reader::scoped_query(const InstanceQuery& q) const {
  InstancePage page;
  auto failed = [&](int rc) { return unavailable_page(rc); };
  int rc = 0;
  auto txn = read_txn(&rc);
  if (!txn) return failed(rc);
  const Scope scope(*q.viewer);
  auto ids = registry_.ids();
  const auto streams =
      scope_streams(scope, q.definition, std::vector<std::string>(ids.begin(), ids.end()));
  // The cursor: be32(stream) and the last index key read. One that does not name a key of
  // one of this query's ranges is refused (as an unscoped query's cursor is).
  std::size_t from = 0;
  std::string after;
  if (!q.cursor.empty()) {
    auto raw = storage::unhex(q.cursor);
    bool good = raw && raw->size() > 4;
    if (good) {
      from = storage::read_be32(*raw);
      after = raw->substr(4);
      good = from < streams.size() && after.size() > streams[from].prefix.size() &&
             after.rfind(streams[from].prefix, 0) == 0;
    }
    if (!good) {
      page.error = "the cursor \"" + q.cursor.substr(0, 64) +
                   "\" is not a nextCursor of this query" +
                   " (the same caller, definition, state and business-key prefix)";
      return page;
    }
  }
  const std::size_t limit = std::clamp<std::size_t>(q.limit, 1, 1000);
  std::shared_ptr<const Definition> def;
  auto w =
      walk_scope(*txn, scope, streams, from, after, 100000, [&](InstanceRecord& r, std::size_t) {
        if (!def || def->version != r.definition_version || def->id != r.definition)
          def = registry_.find(r.definition, r.definition_version);
        if (record_matches(r, def.get(), q)) page.items.push_back(to_view(std::move(r), def.get()));
        return page.items.size() < limit;
      });
  if (w.rc) return failed(w.rc);
  if (w.more)
    page.next_cursor = storage::hex(storage::be32(static_cast<std::uint32_t>(w.stream)) + w.key);
  return page;
}

}  // namespace bihuan::runtime
