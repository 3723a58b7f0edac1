// The attachment reference index's keys (runtime/attachment_refs.hpp).
#include "runtime/attachment_refs.hpp"

namespace bihuan::runtime {

std::optional<std::string> attref_digest(std::string_view address) {
  constexpr std::string_view prefix = "sha256:";
  if (address.size() != prefix.size() + 64 || address.substr(0, prefix.size()) != prefix)
    return std::nullopt;
  for (char c : address.substr(prefix.size()))
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return std::nullopt;
  return storage::unhex(address.substr(prefix.size()));
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
