// The backup directory check (backup_path.hpp): lexical rules first, then a walk from the
// root with openat(O_NOFOLLOW | O_DIRECTORY), one component at a time.
#include "backup_path.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

namespace bihuan::api {

namespace fs = std::filesystem;

namespace {

BackupDir refuse(unsigned status, std::string why) { return {"", status, std::move(why)}; }

// Closes a descriptor on every path out.
struct Fd {
  int fd = -1;
  explicit Fd(int f) : fd(f) {}
  ~Fd() {
    if (fd >= 0) ::close(fd);
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  void reset(int f) {
    if (fd >= 0) ::close(fd);
    fd = f;
  }
};

fs::path normal_dir(const fs::path& p) {
  fs::path n = p.lexically_normal();
  if (n.has_parent_path() && n.filename().empty()) n = n.parent_path();  // "a/b/" -> "a/b"
  return n;
}

bool inside(const fs::path& root, const fs::path& p) {
  auto r = root.begin(), q = p.begin();
  for (; r != root.end(); ++r, ++q)
    if (q == p.end() || *r != *q) return false;
  return true;
}

// True when the directory open at `fd` has no entries.
bool is_empty_dir(int fd) {
  int dup = ::dup(fd);
  if (dup < 0) return false;
  DIR* d = ::fdopendir(dup);
  if (!d) {
    ::close(dup);
    return false;
  }
  bool empty = true;
  while (dirent* e = ::readdir(d)) {
    if (std::strcmp(e->d_name, ".") != 0 && std::strcmp(e->d_name, "..") != 0) {
      empty = false;
      break;
    }
  }
  ::closedir(d);
  return empty;
}

}  // namespace

std::string default_backup_root(const std::string& data_dir) {
  std::error_code ec;
  fs::path dir = normal_dir(fs::absolute(data_dir, ec));
  return dir.string() + "-backups";
}

BackupDir prepare_backup_dir(const std::string& root_text, const std::string& requested) {
  std::error_code ec;
  fs::path root = normal_dir(fs::absolute(root_text, ec));
  if (requested.empty() || requested.find('\0') != std::string::npos)
    return refuse(400, "expected a directory name inside the backup root " + root.string());
  fs::path asked(requested);
  for (const auto& part : asked)
    if (part == "..")
      return refuse(400, "\"" + requested +
                             "\" contains \"..\": name a directory inside the backup root " +
                             root.string());
  fs::path rel = asked;
  if (asked.is_absolute()) {
    fs::path abs = normal_dir(asked);
    if (!inside(root, abs))
      return refuse(400, "\"" + requested + "\" is outside the backup root " + root.string() +
                             " (give a path relative to it)");
    rel = abs.lexically_relative(root);
  }
  rel = normal_dir(rel);
  if (rel.empty() || rel == ".")
    return refuse(400, "\"" + requested +
                           "\" is the backup root itself: name a new directory inside " +
                           root.string());

  if (!fs::exists(root, ec)) {
    fs::create_directories(root, ec);
    if (ec)
      return refuse(500, "cannot create the backup root " + root.string() + ": " + ec.message());
    fs::permissions(root, fs::perms::owner_all, ec);
  }
  Fd dir(::open(root.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (dir.fd < 0)
    return refuse(500,
                  "cannot open the backup root " + root.string() + ": " + std::strerror(errno));
  fs::path walked = root;
  for (const auto& part : rel) {
    if (part == "." || part.empty()) continue;
    walked /= part;
    int next = ::openat(dir.fd, part.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (next < 0 && errno == ENOENT) {
      if (::mkdirat(dir.fd, part.c_str(), 0700) != 0 && errno != EEXIST)
        return refuse(500, "cannot create " + walked.string() + ": " + std::strerror(errno));
      next = ::openat(dir.fd, part.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    }
    if (next < 0) {
      int err = errno;
      struct stat st {};
      if (::fstatat(dir.fd, part.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISLNK(st.st_mode))
        return refuse(400,
                      walked.string() +
                          " is a symbolic link: backups are written only into real directories "
                          "inside the backup root");
      if (err == ENOTDIR) return refuse(400, walked.string() + " exists and is not a directory");
      return refuse(500, "cannot open " + walked.string() + ": " + std::strerror(err));
    }
    dir.reset(next);
  }
  if (!is_empty_dir(dir.fd))
    return refuse(409, "backup directory " + walked.string() + " is not empty");
  return {walked.string(), 0, ""};
}

}  // namespace bihuan::api
