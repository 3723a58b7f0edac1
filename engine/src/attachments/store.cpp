// AttachmentStore: content-addressed files under <data dir>/attachments (bihuan/attachments.hpp,
// docs/attachments.md). Durability: write tmp/<random>, fsync it, rename into place,
// fsync the directory; the record (<hex>.json) the same way. A crash leaves at most a file
// in tmp/ (cleared at open) or a stored file without its record (rewritten by the next
// upload of the same bytes; stat() then answers from the file alone).
//
// With a file store (AttachmentOptions::files): the finished, fsync'd temp file is handed
// to the store (which answers once it holds the bytes durably), then removed; everything
// else is as above. attachments/store.json names the store for check_file and copy_files,
// which run without it.
#include <fcntl.h>
#include <magic.h>
#include <openssl/evp.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <random>
#include <stdexcept>
#include <vector>

#include "attachments/impl.hpp"
#include "attachments/io.hpp"
#include "bihuan/attachments.hpp"
#include "bihuan/json.hpp"

namespace bihuan {

namespace fs = std::filesystem;
using namespace attachment_io;

namespace {

// Copies <from>/{sha256,pending} to <to> (see copy_files). With `files`, each record
// <hex>.json under sha256/ brings the file's bytes from the store beside it. Throws.
void copy_parts(const fs::path& from, const fs::path& to, const AttachmentFiles* files) {
  std::uint64_t n = 0;
  auto put = [&](const fs::path& rel, std::string_view bytes) {
    fs::path tmp = to / "tmp" / ("copy-" + std::to_string(n++));
    write_synced(tmp, bytes);
    if (::rename(tmp.c_str(), (to / rel).c_str()) != 0)
      throw std::runtime_error(sys_error("rename to " + (to / rel).string()));
  };
  for (const char* part : {"sha256", "pending"}) {
    fs::create_directories(to / part);
    fs::create_directories(to / "tmp");
    std::error_code walk;
    for (auto it = fs::recursive_directory_iterator(from / part, walk);
         !walk && it != fs::recursive_directory_iterator(); it.increment(walk)) {
      fs::path rel = fs::relative(it->path(), from);
      if (it->is_directory()) {
        fs::create_directories(to / rel);
        continue;
      }
      std::string bytes;
      if (!read_all(it->path(), bytes)) continue;  // removed meanwhile (an orphan)
      put(rel, bytes);
      std::string name = rel.filename().string();
      if (!files || std::string_view(part) != "sha256" || name.size() != 64 + 5 ||
          rel.extension() != ".json")
        continue;
      std::string address = "sha256:" + name.substr(0, 64), error;
      std::string file;
      auto found = files->get(address, file, &error);
      if (found == AttachmentFiles::Found::error)
        throw std::runtime_error("file store \"" + files->name() + "\": " + error);
      if (found == AttachmentFiles::Found::yes)  // no: removed meanwhile (an orphan)
        put(rel.parent_path() / name.substr(0, 64), file);
    }
    if (walk && walk != std::errc::no_such_file_or_directory)
      throw std::runtime_error("cannot list " + (from / part).string() + ": " + walk.message());
    for (auto it = fs::recursive_directory_iterator(to / part);
         it != fs::recursive_directory_iterator(); ++it)
      if (it->is_directory()) sync_dir(it->path());
    sync_dir(to / part);
  }
}

// copy_parts into <dest_dir>/attachments, then fsyncs it and dest_dir. False and `error`.
bool copy_tree(const fs::path& from, const std::string& dest_dir, const AttachmentFiles* files,
               std::string* error) {
  fs::path to = fs::path(dest_dir) / "attachments";
  try {
    copy_parts(from, to, files);
    sync_dir(to);
    sync_dir(dest_dir);
  } catch (const std::exception& e) {
    if (error) *error = std::string("backup of the attachments failed: ") + e.what();
    return false;
  }
  return true;
}

}  // namespace

constexpr std::size_t kHeadBytes = 64 * 1024;  // what libmagic looks at

struct AttachmentUpload::State {
  int fd = -1;
  fs::path path;
  std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> md{EVP_MD_CTX_new(), EVP_MD_CTX_free};
  std::string head;  // the first kHeadBytes
  std::uint64_t size = 0, max = 0;
  bool too_large = false, installed = false;
  std::string error;
  ~State() {
    if (fd >= 0) ::close(fd);
    if (!installed && !path.empty()) ::unlink(path.c_str());
  }
};

AttachmentUpload::AttachmentUpload(std::unique_ptr<State> state) : s_(std::move(state)) {}
AttachmentUpload::~AttachmentUpload() = default;
std::uint64_t AttachmentUpload::size() const { return s_->size; }
bool AttachmentUpload::too_large() const { return s_->too_large; }
const std::string& AttachmentUpload::error() const { return s_->error; }

bool AttachmentUpload::write(std::string_view piece) {
  State& s = *s_;
  if (s.too_large || !s.error.empty()) return false;
  if (piece.size() > s.max - s.size) {
    s.too_large = true;
    return false;
  }
  std::size_t done = 0;
  while (done < piece.size()) {
    ssize_t n = ::write(s.fd, piece.data() + done, piece.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      s.error = sys_error("write " + s.path.string());
      return false;
    }
    done += static_cast<std::size_t>(n);
  }
  EVP_DigestUpdate(s.md.get(), piece.data(), piece.size());
  if (s.head.size() < kHeadBytes) s.head.append(piece.substr(0, kHeadBytes - s.head.size()));
  s.size += piece.size();
  return true;
}

AttachmentStore::AttachmentStore(const std::string& data_dir, AttachmentOptions options)
    : impl_(std::make_unique<Impl>()) {
  impl_->options = std::move(options);
  impl_->root = fs::path(data_dir) / "attachments";
  impl_->tmp = impl_->root / "tmp";
  impl_->pending = impl_->root / "pending";
  std::error_code ec;
  fs::remove_all(impl_->tmp, ec);
  for (const auto& d : {impl_->tmp, impl_->pending, impl_->root / "sha256"}) {
    fs::create_directories(d, ec);
    if (ec) throw std::runtime_error("cannot create " + d.string() + ": " + ec.message());
  }
  if (!impl_->options.store.empty() && !impl_->options.files)
    throw std::runtime_error("the attachment store \"" + impl_->options.store +
                             "\" is not a loaded file-store plugin instance");
  if (impl_->options.files) {
    const auto& files = *impl_->options.files;
    std::string want = json{{"store", files.name()}, {"plugin", files.plugin()}}.dump(), have;
    read_all(store_marker(impl_->root), have);
    if (have != want) try {
        impl_->install(want, store_marker(impl_->root));  // the rename replaces an old one
      } catch (const std::exception& e) {
        throw std::runtime_error(std::string("cannot write the store marker: ") + e.what());
      }
  }
  impl_->magic = magic_open(MAGIC_MIME_TYPE | MAGIC_ERROR);
  if (!impl_->magic || magic_load(impl_->magic, nullptr) != 0) {
    std::string why = impl_->magic ? magic_error(impl_->magic) : "magic_open failed";
    if (impl_->magic) magic_close(impl_->magic);
    throw std::runtime_error("libmagic: " + why);
  }
}

AttachmentStore::~AttachmentStore() {
  if (impl_ && impl_->magic) magic_close(impl_->magic);
}

const AttachmentOptions& AttachmentStore::options() const { return impl_->options; }

std::optional<std::string> AttachmentStore::parse_address(std::string_view address) {
  constexpr std::string_view prefix = "sha256:";
  if (address.size() != prefix.size() + 64 || address.substr(0, prefix.size()) != prefix)
    return std::nullopt;
  std::string hex(address.substr(prefix.size()));
  for (char c : hex)
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return std::nullopt;
  return hex;
}

std::string AttachmentStore::path_of(std::string_view address) const {
  auto hex = parse_address(address);
  return hex && !impl_->options.files ? (impl_->dir_of(*hex) / *hex).string() : std::string();
}

std::unique_ptr<AttachmentUpload> AttachmentStore::begin_upload() {
  auto state = std::make_unique<AttachmentUpload::State>();
  state->max = impl_->options.max_bytes;
  EVP_DigestInit_ex(state->md.get(), EVP_sha256(), nullptr);
  fs::path t = impl_->tmp_name();
  state->fd = ::open(t.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0444);
  if (state->fd < 0)
    state->error = sys_error("open " + t.string());
  else
    state->path = t;
  return std::unique_ptr<AttachmentUpload>(new AttachmentUpload(std::move(state)));
}

AttachmentStore::PutResult AttachmentStore::put(std::string_view bytes,
                                                const std::string& uploaded_by, TimePoint now) {
  if (bytes.size() > impl_->options.max_bytes) {
    PutResult r;
    r.status = PutStatus::too_large;
    return r;
  }
  auto upload = begin_upload();
  upload->write(bytes);
  return put(*upload, uploaded_by, now);
}

AttachmentStore::PutResult AttachmentStore::put(AttachmentUpload& upload,
                                                const std::string& uploaded_by, TimePoint now) {
  PutResult r;
  AttachmentUpload::State& u = *upload.s_;
  if (u.too_large) {
    r.status = PutStatus::too_large;
    return r;
  }
  if (!u.error.empty()) {
    r.error = u.error;
    return r;
  }
  std::string type = impl_->detect(u.head);
  bool allowed = false;
  for (const auto& t : impl_->options.types) allowed = allowed || t == type;
  if (!allowed) {
    r.status = PutStatus::wrong_type;
    r.detected = type;
    return r;  // the temp file goes with the upload
  }
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned mdn = 0;
  EVP_DigestFinal_ex(u.md.get(), md, &mdn);
  std::string hex = hex_of(md, mdn);
  std::string address = "sha256:" + hex;
  try {
    if (::fsync(u.fd) != 0) throw std::runtime_error(sys_error("fsync " + u.path.string()));
    ::close(u.fd);
    u.fd = -1;
    std::lock_guard lock(impl_->write_mu);
    fs::path dir = impl_->dir_of(hex);
    fs::path file = dir / hex, record = dir / (hex + ".json");
    if (auto have = stat(address); have && fs::exists(record)) {
      r.status = PutStatus::existed;
      r.info = *have;
      return r;
    }
    r.info = {address, u.size, type, uploaded_by, now};
    // The pending marker first: a crash after it leaves an orphan candidate the sweep
    // removes, never an unlisted file.
    if (!fs::exists(impl_->pending / hex)) impl_->install(marker_text(now), impl_->pending / hex);
    if (const AttachmentFiles* files = impl_->options.files.get()) {
      // The store says when it holds the bytes; the temp file goes with the upload.
      std::string error;
      if (!files->put(address, u.path.string(), u.size, type, &error))
        throw std::runtime_error("file store \"" + files->name() + "\": " + error);
      fs::create_directories(dir);
    } else if (!fs::exists(file)) {
      fs::create_directories(dir);
      if (::rename(u.path.c_str(), file.c_str()) != 0)
        throw std::runtime_error(sys_error("rename to " + file.string()));
      u.installed = true;
      sync_dir(dir);
    }
    impl_->install(record_text(r.info), record);
    r.status = PutStatus::stored;
  } catch (const std::exception& e) {
    r.status = PutStatus::failed;
    r.error = e.what();
  }
  return r;
}

std::optional<AttachmentInfo> AttachmentStore::stat(std::string_view address) const {
  auto hex = parse_address(address);
  if (!hex) return std::nullopt;
  fs::path dir = impl_->dir_of(*hex);
  std::error_code ec;
  std::uint64_t size = 0;
  if (const AttachmentFiles* files = impl_->options.files.get()) {
    if (files->size(std::string(address), size, nullptr) != AttachmentFiles::Found::yes)
      return std::nullopt;
  } else {
    size = fs::file_size(dir / *hex, ec);
    if (ec) return std::nullopt;
  }
  AttachmentInfo info{std::string(address), size, "application/octet-stream", "", {}};
  std::string text;
  if (read_all(dir / (*hex + ".json"), text)) {
    auto rec = json::parse(text, nullptr, false);
    if (rec.is_object()) {
      info.content_type = rec.value("contentType", info.content_type);
      info.uploaded_by = rec.value("uploadedBy", "");
      info.uploaded_at = TimePoint(Millis(rec.value("uploadedAtMs", std::int64_t{0})));
    }
  }
  return info;
}

bool AttachmentStore::read(std::string_view address, std::string& out, std::string* error) const {
  auto hex = parse_address(address);
  if (!hex) return false;
  if (impl_->options.files) {
    std::string why;
    auto found = impl_->options.files->get(std::string(address), out, &why);
    if (found == AttachmentFiles::Found::error && error)
      *error = why.empty() ? "the file store did not answer" : why;
    return found == AttachmentFiles::Found::yes;
  }
  std::string why;
  bool ok = read_stored(impl_->dir_of(*hex) / *hex, out, why);
  if (!ok && error) *error = why;
  return ok;
}

AttachmentStore::Check AttachmentStore::check(std::string_view address) const {
  const AttachmentFiles* files = impl_->options.files.get();
  if (!files) return check_file(impl_->root.parent_path().string(), address);
  auto hex = parse_address(address);
  if (!hex) return Check::missing;
  std::string bytes;
  switch (files->get(std::string(address), bytes, nullptr)) {
    case AttachmentFiles::Found::yes:
      return sha256_hex_of(bytes) == *hex ? Check::ok : Check::corrupt;
    case AttachmentFiles::Found::no:
      return Check::missing;
    case AttachmentFiles::Found::error:
      break;
  }
  return Check::unchecked;
}

namespace {

// Re-hashes `file` in 64 KiB pieces: ok, corrupt, or (absent) `absent`.
AttachmentStore::Check hash_check(const fs::path& file, const std::string& hex,
                                  AttachmentStore::Check absent) {
  int fd = ::open(file.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return absent;
  std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx(EVP_MD_CTX_new(), EVP_MD_CTX_free);
  EVP_DigestInit_ex(ctx.get(), EVP_sha256(), nullptr);
  std::vector<char> buf(64 * 1024);
  bool read_ok = true;
  for (;;) {
    ssize_t n = ::read(fd, buf.data(), buf.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) read_ok = false;
    if (n <= 0) break;
    EVP_DigestUpdate(ctx.get(), buf.data(), static_cast<std::size_t>(n));
  }
  ::close(fd);
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned n = 0;
  EVP_DigestFinal_ex(ctx.get(), md, &n);
  return read_ok && hex_of(md, n) == hex ? AttachmentStore::Check::ok
                                         : AttachmentStore::Check::corrupt;
}

}  // namespace

AttachmentStore::Check AttachmentStore::check_file(const std::string& data_dir,
                                                   std::string_view address) {
  auto hex = parse_address(address);
  if (!hex) return Check::missing;
  fs::path root = fs::path(data_dir) / "attachments";
  std::error_code ec;
  bool elsewhere = fs::exists(store_marker(root), ec);
  return hash_check(file_dir(root, *hex) / *hex, *hex,
                    elsewhere ? Check::unchecked : Check::missing);
}

AttachmentStore::Check AttachmentStore::check_copy(const std::string& root,
                                                   std::string_view address) {
  auto hex = parse_address(address);
  if (!hex) return Check::missing;
  return hash_check(file_dir(root, *hex) / *hex, *hex, Check::missing);
}

bool AttachmentStore::copy_files(const std::string& data_dir, const std::string& dest_dir,
                                 std::string* error) {
  fs::path from = fs::path(data_dir) / "attachments";
  std::error_code ec;
  if (!fs::is_directory(from, ec)) return true;
  if (std::string store = marked_store(from); !store.empty()) {
    if (error)
      *error = "backup of the attachments failed: the files of " + data_dir +
               " are kept by the file store \"" + store + "\" (" + store_marker(from).string() +
               "), which only the server reaches: back up through it (POST /v1/backup)";
    return false;
  }
  return copy_tree(from, dest_dir, nullptr, error);
}

std::string AttachmentStore::kept_by(const std::string& data_dir) {
  return marked_store(fs::path(data_dir) / "attachments");
}

bool AttachmentStore::copy_to(const std::string& dest_dir, std::string* error) const {
  const AttachmentFiles* files = impl_->options.files.get();
  if (!files) return copy_files(impl_->root.parent_path().string(), dest_dir, error);
  return copy_tree(impl_->root, dest_dir, files, error);
}

bool AttachmentStore::claim(std::string_view address, TimePoint now) {
  auto hex = parse_address(address);
  if (!hex) return false;
  std::lock_guard lock(impl_->write_mu);
  if (!stat(address)) return false;
  auto at = marker_time(impl_->pending / *hex);
  if (at && now - *at > impl_->options.orphan_after / 2)  // no marker: nothing to date
    impl_->install(marker_text(now), impl_->pending / *hex);
  return true;
}

std::size_t AttachmentStore::sweep_orphans(TimePoint now, const Referenced& referenced) {
  std::size_t removed = 0;
  bool unmarked = false;
  std::lock_guard lock(impl_->write_mu);
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(impl_->pending, ec)) {
    std::string hex = entry.path().filename().string();
    if (!parse_address("sha256:" + hex)) continue;
    auto at = marker_time(entry.path());
    if (!at || now - *at < impl_->options.orphan_after) continue;
    std::error_code rm;
    if (referenced) {
      std::optional<bool> named = referenced("sha256:" + hex);
      if (!named) continue;  // could not tell: asked again by the next sweep
      if (*named) {          // still named (released by a crash's retry, or restored)
        fs::remove(entry.path(), rm);
        unmarked = true;
        continue;
      }
    }
    fs::path dir = impl_->dir_of(hex);
    if (const AttachmentFiles* files = impl_->options.files.get()) {
      // The file first: a store that fails keeps the marker, and the next sweep retries.
      if (!files->remove("sha256:" + hex, nullptr)) continue;
    }
    fs::remove(dir / hex, rm);
    fs::remove(dir / (hex + ".json"), rm);
    if (fs::exists(dir, rm)) sync_dir(dir);
    fs::remove(entry.path(), rm);
    ++removed;
  }
  if (removed || unmarked) sync_dir(impl_->pending);
  return removed;
}

}  // namespace bihuan
