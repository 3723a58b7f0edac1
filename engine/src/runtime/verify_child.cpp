// run_in_child: fork, a pipe of lines, waitpid.
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>

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

ChildEnd run_in_child(const std::function<void(ChildOut&)>& work) {
  ChildEnd end;
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) {
    end.death = std::string("could not start the check's process (pipe: ") + strerror(errno) + ")";
    return end;
  }
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
  std::string pending;
  char buf[65536];
  while (true) {
    ssize_t n = ::read(fds[0], buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    pending.append(buf, static_cast<std::size_t>(n));
    std::size_t start = 0;
    for (std::size_t nl; (nl = pending.find('\n', start)) != std::string::npos; start = nl + 1)
      end.lines.emplace_back(pending, start, nl - start);
    pending.erase(0, start);
  }
  ::close(fds[0]);
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
