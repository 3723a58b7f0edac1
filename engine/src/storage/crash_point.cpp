#include "storage/crash_point.hpp"

#include <csignal>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <string>
#include <unordered_map>

namespace bihuan::storage {

void crash_point(const char* name) {
  const char* spec = std::getenv("BIHUAN_CRASH_POINT");
  if (!spec || !*spec) return;
  const char* colon = std::strrchr(spec, ':');
  std::size_t len = colon ? static_cast<std::size_t>(colon - spec) : std::strlen(spec);
  if (std::strlen(name) != len || std::strncmp(spec, name, len) != 0) return;
  const unsigned long nth = colon ? std::strtoul(colon + 1, nullptr, 10) : 1;
  static std::mutex mu;
  static std::unordered_map<std::string, unsigned long> passes;
  std::lock_guard lock(mu);
  if (++passes[name] >= nth) std::raise(SIGKILL);
}

}  // namespace bihuan::storage
