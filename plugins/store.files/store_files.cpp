// store.files: a file store (ABI 1.1) that keeps files under a configured directory, by
// address: <dir>/sha256/ab/cd/<hex>, the layout of <data dir>/attachments/sha256 (so a
// backup's files copy straight in). put copies the host's file to <dir>/tmp/, fsyncs it,
// renames it into place and fsyncs the directory before answering: an address is wholly
// present or absent, also after kill -9 or a power cut. Thread-safe: each put writes its
// own temp file and the rename is atomic (two puts of one address both succeed).
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <stdexcept>
#include <string>
#include <vector>

#include "bihuan/plugin/sdk.hpp"

namespace {

using namespace bihuan::plugin;
namespace fs = std::filesystem;

constexpr const char* kStoreFilesSchema = R"json({
  "type": "object",
  "required": ["dir"],
  "additionalProperties": false,
  "properties": {
    "dir": {"type": "string", "minLength": 1, "description": "the directory files are kept in (created)"}
  }
})json";

std::string errno_text(const std::string& what) { return what + ": " + std::strerror(errno); }

// The hex of "sha256:<64 lowercase hex>", or "" (the host sends only that form; anything
// else could name a path outside the store).
std::string hex_of_address(std::string_view address) {
  constexpr std::string_view prefix = "sha256:";
  if (address.size() != prefix.size() + 64 || address.substr(0, prefix.size()) != prefix) return {};
  std::string hex(address.substr(prefix.size()));
  for (char c : hex)
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return {};
  return hex;
}

// fsync of a directory: a rename or unlink in it is durable once this returns true.
bool sync_directory(const fs::path& dir) {
  int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return false;
  bool ok = ::fsync(fd) == 0;
  ::close(fd);
  return ok;
}

class FilesStore final : public FileStore {
 public:
  explicit FilesStore(const Host& host) : root_(host.config_or("/dir", "")) {
    if (root_.empty()) throw std::runtime_error("store.files needs \"dir\", the directory");
    std::error_code ec;
    for (const auto& d : {root_ / "sha256", root_ / "tmp"}) {
      fs::create_directories(d, ec);
      if (ec || !fs::is_directory(d))
        throw std::runtime_error("cannot create " + d.string() + ": " +
                                 (ec ? ec.message() : std::string("not a directory")));
    }
    if (::access((root_ / "tmp").c_str(), W_OK) != 0)
      throw std::runtime_error(errno_text("cannot write in " + (root_ / "tmp").string()));
    // Temp files a crash left more than a day ago (a put in flight is never that old).
    auto old = fs::file_time_type::clock::now() - std::chrono::hours(24);
    for (const auto& e : fs::directory_iterator(root_ / "tmp", ec))
      if (std::error_code t; e.last_write_time(t) < old && !t) fs::remove(e.path(), t);
  }

  Result put(const StoredFile& file) override {
    std::string hex = hex_of_address(file.address);
    if (hex.empty()) return Result::fail("not a file address: " + std::string(file.address));
    fs::path dir = dir_of(hex), dest = dir / hex;
    if (struct stat st;
        ::stat(dest.c_str(), &st) == 0 && static_cast<std::uint64_t>(st.st_size) == file.size)
      return Result::ok();  // stored already (only ever renamed into place whole)
    fs::path tmp =
        root_ / "tmp" / (std::to_string(::getpid()) + "-" + std::to_string(seq_++) + "-" + hex);
    if (std::string e = copy_synced(std::string(file.path), tmp, file.size); !e.empty()) {
      ::unlink(tmp.c_str());
      return Result::retry(e);
    }
    std::error_code ec;
    bool made = fs::create_directories(dir, ec);
    if (ec) {
      ::unlink(tmp.c_str());
      return Result::retry("cannot create " + dir.string() + ": " + ec.message());
    }
    if (::rename(tmp.c_str(), dest.c_str()) != 0) {
      std::string e = errno_text("rename to " + dest.string());
      ::unlink(tmp.c_str());
      return Result::retry(e);
    }
    // The file's directory, and (when just made) the directories holding it.
    bool synced = sync_directory(dir);
    if (made)
      synced = synced && sync_directory(dir.parent_path()) &&
               sync_directory(dir.parent_path().parent_path());
    if (!synced) return Result::retry(errno_text("fsync " + dir.string()));
    return Result::ok();
  }

