// Evidence files stored once by content (docs/attachments.md). A file's address is
// "sha256:<64 lowercase hex>", the SHA-256 of its bytes. Layout under the data directory:
//
//   attachments/sha256/ab/cd/<hex>       the file (read-only once renamed into place)
//   attachments/sha256/ab/cd/<hex>.json  who uploaded it, when, size, detected content type
//   attachments/pending/<hex>            an orphan candidate, {"at": ms}: uploaded, named
//                                        by a step lately, or released by retention. The
//                                        sweep removes the file once `at` is orphan_after
//                                        old and no stored instance names it.
//   attachments/tmp/                     files being written (cleared at open)
//
// A file is written to tmp/, fsync'd, renamed into place and its directory fsync'd before
// put() returns: a file is either wholly present under its address or absent, also after
// kill -9 or a power cut. Thread-safety: every member may be called from any thread.
//
// With a file store (AttachmentOptions::files, a file-store plugin) the files' bytes live
// there instead: the finished temp file is handed to it, then removed; the records, the
// pending markers and tmp/ stay local as above, and attachments/store.json names the
// store ({"store": <configured name>, "plugin": <plugin name>}), so that verify and
// backup without the server can tell "kept elsewhere" from "missing".
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "bihuan/time.hpp"

namespace bihuan {

// Where stored files' bytes live when not under <data_dir>/attachments/sha256: a
// file-store plugin (attachment_files_of, bihuan/plugin_host.hpp; docs/plugins.md).
// Addresses are always "sha256:<64 lowercase hex>". Thread-safe.
class AttachmentFiles {
 public:
  virtual ~AttachmentFiles() = default;
  enum class Found { yes, no, error };
  virtual std::string name() const = 0;    // the configured instance name
  virtual std::string plugin() const = 0;  // the plugin's name ("store.files")
  // Stores the complete, fsync'd local file `path` under `address`, durably, before
  // returning true; `path` stays the caller's. False with `error` when not stored.
  virtual bool put(const std::string& address, const std::string& path, std::uint64_t size,
                   const std::string& content_type, std::string* error) const = 0;
  virtual Found get(const std::string& address, std::string& out, std::string* error) const = 0;
  virtual Found size(const std::string& address, std::uint64_t& out, std::string* error) const = 0;
  // True once nothing is stored under `address` (also when nothing was).
  virtual bool remove(const std::string& address, std::string* error) const = 0;
};

struct AttachmentOptions {
  std::uint64_t max_bytes = 20u << 20;  // larger uploads are refused (too_large)
  // Content types accepted, as libmagic names them (MAGIC_MIME_TYPE).
  std::vector<std::string> types = {"image/jpeg", "image/png", "application/pdf"};
  // An upload nothing referenced within this time is removed by sweep_orphans().
  std::chrono::hours orphan_after{24};
  // The configured file-store plugin instance that keeps the files ("attachments":
  // {"store": name}); "" = the data directory. `files` is that instance, set by whoever
  // loaded the plugins (bihuan serve: resolve_attachment_store, bihuan/server.hpp).
  std::string store;
  std::shared_ptr<AttachmentFiles> files;
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
  // Opens (creating) <data_dir>/attachments and clears its tmp/ of half-written files;
  // with a file store, writes attachments/store.json (when it changed). Throws
  // std::runtime_error when the directories cannot be made, or when options.store names
  // a store but options.files is null.
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
  // The file's bytes (through the file store if any). False when there are none: not
  // stored, `error` left empty; or the store could not answer (a file store's failure, a
  // local read error other than "no such file"), `error` says what failed.
  bool read(std::string_view address, std::string& out, std::string* error = nullptr) const;

  // unchecked: the file is kept by a file store that could not be asked (check_file on a
  // data directory whose attachments/store.json names one, or the store failed).
  enum class Check { ok, missing, corrupt, unchecked };
  // Re-hashes the stored file (through the file store if any): missing (not there),
  // corrupt (bytes no longer hash to the address), ok; unchecked when the store failed.
  Check check(std::string_view address) const;
  // The same check without an open store (verify, docs/attachments.md): the file stored
  // for `address` under <data_dir>/attachments, read in pieces of 64 KiB (never whole).
  // Touches nothing (no tmp/ clearing, no libmagic): safe beside a running server. A file
  // not there while attachments/store.json names a file store is unchecked, not missing
  // (the store is the server's: verify reaches it only through the server, which checks
  // with check()).
  static Check check_file(const std::string& data_dir, std::string_view address);

