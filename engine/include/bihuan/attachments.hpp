// Evidence files stored once by content (docs/attachments.md). A file's address is
// "sha256:<64 lowercase hex>", the SHA-256 of its bytes. Layout under the data directory:
//
//   attachments/sha256/ab/cd/<hex>       the file (read-only once renamed into place)
//   attachments/sha256/ab/cd/<hex>.json  who uploaded it, when, size, detected content type
//   attachments/pending/<hex>            present while nothing has referenced the file yet
//                                        (the orphan sweep's list)
//   attachments/tmp/                     files being written (cleared at open)
//
// A file is written to tmp/, fsync'd, renamed into place and its directory fsync'd before
// put() returns: a file is either wholly present under its address or absent, also after
// kill -9 or a power cut. Thread-safety: every member may be called from any thread.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "bihuan/time.hpp"

namespace bihuan {

struct AttachmentOptions {
  std::uint64_t max_bytes = 20u << 20;  // larger uploads are refused (too_large)
  // Content types accepted, as libmagic names them (MAGIC_MIME_TYPE).
  std::vector<std::string> types = {"image/jpeg", "image/png", "application/pdf"};
  // An upload nothing referenced within this time is removed by sweep_orphans().
  std::chrono::hours orphan_after{24};
};

struct AttachmentInfo {
  std::string address;  // sha256:<hex>
  std::uint64_t size = 0;
  std::string content_type;  // detected
  std::string uploaded_by;   // actor id of the first upload
  TimePoint uploaded_at{};   // engine clock at the first upload
};

// A streamed upload (AttachmentStore::begin_upload): each piece is written to a file in
// tmp/ and hashed as it arrives, so memory holds one piece (and the first 64 KiB, for the
// type check), never the file. The temp file is removed when the object goes unless
// AttachmentStore::put(AttachmentUpload&, ...) moved it into place. One thread at a time.
class AttachmentUpload {
 public:
  ~AttachmentUpload();
  AttachmentUpload(const AttachmentUpload&) = delete;
  AttachmentUpload& operator=(const AttachmentUpload&) = delete;

  // Appends `piece`. False, and nothing more is ever written, once the size would pass
  // the store's max_bytes (too_large()) or a write failed (error(): disk full, ...).
  bool write(std::string_view piece);
  std::uint64_t size() const;
  bool too_large() const;
  const std::string& error() const;  // "" = no failure

 private:
  friend class AttachmentStore;
  struct State;
  explicit AttachmentUpload(std::unique_ptr<State> state);
  std::unique_ptr<State> s_;
};

class AttachmentStore {
 public:
  // Opens (creating) <data_dir>/attachments and clears its tmp/ of half-written files.
  // Throws std::runtime_error when the directories cannot be made.
  AttachmentStore(const std::string& data_dir, AttachmentOptions options);
  ~AttachmentStore();
  AttachmentStore(const AttachmentStore&) = delete;
  AttachmentStore& operator=(const AttachmentStore&) = delete;

  const AttachmentOptions& options() const;

  enum class PutStatus { stored, existed, too_large, wrong_type, failed };
  struct PutResult {
    PutStatus status = PutStatus::failed;
    AttachmentInfo info;   // stored / existed (existed: the first upload's record)
    std::string detected;  // wrong_type: what libmagic says the bytes are
    std::string error;     // failed: the system's message
  };
  // Stores `bytes` (checks size, then type), durably, before returning. A file already
  // stored answers `existed` and is not written again.
  PutResult put(std::string_view bytes, const std::string& uploaded_by, TimePoint now);
  // A streamed upload: begin, write the pieces as they arrive, then put() it (the same
  // checks: size while writing, then the type from the first bytes; then fsync, rename
  // into place). A temp file that cannot be made shows as error() on the upload.
  std::unique_ptr<AttachmentUpload> begin_upload();
  PutResult put(AttachmentUpload& upload, const std::string& uploaded_by, TimePoint now);

  // The parsed hex of "sha256:<64 lowercase hex>", or nullopt.
  static std::optional<std::string> parse_address(std::string_view address);
  // The file's record; nullopt when it is not stored.
  std::optional<AttachmentInfo> stat(std::string_view address) const;
  // The file's bytes (false when not stored or unreadable).
  bool read(std::string_view address, std::string& out) const;

  enum class Check { ok, missing, corrupt };
  // Re-hashes the stored file: missing (not there), corrupt (bytes no longer hash to the
  // address), ok.
  Check check(std::string_view address) const;
  // The same check without an open store (verify, docs/attachments.md): the file stored
  // for `address` under <data_dir>/attachments, read in pieces of 64 KiB (never whole).
  // Touches nothing (no tmp/ clearing, no libmagic): safe beside a running server.
  static Check check_file(const std::string& data_dir, std::string_view address);

  // A step named the file: it is no longer an orphan candidate. Idempotent.
  void mark_referenced(std::string_view address);
  // Removes files still unreferenced `options().orphan_after` after their upload, by the
  // caller's clock (`now`: the engine's). Returns how many were removed.
  std::size_t sweep_orphans(TimePoint now);

  // Copies the stored files, their records and the pending markers of <data_dir> into
  // <dest_dir>/attachments (each file written to a temporary name, fsync'd and renamed;
  // the directories fsync'd), for a backup that verifies on its own. Stored files never
  // change, so copying beside a running server is safe: a file uploaded meanwhile may be
  // copied or not, and one the orphan sweep removes meanwhile is skipped. Nothing to copy
  // (no attachments/ directory) is success. False and `error` on a failure.
  static bool copy_files(const std::string& data_dir, const std::string& dest_dir,
                         std::string* error);

  // The path a stored file has (for tests that damage one on purpose).
  std::string path_of(std::string_view address) const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace bihuan
