// AttachmentAudit (runtime/verify_attachments.hpp): which strings of an entry name files,
// and the re-hash of each file (AttachmentStore::check_file).
#include "runtime/verify_attachments.hpp"

#include <set>

#include "bihuan/attachments.hpp"
#include "bihuan/schema_attachments.hpp"

namespace bihuan::runtime {

namespace {

// The schema that checked the entry's strings in `def`: the event's payloadSchema (found
// in the entry's source state or an ancestor), or the dataSchema for a start.
const JsonSchema* schema_in(const Definition& def, const HistoryEntry& e) {
  if (e.kind == "start") return def.data_schema.get();
  if (e.event.empty()) return nullptr;
  for (int s = def.find_state(e.from); s >= 0; s = def.states[s].parent) {
    auto it = def.states[s].on.find(e.event);
    if (it != def.states[s].on.end()) return it->second.payload_schema.get();
  }
  return nullptr;
}

// What a check that is not ok means, as the end of verify's sentence.
std::string why_not_ok(AttachmentStore::Check check, bool through_store) {
  switch (check) {
    case AttachmentStore::Check::missing:
      return through_store ? ": the file is not stored (missing from the attachment store)"
                           : ": the file is not stored (missing from attachments/sha256/)";
    case AttachmentStore::Check::corrupt:
      return ": the stored file no longer hashes to its address (corrupt)";
    case AttachmentStore::Check::unchecked:
      return through_store
                 ? ": not checked: the file store failed to answer (see the server's log)"
                 : ": not checked: the files are kept by the file store that "
                   "attachments/store.json names, which only the server reaches (run verify "
                   "on the running server, GET /v1/verify)";
    case AttachmentStore::Check::ok:
      break;
  }
  return {};
}

}  // namespace

void AttachmentAudit::entry(const InstanceRecord& r, const HistoryEntry& e,
                            const std::function<void(const std::string&)>& report) {
  const json* doc = &e.payload;
  std::string base = "/payload";
  if (e.kind == "start") {  // changes: [["", <the start data>]]
    if (!e.changes.is_array() || e.changes.empty() || !e.changes[0].is_array() ||
        e.changes[0].size() != 2)
      return;
    doc = &e.changes[0][1];
    base = "/data";
  }
  if (doc->is_null()) return;
  // The instance's version first, then the others, newest first.
  std::vector<const Definition*> candidates;
  if (auto it = defs_.find({r.definition, r.definition_version}); it != defs_.end())
    candidates.push_back(it->second.get());
  for (auto it = defs_.rbegin(); it != defs_.rend(); ++it)
    if (it->first.first == r.definition && it->first.second != r.definition_version)
      candidates.push_back(it->second.get());
  const JsonSchema* schema = nullptr;
  for (const Definition* d : candidates)
    if ((schema = schema_in(*d, e))) break;
  if (!schema) return;
  std::vector<std::pair<std::string, std::string>> named;
  {
    AttachmentCollector collect(named);
    Problems ignored;  // an entry that no longer validates still names what it names
    schema->validate(*doc, ignored, base, "payload-invalid");
  }
  std::set<std::string> seen;  // a string checked by two subschemas is named once
  for (const auto& [path, address] : named) {
    if (!seen.insert(path).second) continue;
    auto [it, fresh] = checked_.try_emplace(address, 0);
    if (fresh)
      it->second = static_cast<int>(store_ ? store_->check(address)
                                           : AttachmentStore::check_file(dir_, address));
    auto check = static_cast<AttachmentStore::Check>(it->second);
    if (check == AttachmentStore::Check::ok) continue;
    report(base + path + " names " + address + why_not_ok(check, store_ != nullptr));
  }
}

}  // namespace bihuan::runtime
