// The change feed (bihuan/changes.hpp): the history log read in key order.
#include "runtime/changes.hpp"

#include <unordered_map>

#include "runtime/engine_impl.hpp"
#include "runtime/record.hpp"

namespace bihuan {

json Change::to_json(const TimeZone& tz) const {
  json j = entry.to_json(tz);
  j["cursor"] = cursor;
  j["instance"] = instance_id;
  j["definition"] = definition;
  j["definitionVersion"] = definition_version;
  return j;
}

namespace runtime {

using storage::Db;

std::string change_cursor(std::uint64_t log_key) { return storage::hex(storage::be64(log_key)); }

std::optional<std::uint64_t> parse_change_cursor(const std::string& cursor) {
  if (cursor.empty()) return 0;
  if (cursor.size() != 16) return std::nullopt;
  auto raw = storage::unhex(cursor);
  if (!raw || raw->size() != 8) return std::nullopt;
  return storage::read_be64(*raw);
}

ChangePage read_changes(storage::Txn& txn, const std::string& cursor, std::size_t limit,
                        bool skip_removed) {
  ChangePage page;
  auto after = parse_change_cursor(cursor);
  if (!after) {
    page.error = "the cursor \"" + cursor.substr(0, 64) +
                 "\" is not a change-feed cursor (16 hex digits from a page's nextCursor)";
    return page;
  }
  page.next_cursor = cursor.empty() ? change_cursor(0) : cursor;
  struct Owner {
    std::string definition;
    std::int64_t version = 0;
    bool removed = false;  // no record
  };
  std::unordered_map<std::uint64_t, Owner> owners;  // instance -> its definition, read once
  auto cur = txn.cursor(Db::hist);
  bool on = cur->seek(storage::be64(*after + 1));
  std::size_t skipped = 0;
  for (; on && page.items.size() < limit && skipped < kMaxSkipped; on = cur->next()) {
    std::uint64_t key = storage::read_be64(cur->key());
    Change c;
    c.cursor = change_cursor(key);
    page.next_cursor = c.cursor;
    auto stored = split_history_value(cur->value());
    auto e = stored ? history_from_bytes(stored->sealed) : std::nullopt;
    if (!e) {  // a damaged entry is reported by verify; the feed names it and goes on
      c.entry.kind = "damaged";
      if (stored) c.instance_id = id_to_text(stored->instance);
      page.items.push_back(std::move(c));
      continue;
    }
    c.instance_id = id_to_text(stored->instance);
    auto it = owners.find(stored->instance);
    if (it == owners.end()) {
      Owner o;
      int rc = 0;
      auto bytes = txn.get(Db::inst, storage::be64(stored->instance), rc);
      if (rc) {
        page = {};
        page.error = "the store could not be read (" + storage::error_text(rc) + ")";
        page.unavailable = true;
        return page;
      }
      if (bytes)
        if (auto r = decode_instance(*bytes)) o = {r->definition, r->definition_version};
      o.removed = !bytes;
      it = owners.emplace(stored->instance, std::move(o)).first;
    }
    if (skip_removed && it->second.removed) {  // left to go with its month: not a step now
      ++skipped;
      continue;
    }
    c.definition = it->second.definition;
    c.definition_version = it->second.version;
    c.entry = std::move(*e);
    page.items.push_back(std::move(c));
  }
  if (int rc = cur->status()) {
    page = {};
    page.error = "the store could not be read (" + storage::error_text(rc) + ")";
    page.unavailable = true;
  }
  return page;
}

ChangePage EngineImpl::changes(const std::string& cursor, std::size_t limit) const {
  limit = std::clamp<std::size_t>(limit, 1, 100000);
  int rc = 0;
  auto txn = read_txn(&rc);
  if (!txn) {
    ChangePage page;
    page.error = unreadable(rc);
    page.unavailable = true;
    return page;
  }
  return read_changes(*txn, cursor, limit, keeps_removed_history());
}

}  // namespace runtime

ChangePage changes(const Engine& engine, const std::string& cursor, std::size_t limit) {
  return dynamic_cast<const runtime::EngineImpl&>(engine).changes(cursor, limit);
}

}  // namespace bihuan
