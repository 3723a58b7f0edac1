#include "pg/pg_server.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <grp.h>
#include <gtest/gtest.h>
#include <libpq-fe.h>
#include <netinet/in.h>
#include <pwd.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>
#include <vector>

namespace bihuan::pg::test {
namespace {

using Clock = std::chrono::steady_clock;

std::string bin_dir() {
  const char* e = std::getenv("BIHUAN_PG_BIN");
  return e && *e ? e : "/usr/lib/postgresql/15/bin";
}

// The last lines of a log, for failure messages.
std::string tail_of(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  std::string s = ss.str();
  if (s.size() > 1500) s = "..." + s.substr(s.size() - 1500);
  return s.empty() ? "(" + path + " is empty)" : s;
}

// A port no one listens on over TCP now (the server itself uses only its socket file,
// whose name holds the port, in a directory of its own; so a clash cannot happen anyway).
int free_port() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof a;
  int port = 54320;
  if (fd >= 0 && ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0 &&
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) == 0)
    port = ntohs(a.sin_port);
  if (fd >= 0) ::close(fd);
  return port;
}

struct RunAs {
  bool drop = false;  // this process is root: become `postgres` in the child
  uid_t uid = 0;
  gid_t gid = 0;
};

// Forks and execs argv with stdout and stderr into `log`, as `who`; the child dies with
// SIGQUIT when this thread does (a crashed test leaves no server behind). -1 on failure.
pid_t spawn(const std::vector<std::string>& argv, const std::string& cwd, const std::string& log,
            const RunAs& who) {
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  pid_t parent = ::getpid();
  pid_t pid = ::fork();
  if (pid != 0) return pid;
  // The child: async-signal-safe calls only.
  if (who.drop &&
      (::setgroups(1, &who.gid) != 0 || ::setgid(who.gid) != 0 || ::setuid(who.uid) != 0))
    ::_exit(126);
  ::prctl(PR_SET_PDEATHSIG, SIGQUIT);  // after setuid, which clears it
  if (::getppid() != parent) ::_exit(125);
  if (::chdir(cwd.c_str()) != 0) ::_exit(124);
  int fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
  if (fd < 0) ::_exit(123);
  ::dup2(fd, 1);
  ::dup2(fd, 2);
  int null = ::open("/dev/null", O_RDONLY);
  if (null >= 0) ::dup2(null, 0);
  ::setenv("LC_ALL", "C", 1);
  ::unsetenv("PGDATA");
  ::execv(args[0], args.data());
  ::_exit(127);
}

