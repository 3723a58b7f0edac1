// verify()'s attachment check (docs/attachments.md, "Verify"): every file a history entry
// names is stored and still hashes to its address. Runs in verify's child process.
#pragma once

#include <functional>
#include <string>
#include <unordered_map>

#include "bihuan/instance.hpp"
#include "runtime/record.hpp"
#include "runtime/verify.hpp"

namespace bihuan::runtime {

// Which strings name files is decided as the step did: the strings that pass a
// "format": "bihuan-attachment" check of the event's payloadSchema (an event entry) or of
// the dataSchema (a start entry's data). The schema is looked up in the instance's
// definition version, then in the definition's other versions (an instance migrated since
// the step); an entry whose event no version knows names no files. Each file is hashed
// once per check (in 64 KiB pieces), however many entries name it.
class AttachmentAudit {
 public:
  // `store`: the open store whose check() is used (files a file-store plugin keeps);
  // nullptr: AttachmentStore::check_file on `data_dir`.
  AttachmentAudit(std::string data_dir, const DefinitionSet& defs,
                  const AttachmentStore* store = nullptr)
      : dir_(std::move(data_dir)), defs_(defs), store_(store) {}

  // Calls `report` with a sentence ("/payload/photos/1 names sha256:...: ...") for each
  // named file that is missing or corrupt.
  void entry(const InstanceRecord& r, const HistoryEntry& e,
             const std::function<void(const std::string&)>& report);

 private:
  std::string dir_;
  const DefinitionSet& defs_;
  const AttachmentStore* store_;
  std::unordered_map<std::string, int> checked_;  // address -> AttachmentStore::Check
};

}  // namespace bihuan::runtime
