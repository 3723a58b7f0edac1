// CRC-32C (Castagnoli, reflected polynomial 0x82F63B78), the checksum of the write-ahead
// log's frames (storage/wal.hpp). Table-driven, slicing by 8; no CPU instructions.
// crc32c("123456789") == 0xE3069283. Pure functions, safe from any thread.
#pragma once

#include <cstdint>
#include <string_view>

namespace bihuan::storage {

// The CRC of `data`, continuing from `crc` (the CRC of the bytes before it, 0 for none):
// crc32c(b, crc32c(a)) == crc32c(a + b).
std::uint32_t crc32c(std::string_view data, std::uint32_t crc = 0);

}  // namespace bihuan::storage
