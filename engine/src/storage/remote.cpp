// The registry of remote stores (remote.hpp).
#include "storage/remote.hpp"

#include <map>
#include <mutex>

namespace bihuan::storage {
namespace {

std::mutex& registry_mu() {
  static std::mutex mu;
  return mu;
}
std::map<std::string, RemoteFactory>& registry() {
  static std::map<std::string, RemoteFactory> r;
  return r;
}

}  // namespace

void register_remote(const std::string& scheme, RemoteFactory factory) {
  std::lock_guard lock(registry_mu());
  registry()[scheme] = std::move(factory);
}

std::unique_ptr<Remote> open_remote(const std::string& spec, std::string* error) {
  const auto colon = spec.find(':');
  const std::string scheme = colon == std::string::npos ? spec : spec.substr(0, colon);
  RemoteFactory f;
  {
    std::lock_guard lock(registry_mu());
    auto it = registry().find(scheme);
    if (it != registry().end()) f = it->second;
  }
  if (!f) {
    *error = "the store \"" + scheme + ":...\" is not known to this program (known: lmdb";
    std::lock_guard lock(registry_mu());
    for (const auto& [name, _] : registry()) *error += ", " + name;
    *error += ")";
    return nullptr;
  }
  return f(colon == std::string::npos ? std::string() : spec.substr(colon + 1), error);
}

}  // namespace bihuan::storage
