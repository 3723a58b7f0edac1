// Which strings of a validated document are attachment addresses: those a schema checks
// with "format": "bihuan-attachment" (docs/attachments.md). The engine uses it to refuse
// a step naming a file that is not stored.
#pragma once

#include <string>
#include <utility>
#include <vector>

namespace bihuan {

// While alive, every JsonSchema::validate on this thread appends {path, address} to `out`
// for each string that passes a "bihuan-attachment" format check (path: a JSON Pointer
// relative to the validated document; a string checked by two subschemas appears twice).
// Not copyable; nests (the previous collector is restored).
class AttachmentCollector {
 public:
  explicit AttachmentCollector(std::vector<std::pair<std::string, std::string>>& out);
  ~AttachmentCollector();
  AttachmentCollector(const AttachmentCollector&) = delete;
  AttachmentCollector& operator=(const AttachmentCollector&) = delete;

 private:
  std::vector<std::pair<std::string, std::string>>* previous_;
};

}  // namespace bihuan
