// run_in_child: fork, a pipe of lines, waitpid.
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <thread>

#include "runtime/verify.hpp"

namespace bihuan::runtime {

void ChildOut::line(char tag, std::string_view text) {
  std::string buf;
  buf.reserve(text.size() + 2);
  buf += tag;
  for (char c : text) buf += (c == '\n' || c == '\r') ? ' ' : c;
  buf += '\n';
  const char* p = buf.data();
  std::size_t left = buf.size();
  while (left > 0) {
    ssize_t n = ::write(fd_, p, left);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;  // the parent is gone: nothing to tell
    p += n;
    left -= static_cast<std::size_t>(n);
  }
}

namespace {

void collect(int fd, ChildEnd& end) {
  std::string pending;
  char buf[65536];
  while (true) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    pending.append(buf, static_cast<std::size_t>(n));
    std::size_t start = 0;
    for (std::size_t nl; (nl = pending.find('\n', start)) != std::string::npos; start = nl + 1)
      end.lines.emplace_back(pending, start, nl - start);
    pending.erase(0, start);
  }
  ::close(fd);
}

// On a thread of this process: a remote store's check (no LMDB page to crash on), and
// every check under ThreadSanitizer. GCC 12's TSan runtime
// does not hold its stack-depot lock across fork: a child forked while another thread
// allocates can spin on it for ever (seen in CI: LongWorkTest hung 600 s; gdb showed the
// child in StaticSpinMutex::LockSlow under StackDepotPut). Normal builds fork, so that a
// fault in the check cannot take the server with it.
ChildEnd run_on_thread(const std::function<void(ChildOut&)>& work, int fds[2]) {
  ChildEnd end;
  std::thread worker([&] {
    {
      ChildOut out(fds[1]);
      work(out);
      out.line('D', "");
    }
    ::close(fds[1]);
  });
  collect(fds[0], end);
  worker.join();
  bool done = !end.lines.empty() && end.lines.back() == "D";
  if (done) end.lines.pop_back();
  return end;
}

}  // namespace

ChildEnd run_in_child(const std::function<void(ChildOut&)>& work, bool in_process) {
  ChildEnd end;
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) {
    end.death = std::string("could not start the check's process (pipe: ") + strerror(errno) + ")";
    return end;
  }
  if (in_process) return run_on_thread(work, fds);
#if defined(__SANITIZE_THREAD__)
  return run_on_thread(work, fds);
#endif
  pid_t pid = ::fork();
  if (pid < 0) {
    ::close(fds[0]);
    ::close(fds[1]);
    end.death = std::string("could not start the check's process (fork: ") + strerror(errno) + ")";
    return end;
  }
  if (pid == 0) {
    ::close(fds[0]);
    // Default actions, so that a fault ends the child (the parent may catch them).
    for (int sig : {SIGABRT, SIGSEGV, SIGBUS, SIGILL, SIGFPE}) ::signal(sig, SIG_DFL);
    ::signal(SIGPIPE, SIG_IGN);
    {
      ChildOut out(fds[1]);
      work(out);
      out.line('D', "");
    }
    ::_exit(0);
  }
  ::close(fds[1]);
  collect(fds[0], end);
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  bool done = !end.lines.empty() && end.lines.back() == "D";
  if (done) end.lines.pop_back();
  if (WIFSIGNALED(status))
    end.death = "killed by signal " + std::to_string(WTERMSIG(status)) + " (" +
                strsignal(WTERMSIG(status)) + ")";
  else if (WIFEXITED(status) && (WEXITSTATUS(status) != 0 || !done))
    end.death =
        "ended with exit status " + std::to_string(WEXITSTATUS(status)) + " before it finished";
  return end;
}

}  // namespace bihuan::runtime
