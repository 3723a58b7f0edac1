// Helpers shared by the definition tests: reading fixture files and the shipped calendars.
#pragma once

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "bihuan/time.hpp"

namespace bihuan::definition_test {

inline std::string read_file(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

inline const Calendars& shipped_calendars() {
  static Calendars c = [] {
    Problems p;
    auto cals = Calendars::load_dir(BIHUAN_SOURCE_DIR "/workflows/calendars", p);
    EXPECT_FALSE(p.has_errors());
    return cals;
  }();
  return c;
}

}  // namespace bihuan::definition_test
