// Durable file primitives of the attachment store (attachments/io.hpp).
#include "attachments/io.hpp"

#include <fcntl.h>
#include <openssl/evp.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <stdexcept>

#include "bihuan/json.hpp"

namespace bihuan::attachment_io {

std::string hex_of(const unsigned char* bytes, unsigned n) {
  static const char* digits = "0123456789abcdef";
  std::string out;
  out.reserve(n * 2);
  for (unsigned i = 0; i < n; ++i) {
    out += digits[bytes[i] >> 4];
    out += digits[bytes[i] & 15];
  }
  return out;
}

std::string sys_error(const std::string& what) { return what + ": " + std::strerror(errno); }

// Writes all of `bytes` to a new file `path` and fsyncs it. Throws on failure.
void write_synced(const fs::path& path, std::string_view bytes) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0444);
  if (fd < 0) throw std::runtime_error(sys_error("open " + path.string()));
  std::size_t done = 0;
  while (done < bytes.size()) {
    ssize_t n = ::write(fd, bytes.data() + done, bytes.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      std::string e = sys_error("write " + path.string());
      ::close(fd);
      throw std::runtime_error(e);
    }
    done += static_cast<std::size_t>(n);
  }
  if (::fsync(fd) != 0) {
    std::string e = sys_error("fsync " + path.string());
    ::close(fd);
    throw std::runtime_error(e);
  }
  ::close(fd);
}

void sync_dir(const fs::path& dir) {
  int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) throw std::runtime_error(sys_error("open " + dir.string()));
  int rc = ::fsync(fd);
  ::close(fd);
  if (rc != 0) throw std::runtime_error(sys_error("fsync " + dir.string()));
}

bool read_all(const fs::path& path, std::string& out) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return false;
  out.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  return !in.bad();
}

// A stored file's bytes: true and `out`; false with `error` empty when there is no such
// file; false with `error` saying what failed otherwise (not a regular file, EIO, ...).
bool read_stored(const fs::path& path, std::string& out, std::string& error) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    if (errno != ENOENT) error = "cannot open " + path.string() + ": " + std::strerror(errno);
    return false;
  }
  struct stat st {};
  bool ok = ::fstat(fd, &st) == 0;
  if (!ok || !S_ISREG(st.st_mode)) {
    error =
        path.string() + (ok ? ": not a regular file" : ": " + std::string(std::strerror(errno)));
    ::close(fd);
    return false;
  }
  out.resize(static_cast<std::size_t>(st.st_size));
  std::size_t got = 0;
  while (got < out.size()) {
    ssize_t n = ::read(fd, out.data() + got, out.size() - got);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      error = "cannot read " + path.string() + ": " +
              (n < 0 ? std::strerror(errno) : "it is shorter than its size");
      ::close(fd);
      return false;
    }
    got += static_cast<std::size_t>(n);
  }
  ::close(fd);
  return true;
}

// SHA-256 of `bytes`, as lowercase hex.
std::string sha256_hex_of(std::string_view bytes) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned n = 0;
  EVP_Digest(bytes.data(), bytes.size(), md, &n, EVP_sha256(), nullptr);
  return hex_of(md, n);
}

// attachments/store.json of a data directory: the file store that keeps its files.
fs::path store_marker(const fs::path& root) { return root / "store.json"; }

// The store a marker names ("" when there is no marker), for messages.
std::string marked_store(const fs::path& root) {
  std::string text;
  if (!read_all(store_marker(root), text)) return {};
  auto doc = json::parse(text, nullptr, false);
  std::string name = doc.is_object() ? doc.value("store", "") : "";
  return name.empty() ? "(unnamed)" : name;
}

void install_at(const fs::path& tmp, std::string_view bytes, const fs::path& dest) {
  write_synced(tmp, bytes);
  fs::create_directories(dest.parent_path());
  if (::rename(tmp.c_str(), dest.c_str()) != 0) {
    std::string e = sys_error("rename to " + dest.string());
    ::unlink(tmp.c_str());
    throw std::runtime_error(e);
  }
  sync_dir(dest.parent_path());
}

fs::path file_dir(const fs::path& root, const std::string& hex) {
  return root / "sha256" / hex.substr(0, 2) / hex.substr(2, 2);
}

std::string marker_text(TimePoint at) { return json{{"at", at.time_since_epoch().count()}}.dump(); }

std::optional<TimePoint> marker_time(const fs::path& file) {
  std::string text;
  if (!read_all(file, text)) return std::nullopt;
  auto rec = json::parse(text, nullptr, false);
  if (!rec.is_object()) return std::nullopt;
  return TimePoint(Millis(rec.value("at", std::int64_t{0})));
}

std::string record_text(const AttachmentInfo& info) {
  return json{{"address", info.address},
              {"size", info.size},
              {"contentType", info.content_type},
              {"uploadedBy", info.uploaded_by},
              {"uploadedAtMs", info.uploaded_at.time_since_epoch().count()}}
      .dump();
}

}  // namespace bihuan::attachment_io
