// CRC-32C (Castagnoli, reflected polynomial 0x82F63B78), the checksum of the write-ahead
// log's frames (storage/wal.hpp). With the x86-64 SSE4.2 `crc32` instruction where the CPU
// has it (checked once at run time), else table-driven, slicing by 8: the same results.
// crc32c("123456789") == 0xE3069283. Pure functions, safe from any thread.
#pragma once

#include <cstdint>
#include <string_view>

namespace bihuan::storage {

// The CRC of `data`, continuing from `crc` (the CRC of the bytes before it, 0 for none):
// crc32c(b, crc32c(a)) == crc32c(a + b).
std::uint32_t crc32c(std::string_view data, std::uint32_t crc = 0);

// The table-driven one alone (for tests: the instruction's results must equal it).
std::uint32_t crc32c_portable(std::string_view data, std::uint32_t crc = 0);

}  // namespace bihuan::storage
