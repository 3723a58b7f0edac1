// The attachment store's side of retention (bihuan/attachments.hpp; docs/retention.md,
// "Attachments"): releasing files whose instances were archived, copying files into an
// archive directory and back. Copies use the store's layout and durability: a file is
// written under a temporary name, fsync'd, renamed into place and its directory fsync'd,
// its record (<hex>.json) before it, so a copy whose file is present is complete.
#include <unistd.h>

#include <random>
#include <stdexcept>

#include "attachments/impl.hpp"
#include "attachments/io.hpp"
#include "bihuan/json.hpp"

namespace bihuan {

using namespace attachment_io;

namespace {

// A temporary name under `dir` (made if needed) no other process or call uses.
fs::path temp_in(const fs::path& dir) {
  static std::atomic<std::uint64_t> seq{0};
  static const std::uint64_t salt = std::random_device{}();
  fs::create_directories(dir);
  return dir / ("copy-" + std::to_string(::getpid()) + "-" + std::to_string(salt) + "-" +
                std::to_string(seq++));
}

// The pending marker of `hex` under `root` at `now` (replacing one there). Throws.
void write_marker(const fs::path& root, const std::string& hex, TimePoint now) {
  install_at(temp_in(root / "tmp"), marker_text(now), root / "pending" / hex);
}

bool failed(std::string* error, const std::string& why) {
  if (error) *error = why;
  return false;
}

}  // namespace

bool AttachmentStore::release(std::string_view address, TimePoint now, std::string* error) const {
  auto hex = parse_address(address);
  if (!hex) return failed(error, "not an attachment address: " + std::string(address));
  std::lock_guard lock(impl_->write_mu);
  try {
    write_marker(impl_->root, *hex, now);
  } catch (const std::exception& e) {
    return failed(error, e.what());
  }
  return true;
}

bool AttachmentStore::release_file(const std::string& data_dir, std::string_view address,
                                   TimePoint now, std::string* error) {
  auto hex = parse_address(address);
  if (!hex) return failed(error, "not an attachment address: " + std::string(address));
  try {
    write_marker(fs::path(data_dir) / "attachments", *hex, now);
  } catch (const std::exception& e) {
    return failed(error, e.what());
  }
  return true;
}

bool AttachmentStore::export_file(const std::string& data_dir, const AttachmentStore* store,
                                  std::string_view address, const std::string& dest,
                                  std::string* error) {
  auto hex = parse_address(address);
  if (!hex) return failed(error, "not an attachment address: " + std::string(address));
  const fs::path to = file_dir(dest, *hex);
  std::error_code ec;
  if (fs::exists(to / *hex, ec)) return true;  // copied by an earlier batch
  std::string bytes, record, why;
  if (store) {
    if (!store->read(address, bytes, &why)) return failed(error, why.empty() ? "not stored" : why);
    auto info = store->stat(address);
    record =
        record_text(info ? *info : AttachmentInfo{std::string(address), bytes.size(), {}, {}, {}});
  } else {
    const fs::path root = fs::path(data_dir) / "attachments";
    if (std::string kept = marked_store(root); !kept.empty())
      return failed(error, "kept by the file store \"" + kept +
                               "\", which only the server reaches: archive through it "
                               "(bihuan serve runs retention)");
    const fs::path from = file_dir(root, *hex) / *hex;
    if (!read_stored(from, bytes, why))
      return failed(error, why.empty() ? "not stored (no " + from.string() + ")" : why);
    if (!read_all(file_dir(root, *hex) / (*hex + ".json"), record))
      record = record_text({std::string(address), bytes.size(), {}, {}, {}});
  }
  if (sha256_hex_of(bytes) != *hex)
    return failed(error, "corrupt: its bytes no longer hash to its address");
  try {
    install_at(temp_in(fs::path(dest) / "tmp"), record, to / (*hex + ".json"));
    install_at(temp_in(fs::path(dest) / "tmp"), bytes, to / *hex);
  } catch (const std::exception& e) {
    return failed(error, e.what());
  }
  return true;
}

bool AttachmentStore::import_file(const std::string& data_dir, const AttachmentStore* store,
                                  std::string_view address, const std::string& src, TimePoint now,
                                  std::string* error) {
  auto hex = parse_address(address);
  if (!hex) return failed(error, "not an attachment address: " + std::string(address));
  const fs::path root = fs::path(data_dir) / "attachments";
  const AttachmentFiles* files = store ? store->impl_->options.files.get() : nullptr;
  if (!store)
    if (std::string kept = marked_store(root); !kept.empty())
      return failed(error, "kept by the file store \"" + kept +
                               "\", which only the server reaches: restore through it");
  std::unique_lock<std::mutex> lock;
  if (store) lock = std::unique_lock(store->impl_->write_mu);
  std::error_code ec;
  if (store ? store->stat(address).has_value() : fs::exists(file_dir(root, *hex) / *hex, ec))
    return true;  // stored: nothing to bring back
  const fs::path from = file_dir(src, *hex);
  std::string bytes, record, why;
  if (!read_stored(from / *hex, bytes, why))
    return failed(error, why.empty()
                             ? "not in the archive's files (no " + (from / *hex).string() + ")"
                             : why);
  if (sha256_hex_of(bytes) != *hex)
    return failed(
        error, "the archived copy " + (from / *hex).string() + " no longer hashes to its address");
  if (!read_all(from / (*hex + ".json"), record))
    record = record_text({std::string(address), bytes.size(), {}, {}, {}});
  try {
    // The marker first, as an upload does: a crash after it leaves an orphan candidate.
    write_marker(root, *hex, now);
    const fs::path to = file_dir(root, *hex);
    if (files) {
      fs::path t = temp_in(root / "tmp");
      write_synced(t, bytes);
      auto type = json::parse(record, nullptr, false);
      std::string content_type =
          type.is_object() ? type.value("contentType", "application/octet-stream") : "";
      bool put = files->put(std::string(address), t.string(), bytes.size(), content_type, &why);
      ::unlink(t.c_str());
      if (!put) throw std::runtime_error("file store \"" + files->name() + "\": " + why);
      fs::create_directories(to);
    } else {
      install_at(temp_in(root / "tmp"), bytes, to / *hex);
    }
    install_at(temp_in(root / "tmp"), record, to / (*hex + ".json"));
  } catch (const std::exception& e) {
    return failed(error, e.what());
  }
  return true;
}

}  // namespace bihuan
