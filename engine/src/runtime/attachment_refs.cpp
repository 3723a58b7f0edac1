// The attachment reference index's keys (runtime/attachment_refs.hpp).
#include "runtime/attachment_refs.hpp"

#include "bihuan/attachments.hpp"

namespace bihuan::runtime {

std::optional<std::string> attref_digest(std::string_view address) {
  auto hex = AttachmentStore::parse_address(address);
  return hex ? storage::unhex(*hex) : std::nullopt;
}

std::string attref_by_address(std::string_view digest, std::uint64_t instance) {
  std::string k = "a";
  k += digest;
  k += storage::be64(instance);
  return k;
}

std::string attref_by_instance(std::uint64_t instance, std::string_view digest) {
  std::string k = "i";
  k += storage::be64(instance);
  k += digest;
  return k;
}

}  // namespace bihuan::runtime
