// Private to the attachment store: the state of an open AttachmentStore, shared by
// store.cpp and archive_copy.cpp.
#pragma once

#include <magic.h>
#include <unistd.h>

#include <atomic>
#include <mutex>
#include <random>

#include "attachments/io.hpp"
#include "bihuan/attachments.hpp"

namespace bihuan {

struct AttachmentStore::Impl {
  AttachmentOptions options;
  attachment_io::fs::path root, tmp, pending;
  std::mutex magic_mu;  // a magic_t is not thread-safe
  magic_t magic = nullptr;
  // Held by every writer (uploads, claims, releases, the sweep): one change at a time.
  std::mutex write_mu;
  std::atomic<std::uint64_t> seq{0};
  std::uint64_t salt = std::random_device{}();

  attachment_io::fs::path dir_of(const std::string& hex) const {
    return attachment_io::file_dir(root, hex);
  }
  attachment_io::fs::path tmp_name() {
    return tmp /
           (std::to_string(::getpid()) + "-" + std::to_string(salt) + "-" + std::to_string(seq++));
  }
  // Writes `bytes` under tmp/, renames it to dest and syncs dest's directory. Throws.
  void install(std::string_view bytes, const attachment_io::fs::path& dest) {
    attachment_io::install_at(tmp_name(), bytes, dest);
  }
  std::string detect(std::string_view bytes) {
    std::lock_guard lock(magic_mu);
    const char* m = magic_buffer(magic, bytes.data(), bytes.size());
    return m ? std::string(m) : std::string("application/octet-stream");
  }
};

}  // namespace bihuan
