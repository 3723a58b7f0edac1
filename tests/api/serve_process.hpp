// A real `bihuan serve` process for the API tests: started with fork/exec, its stderr in a
// log file (stdout beside it, in <log>.out), waited for until its "listening" line.
#pragma once

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "bihuan/json.hpp"

namespace bihuan::test {

struct ServeProcess {
  pid_t pid = -1;
  std::string log_path;
  std::uint16_t port = 0;
  bool exited = false;
  int exit_status = -1;

  // Starts `bihuan serve ARGS` with stderr to log_path and waits (up to 60 s) for the
  // "listening" line, which carries the port (up to 300 s: --demo simulates first).
  // False when the process exited first (exited, exit_status) or never listened.
  bool start(const std::vector<std::string>& args, const std::string& log) {
    log_path = log;
    pid = fork();
    if (pid == 0) {
      int fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
      dup2(fd, 2);
      int out = ::open((log + ".out").c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
      dup2(out, 1);
      std::vector<char*> argv = {const_cast<char*>(BIHUAN_CLI), const_cast<char*>("serve")};
      for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
      argv.push_back(nullptr);
      execv(BIHUAN_CLI, argv.data());
      _exit(127);
    }
    for (int i = 0; i < 3000 && port == 0; ++i) {
      int status = 0;
      if (waitpid(pid, &status, WNOHANG) == pid) {
        exited = true;
        exit_status = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
        return false;
      }
      for (const auto& line : lines())
        if (line.is_object() && line.value("msg", "") == "listening") port = line.value("port", 0);
      if (port == 0)
        std::this_thread::sleep_for(std::chrono::milliseconds(100));  // polling a child's log
    }
    return port != 0;
  }
  // Every stderr line, parsed (a discarded value where a line is not JSON).
  std::vector<json> lines() const {
    std::vector<json> out;
    std::ifstream in(log_path);
    std::string line;
    while (std::getline(in, line)) out.push_back(json::parse(line, nullptr, false));
    return out;
  }
  std::string text(const std::string& suffix = "") const {
    std::ifstream in(log_path + suffix);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
  }
  // True once a stderr line has msg `msg` (polls for up to 30 s while the process runs).
  bool wait_for_line(const std::string& msg) const {
    for (int i = 0; i < 300; ++i) {
      for (const auto& line : lines())
        if (line.is_object() && line.value("msg", "") == msg) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(100));  // polling a child's log
    }
    return false;
  }
  int stop() {
    kill(pid, SIGTERM);
    int status = 0;
    waitpid(pid, &status, 0);
    pid = -1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  }
  // SIGKILL: no shutdown at all, as a crash.
  void kill9() {
    kill(pid, SIGKILL);
    waitpid(pid, nullptr, 0);
    pid = -1;
  }
  // A failed assertion must not leave the server running: it would hold the test's
  // output pipe open and ctest would wait for it.
  ~ServeProcess() {
    if (pid > 0 && !exited) {
      kill(pid, SIGKILL);
      waitpid(pid, nullptr, 0);
    }
  }
};

}  // namespace bihuan::test
