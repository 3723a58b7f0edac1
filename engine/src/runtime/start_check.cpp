// The check at open after an unclean stop (runtime/verify.hpp, docs/storage.md "Check at
// open"). `open.lock` (flock) tells whether another engine has the directory open;
// `clean-stop` is written by the last engine to close it cleanly and names the data file
// as it left it (inode, size, modification time), so a file changed since (another writer,
// a copy put in its place) counts as unclean. The first opener removes the marker before
// anything is written.
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "runtime/verify.hpp"

namespace bihuan::runtime {
namespace {

namespace fs = std::filesystem;

// How the data file is now, as the marker records it; "" if it does not exist.
std::string stamp_of(const fs::path& data) {
  struct stat st;
  if (::stat(data.c_str(), &st) != 0) return {};
  std::ostringstream s;
  s << "bihuan clean stop\nino " << st.st_ino << "\nsize " << st.st_size << "\nmtime "
    << st.st_mtim.tv_sec << "." << st.st_mtim.tv_nsec << "\n";
  return s.str();
}

std::string read_file(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return in ? s.str() : std::string();
}

}  // namespace

std::unique_ptr<StartCheck> StartCheck::begin(const std::string& dir, Problems& problems) {
  std::unique_ptr<StartCheck> sc(new StartCheck());
  sc->dir_ = dir;
  std::error_code ec;
  fs::create_directories(dir, ec);  // as Env::open does; a failure is reported there
  sc->fd_ = ::open((fs::path(dir) / "open.lock").c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0640);
  if (sc->fd_ < 0) return sc;  // a read-only directory: LMDB cannot open it either, and says so
  if (::flock(sc->fd_, LOCK_EX | LOCK_NB) != 0) {
    // Another engine has it open (and checked it when it opened it first). Wait while it
    // holds the lock exclusively (its check), then look again: it may have closed.
    ::flock(sc->fd_, LOCK_SH);
    if (::flock(sc->fd_, LOCK_EX | LOCK_NB) != 0) {
      ::flock(sc->fd_, LOCK_SH);  // a failed conversion drops the shared lock
      return sc;
    }
  }
  const fs::path data = fs::path(dir) / "data.mdb", marker = fs::path(dir) / "clean-stop";
  std::string now = stamp_of(data);
  bool clean = !now.empty() && read_file(marker) == now;
  ::unlink(marker.c_str());  // from here until a clean close, a stop is unclean
  if (!now.empty() && !clean) {
    sc->checked_ = true;
    VerifyReport report = check_store(dir, nullptr);
    if (!report.structure_ok) {
      problems.error("", "store-damaged", damaged_store_text(dir, report));
      return nullptr;
    }
  }
  ::flock(sc->fd_, LOCK_SH);
  return sc;
}

void StartCheck::closed_cleanly() {
  if (fd_ < 0) return;
  if (!damaged_ && ::flock(fd_, LOCK_EX | LOCK_NB) == 0) {  // the last engine on the directory
    const fs::path data = fs::path(dir_) / "data.mdb", marker = fs::path(dir_) / "clean-stop";
    std::string now = stamp_of(data);
    fs::path tmp = marker;
    tmp += ".tmp";
    if (!now.empty()) {
      std::ofstream(tmp, std::ios::binary | std::ios::trunc) << now;
      std::error_code ec;
      fs::permissions(tmp, fs::perms::owner_read | fs::perms::owner_write | fs::perms::group_read,
                      ec);  // as data.mdb
      fs::rename(tmp, marker, ec);
    }
  }
  ::close(fd_);
  fd_ = -1;
}

StartCheck::~StartCheck() {
  if (fd_ >= 0) ::close(fd_);
}

}  // namespace bihuan::runtime
