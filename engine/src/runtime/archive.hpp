// Retention's archive files (docs/retention.md, "Archive file format"): one batch of
// instances as zstd-compressed JSON lines, a header, one line per instance (its stored
// record and every history entry, sealed bytes and readable form), a trailer with the
// counts and the SHA-256 of every line before it.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "bihuan/json.hpp"
#include "bihuan/retention.hpp"

namespace bihuan::runtime {

inline constexpr const char* kArchiveFormat = "bihuan-archive";
// 2: each instance's files are copied under files/ beside the archive (1: addresses only).
inline constexpr int kArchiveVersion = 2;
inline constexpr const char* kArchiveSuffix = ".jsonl.zst";

struct ArchivedInstance {
  std::uint64_t id = 0;
  std::string record;                    // the stored record (MessagePack bytes)
  std::vector<std::string> entries;      // its sealed history entries, oldest first
  std::vector<std::string> attachments;  // attachment addresses its data names
  // The log keys its entries had, oldest first (each history item's optional "key"): a
  // restore deletes the copies a store that keeps removed history still holds. Empty when
  // the archive does not give them all (archives before they were written).
  std::vector<std::uint64_t> keys;
};

// The uncompressed lines of a batch; *sha256: the hash the trailer holds.
std::string archive_lines(const json& header, const std::vector<ArchivedInstance>& items,
                          std::string* sha256);
// Compresses `lines` and writes them to dir/name: a temporary name first, fsync'd,
// renamed, the directory fsync'd. "" on success, else what failed. BIHUAN_ARCHIVE_CRASH
// ("before-rename" / "after-rename") kills the process there (the crash test).
// Kills the process (SIGKILL) when BIHUAN_ARCHIVE_CRASH is `where`: "after-copies" (the
// files copied, the archive not written), "before-rename", "after-rename", "after-release"
// (the files released, the instances not removed). For the crash test only.
void archive_crash_point(const char* where);
std::string write_archive(const std::string& dir, const std::string& name,
                          const std::string& lines);

struct ArchiveContents {
  json header;
  std::vector<ArchivedInstance> items;
  ArchiveCheck check;  // what is wrong with it (items are those that passed)
};
// Reads and checks a whole archive file (no data directory needed), and for version 2
// the copy of every file its instances name (files/sha256/ab/cd/<hex> beside it).
ArchiveContents read_archive(const std::string& path);

// The attachment addresses ("sha256:<64 hex>") among the strings of `data`, sorted, once.
std::vector<std::string> attachment_addresses(const json& data);

}  // namespace bihuan::runtime
