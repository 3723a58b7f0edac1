// The serve lock (bihuan/serve_lock.hpp): flock(2) on <data_dir>/serve.lock.
#include "bihuan/serve_lock.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <string>

namespace bihuan {

namespace {

std::string absolute_dir(const std::string& dir) {
  std::error_code ec;
  auto abs = std::filesystem::absolute(dir, ec);
  return ec ? dir : abs.lexically_normal().string();
}

// The pid the holder wrote, or "" when it cannot be read (the holder may be writing it).
std::string holder_pid(int fd) {
  char buf[32] = {};
  ssize_t n = ::pread(fd, buf, sizeof buf - 1, 0);
  if (n <= 0) return "";
  std::string s(buf, static_cast<std::size_t>(n));
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  for (char c : s)
    if (c < '0' || c > '9') return "";
  return s;
}

}  // namespace

std::string ServeLock::file_of(const std::string& data_dir) {
  return (std::filesystem::path(data_dir) / "serve.lock").string();
}

std::unique_ptr<ServeLock> ServeLock::acquire(const std::string& data_dir, std::string* error) {
  auto fail = [&](std::string why) -> std::unique_ptr<ServeLock> {
    if (error) *error = std::move(why);
    return nullptr;
  };
  std::string file = file_of(data_dir);
  int fd = ::open(file.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0640);
  if (fd < 0) return fail("cannot open the serve lock " + file + ": " + std::strerror(errno));
  int rc;
  do rc = ::flock(fd, LOCK_EX | LOCK_NB);
  while (rc != 0 && errno == EINTR);
  if (rc != 0) {
    int err = errno;
    std::string pid = err == EWOULDBLOCK ? holder_pid(fd) : "";
    ::close(fd);
    if (err != EWOULDBLOCK)
      return fail("cannot lock the serve lock " + file + ": " + std::strerror(err));
    std::string who = pid.empty()                         ? "another process"
                      : pid == std::to_string(::getpid()) ? "this process (pid " + pid + ")"
                                                          : "process " + pid;
    return fail("the data directory " + absolute_dir(data_dir) + " is already served by " + who +
                " (it holds " + file_of(absolute_dir(data_dir)) +
                "): only one server or dispatcher may run on a data directory; stop it "
                "first (the CLI's reads and steps may run beside it)");
  }
  std::string pid = std::to_string(::getpid()) + "\n";
  if (::ftruncate(fd, 0) != 0 ||
      ::pwrite(fd, pid.data(), pid.size(), 0) != static_cast<ssize_t>(pid.size())) {
    // The lock holds all the same; the pid is only for the other side's message.
  }
  return std::unique_ptr<ServeLock>(new ServeLock(fd, data_dir));
}

ServeLock::~ServeLock() {
  if (fd_ >= 0) ::close(fd_);
}

}  // namespace bihuan