  Result get(std::string_view address) override {
    std::string hex = hex_of_address(address);
    if (hex.empty()) return Result::missing();
    fs::path path = dir_of(hex) / hex;
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0)
      return errno == ENOENT ? Result::missing()
                             : Result::retry(errno_text("open " + path.string()));
    std::string bytes;
    std::vector<char> buf(64 * 1024);
    for (;;) {
      ssize_t n = ::read(fd, buf.data(), buf.size());
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) {
        std::string e = errno_text("read " + path.string());
        ::close(fd);
        return Result::retry(e);
      }
      if (n == 0) break;
      bytes.append(buf.data(), static_cast<std::size_t>(n));
    }
    ::close(fd);
    return Result::ok(std::move(bytes));
  }

  Result stat(std::string_view address) override {
    std::string hex = hex_of_address(address);
    if (hex.empty()) return Result::missing();
    fs::path path = dir_of(hex) / hex;
    struct stat st;
    if (::stat(path.c_str(), &st) != 0)
      return errno == ENOENT ? Result::missing()
                             : Result::retry(errno_text("stat " + path.string()));
    return Result::ok(std::to_string(st.st_size));
  }

  Result remove(std::string_view address) override {
    std::string hex = hex_of_address(address);
    if (hex.empty()) return Result::missing();
    fs::path dir = dir_of(hex);
    if (::unlink((dir / hex).c_str()) != 0)
      return errno == ENOENT ? Result::missing()
                             : Result::retry(errno_text("remove " + (dir / hex).string()));
    if (!sync_directory(dir)) return Result::retry(errno_text("fsync " + dir.string()));
    return Result::ok();
  }

 private:
  fs::path dir_of(const std::string& hex) const {
    return root_ / "sha256" / hex.substr(0, 2) / hex.substr(2, 2);
  }

  // Copies `from` (the host's complete file, `size` bytes) to the new file `to` and
  // fsyncs it. "" on success, else the reason.
  static std::string copy_synced(const std::string& from, const fs::path& to, std::uint64_t size) {
    int in = ::open(from.c_str(), O_RDONLY | O_CLOEXEC);
    if (in < 0) return errno_text("open " + from);
    int out = ::open(to.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0444);
    if (out < 0) {
      std::string e = errno_text("open " + to.string());
      ::close(in);
      return e;
    }
    std::string error;
    std::uint64_t copied = 0;
    std::vector<char> buf(64 * 1024);
    while (error.empty()) {
      ssize_t n = ::read(in, buf.data(), buf.size());
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) error = errno_text("read " + from);
      if (n <= 0) break;
      for (ssize_t done = 0; done < n && error.empty();) {
        ssize_t w = ::write(out, buf.data() + done, static_cast<std::size_t>(n - done));
        if (w < 0 && errno == EINTR) continue;
        if (w < 0) error = errno_text("write " + to.string());
        if (w > 0) done += w;
      }
      copied += static_cast<std::uint64_t>(n);
    }
    if (error.empty() && copied != size)
      error = from + " has " + std::to_string(copied) + " bytes, not the " + std::to_string(size) +
              " announced";
    if (error.empty() && ::fsync(out) != 0) error = errno_text("fsync " + to.string());
    ::close(in);
    ::close(out);
    return error;
  }

  fs::path root_;
  std::atomic<std::uint64_t> seq_{0};
};

}  // namespace

BIHUAN_PLUGIN(FilesStore, "store.files", "1.0.0", kStoreFilesSchema,
              "Keeps files by address under a directory (written, fsync'd, renamed)")
