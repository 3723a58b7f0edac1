// Runs the real `bihuan` binary as a user would, for the CLI tests: in a given working
// directory (so ./data is the default data directory), BIHUAN_DATA unset, arguments
// shell-quoted, stdout and stderr captured through files.
#pragma once

#include <gtest/gtest.h>
#include <sys/wait.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "bihuan/json.hpp"

namespace bihuan::testing {

struct CliRun {
  int rc = -1;
  std::string out, err;
  // stdout as JSON (a test failure, and a discarded value, if it is not).
  json doc() const {
    json j = json::parse(out, nullptr, false);
    EXPECT_FALSE(j.is_discarded()) << "stdout is not JSON:\n" << out << "\nstderr:\n" << err;
    return j;
  }
};

inline std::string shell_quote(const std::string& s) {
  std::string q = "'";
  for (char c : s) q += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return q + "'";
}

inline std::string read_file(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// `bihuan args...` in `dir`; out.txt and err.txt in `dir` hold its output afterwards.
inline CliRun run_bihuan(const std::filesystem::path& dir, const std::vector<std::string>& args) {
  std::string cmd =
      "cd " + shell_quote(dir.string()) + " && env -u BIHUAN_DATA " + shell_quote(BIHUAN_CLI);
  for (const auto& a : args) cmd += " " + shell_quote(a);
  cmd += " >out.txt 2>err.txt";
  CliRun r;
  int status = std::system(cmd.c_str());
  r.rc = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  r.out = read_file(dir / "out.txt");
  r.err = read_file(dir / "err.txt");
  return r;
}

}  // namespace bihuan::testing
