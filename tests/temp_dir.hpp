// A directory path under the system's temporary directory, unique to this process and
// object, removed (with what is in it) when the object goes. Not made: the code under test
// makes it (Env::open, Wal::open), or the test does.
#pragma once

#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <string>

namespace bihuan::test {

struct TempDir {
  std::string path;
  explicit TempDir(const std::string& prefix = "bihuan-test") {
    static std::atomic<int> n{0};
    path = (std::filesystem::temp_directory_path() /
            (prefix + "-" + std::to_string(::getpid()) + "-" + std::to_string(n++)))
               .string();
    std::filesystem::remove_all(path);
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
};

}  // namespace bihuan::test
