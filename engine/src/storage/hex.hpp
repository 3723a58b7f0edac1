// Lower-case hex of bytes, for keys in messages: the LMDB face (lmdb_env.hpp) and the
// PostgreSQL store (pg/) both name keys this way. Header-only, so that the store's library
// needs nothing of bihuan_engine.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace bihuan::storage {

// Lower-case hex of the first `max_bytes` bytes, "..." after when cut.
inline std::string hex(std::string_view bytes, std::size_t max_bytes = SIZE_MAX) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  for (unsigned char c : bytes.substr(0, max_bytes)) {
    out += kDigits[c >> 4];
    out += kDigits[c & 15];
  }
  if (bytes.size() > max_bytes) out += "...";
  return out;
}

}  // namespace bihuan::storage