// Waits for pid up to `limit`; its exit status, or -1 if it is still running.
int wait_for(pid_t pid, std::chrono::milliseconds limit) {
  auto until = Clock::now() + limit;
  for (;;) {
    int status = 0;
    pid_t r = ::waitpid(pid, &status, WNOHANG);
    if (r == pid) return status;
    if (r < 0) return 0;  // not our child any more
    if (Clock::now() >= until) return -1;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

std::string exit_text(int status) {
  if (WIFEXITED(status)) {
    // spawn()'s own failures, before the program ran.
    switch (WEXITSTATUS(status)) {
      case 123:
        return "exited with 123 (spawn could not open its log file)";
      case 124:
        return "exited with 124 (spawn could not enter the directory)";
      case 125:
        return "exited with 125 (spawn: the test process died meanwhile)";
      case 126:
        return "exited with 126 (spawn could not become the user postgres)";
      case 127:
        return "exited with 127 (spawn could not execute the program)";
      default:
        return "exited with " + std::to_string(WEXITSTATUS(status));
    }
  }
  if (WIFSIGNALED(status)) return "was killed by signal " + std::to_string(WTERMSIG(status));
  return "ended (status " + std::to_string(status) + ")";
}

PgServer* g_server = nullptr;  // once started (a run that uses no server starts none)

// Stops the server when the tests end.
class StopAtEnd : public ::testing::Environment {
 public:
  void TearDown() override {
    if (g_server) g_server->stop();
  }
};
[[maybe_unused]] auto* const kStopAtEnd = ::testing::AddGlobalTestEnvironment(new StopAtEnd);

}  // namespace

PgServer& PgServer::get() {
  if (!g_server) {
    g_server = new PgServer;
    g_server->start();
  }
  return *g_server;
}

void PgServer::start() {
  std::string bin = bin_dir();
  for (const char* prog : {"initdb", "postgres"}) {
    if (::access((bin + "/" + prog).c_str(), X_OK) != 0) {
      error_ = "PostgreSQL's server program " + bin + "/" + prog +
               " is missing (Debian package postgresql-15): run scripts/setup.sh, or set "
               "BIHUAN_PG_BIN to the directory of initdb and postgres";
      return;
    }
  }
  RunAs who;
  if (::geteuid() == 0) {
    // PostgreSQL refuses to run as root: run it as the system user postgres.
    struct passwd* pw = ::getpwnam("postgres");
    if (!pw) {
      error_ =
          "this test runs as root and PostgreSQL refuses to; the system user postgres (made by "
          "Debian's postgresql-common) to run it as is missing: run scripts/setup.sh";
      return;
    }
    who = {true, pw->pw_uid, pw->pw_gid};
  }
  // Under /tmp, not $TMPDIR: the socket's path must stay under 108 bytes, and the user
  // postgres must be able to reach it (root's TMPDIR may be private).
  std::string tmpl = "/tmp/bihuan-pg-XXXXXX";
  if (!::mkdtemp(tmpl.data())) {
    error_ = "cannot make a temporary directory under /tmp: " + std::string(std::strerror(errno));
    return;
  }
  dir_ = tmpl;
  // Root gives the directory to postgres and keeps the right to reach the socket in it
  // (search permission, 0711) even without CAP_DAC_OVERRIDE.
  if (who.drop &&
      (::chown(dir_.c_str(), who.uid, who.gid) != 0 || ::chmod(dir_.c_str(), 0711) != 0)) {
    error_ = "cannot give " + dir_ + " to the user postgres: " + std::strerror(errno);
    return;
  }
  port_ = free_port();
  std::string data = dir_ + "/data";

  std::string initdb_log = dir_ + "/initdb.log";
  pid_t initdb = spawn({bin + "/initdb", "-D", data, "-U", "postgres", "--auth=trust", "--no-sync",
                        "--no-instructions", "-E", "UTF8", "--locale=C"},
                       dir_, initdb_log, who);
  if (initdb < 0) {
    error_ = "cannot fork for initdb: " + std::string(std::strerror(errno));
    return;
  }
  int status = wait_for(initdb, std::chrono::seconds(120));
  if (status == -1) {
    ::kill(initdb, SIGKILL);
    ::waitpid(initdb, nullptr, 0);
    error_ = "initdb into " + data + " took more than 120 s:\n" + tail_of(initdb_log);
    return;
  }
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    error_ = "initdb into " + data + (who.drop ? " (as the user postgres)" : "") + " " +
             exit_text(status) + ":\n" + tail_of(initdb_log);
    return;
  }

  std::string log = dir_ + "/postgres.log";
  pid_ = spawn({bin + "/postgres", "-D", data, "-k", dir_, "-p", std::to_string(port_), "-F", "-c",
                "listen_addresses=", "-c", "shared_buffers=16MB", "-c", "max_connections=40"},
               dir_, log, who);
  if (pid_ < 0) {
    error_ = "cannot fork for postgres: " + std::string(std::strerror(errno));
    return;
  }
  // Until it accepts connections: at most 20 s.
  std::string ping = conninfo() + " connect_timeout=2";
  auto until = Clock::now() + std::chrono::seconds(20);
  for (;;) {
    if (PQping(ping.c_str()) == PQPING_OK) return;
    int st = 0;
    if (::waitpid(pid_, &st, WNOHANG) == pid_) {
      pid_ = -1;
      error_ = "postgres (socket directory " + dir_ + ", port " + std::to_string(port_) + ") " +
               exit_text(st) + " before accepting connections:\n" + tail_of(log);
      return;
    }
    if (Clock::now() >= until) {
      error_ = "postgres (socket directory " + dir_ + ", port " + std::to_string(port_) +
               ") did not accept connections within 20 s:\n" + tail_of(log);
      return;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
}

std::string PgServer::conninfo(const std::string& db) const {
  return "host=" + dir_ + " port=" + std::to_string(port_) + " dbname=" + db + " user=postgres";
}

std::string PgServer::create_database(std::string* error) {
  if (!ok()) {
    *error = error_;
    return "";
  }
  std::string name = "t" + std::to_string(::getpid()) + "_" + std::to_string(databases_++);
  PGconn* c = PQconnectdb(conninfo().c_str());
  PGresult* r =
      PQstatus(c) == CONNECTION_OK ? PQexec(c, ("CREATE DATABASE " + name).c_str()) : nullptr;
  bool done = r && PQresultStatus(r) == PGRES_COMMAND_OK;
  if (!done) *error = "CREATE DATABASE " + name + " failed: " + PQerrorMessage(c);
  PQclear(r);
  PQfinish(c);
  return done ? conninfo(name) : "";
}

void PgServer::stop() {
  if (pid_ > 0) {
    // Fast shutdown (SIGINT); immediate (SIGQUIT), then SIGKILL, if it lingers.
    ::kill(pid_, SIGINT);
    if (wait_for(pid_, std::chrono::seconds(20)) == -1) {
      ::kill(pid_, SIGQUIT);
      if (wait_for(pid_, std::chrono::seconds(5)) == -1) {
        ::kill(pid_, SIGKILL);
        ::waitpid(pid_, nullptr, 0);
      }
    }
    pid_ = -1;
  }
  if (!dir_.empty()) {
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
    dir_.clear();
  }
}

}  // namespace bihuan::pg::test
