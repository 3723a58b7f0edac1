// Private to the attachment store: durable file primitives shared by store.cpp and
// archive_copy.cpp. Functions that "throw" throw std::runtime_error with the system's
// message and the path.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>

#include "bihuan/attachments.hpp"

namespace bihuan::attachment_io {

namespace fs = std::filesystem;

std::string hex_of(const unsigned char* bytes, unsigned n);
std::string sys_error(const std::string& what);  // what + ": " + strerror(errno)
// Writes all of `bytes` to a new file `path` (mode 0444) and fsyncs it. Throws.
void write_synced(const fs::path& path, std::string_view bytes);
void sync_dir(const fs::path& dir);  // throws
bool read_all(const fs::path& path, std::string& out);
// A stored file's bytes: true and `out`; false with `error` empty when there is no such
// file; false with `error` saying what failed otherwise (not a regular file, EIO, ...).
bool read_stored(const fs::path& path, std::string& out, std::string& error);
std::string sha256_hex_of(std::string_view bytes);  // lowercase hex
// attachments/store.json of a data directory: the file store that keeps its files.
fs::path store_marker(const fs::path& root);
// The store a marker names ("" when there is no marker), for messages.
std::string marked_store(const fs::path& root);
// write_synced(tmp), rename to dest (its directory made first), fsync dest's directory.
// Throws (tmp removed).
void install_at(const fs::path& tmp, std::string_view bytes, const fs::path& dest);
// <root>/sha256/ab/cd: where the file <hex> and its record <hex>.json live.
fs::path file_dir(const fs::path& root, const std::string& hex);
// A pending marker's text, {"at": ms}, and the time a marker file holds (nullopt: it is
// not there or not a marker).
std::string marker_text(TimePoint at);
std::optional<TimePoint> marker_time(const fs::path& file);
// A stored file's record (<hex>.json): {address, size, contentType, uploadedBy,
// uploadedAtMs}.
std::string record_text(const AttachmentInfo& info);

}  // namespace bihuan::attachment_io