  // A step names the file (at `now`, the engine's clock): true when it is stored. Its
  // pending marker, if any, is dated `now` again (when older than half of orphan_after),
  // so the sweep looks at it only once the step has long committed or been refused: then
  // the reference index decides (sweep_orphans' `referenced`). The check and the marker
  // hold the store's lock, so the sweep cannot remove the file between them.
  bool claim(std::string_view address, TimePoint now);
  // Nothing may name the file any more (its instances were archived, docs/retention.md):
  // it is an orphan candidate again, from `now`. False and `error` when the marker cannot
  // be written. release_file: the same without an open store (`bihuan archive run`).
  bool release(std::string_view address, TimePoint now, std::string* error) const;
  static bool release_file(const std::string& data_dir, std::string_view address, TimePoint now,
                           std::string* error);
  // Asked by the sweep before it removes a candidate: true = a stored instance still names
  // it (the marker goes, the file stays), false = none does, nullopt = could not tell
  // (both stay until the next sweep). The engine's answer: attachment_named().
  using Referenced = std::function<std::optional<bool>(const std::string& address)>;
  // Removes files that were orphan candidates for `options().orphan_after`, by the
  // caller's clock (`now`: the engine's), unless `referenced` says they are still named.
  // Returns how many were removed.
  std::size_t sweep_orphans(TimePoint now, const Referenced& referenced = {});

  // Archive copies (docs/retention.md, "Attachments"). export_file copies the file stored
  // under `address` and its record to <dest>/sha256/ab/cd/<hex> and <hex>.json (the
  // store's layout, written to <dest>/tmp/, fsync'd, renamed, the directory fsync'd)
  // after checking that its bytes hash to the address. A copy already there is kept.
  // `store`: the open store (reaches a file-store plugin); nullptr: <data_dir>'s own
  // files, refused (naming the store) when a file store keeps them. False and `error`.
  static bool export_file(const std::string& data_dir, const AttachmentStore* store,
                          std::string_view address, const std::string& dest, std::string* error);
  // The reverse (restore): the copy under <src>/sha256/... into the store when the store
  // lacks the file, re-hashed first, with a pending marker at `now` (the restored
  // instance's reference keeps it; see sweep_orphans). False and `error`.
  static bool import_file(const std::string& data_dir, const AttachmentStore* store,
                          std::string_view address, const std::string& src, TimePoint now,
                          std::string* error);
  // The copy export_file made under `root`: ok, missing or corrupt (never unchecked).
  static Check check_copy(const std::string& root, std::string_view address);

  // Copies the stored files, their records and the pending markers of <data_dir> into
  // <dest_dir>/attachments (each file written to a temporary name, fsync'd and renamed;
  // the directories fsync'd), for a backup that verifies on its own. Stored files never
  // change, so copying beside a running server is safe: a file uploaded meanwhile may be
  // copied or not, and one the orphan sweep removes meanwhile is skipped. Nothing to copy
  // (no attachments/ directory) is success. False and `error` on a failure.
  // A data directory whose files a file store keeps (attachments/store.json) is refused
  // with an error saying so: only copy_to() reaches the store.
  static bool copy_files(const std::string& data_dir, const std::string& dest_dir,
                         std::string* error);
  // The file store that keeps the files of <data_dir> (its attachments/store.json), or ""
  // when they are local (or there are none): a caller that cannot reach that store (a
  // backup without the server) refuses before it writes anything.
  static std::string kept_by(const std::string& data_dir);
  // The same for this store's data directory; with a file store, each recorded file is
  // fetched from it and written under <dest_dir>/attachments/sha256 (the local layout:
  // the backup holds its files and verifies on its own).
  bool copy_to(const std::string& dest_dir, std::string* error) const;

  // The path a stored file has (for tests that damage one on purpose); "" with a file
  // store (the store's own layout).
  std::string path_of(std::string_view address) const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace bihuan
