// What the C API tests share: a fresh data directory, an engine on a virtual clock, a small
// definition with a timer, and calls that return their JSON (or the error's).
#pragma once

#include <gtest/gtest.h>

#include <atomic>
#include <filesystem>
#include <string>

#include <nlohmann/json.hpp>

#include "bihuan.h"

namespace capi_test {

using nlohmann::json;

// Waits for review; a manager approves or rejects; after an hour without, it is "late".
inline const char* kDefinition = R"({
  "id": "t.capi", "version": 1, "initial": "review",
  "states": {
    "review": {"timers": [{"id": "remind", "after": "PT1H", "target": "late"}],
               "on": {"approve": {"roles": ["manager"], "target": "done"},
                      "reject": {"roles": ["manager"], "target": "rejected"}}},
    "late": {"on": {"approve": {"roles": ["manager"], "target": "done"}}},
    "done": {"type": "final", "outcome": "approved"},
    "rejected": {"type": "final", "outcome": "rejected"}}})";

// 2024-01-01T00:00:00Z in ms.
constexpr std::int64_t kStartMs = 1704067200000;

inline std::string fresh_dir(const char* name) {
  static std::atomic<int> n{0};
  auto dir = std::filesystem::temp_directory_path() /
             ("bihuan-capi-" + std::to_string(::getpid()) + "-" + name + "-" + std::to_string(n++));
  std::filesystem::remove_all(dir);
  return dir.string();
}

// The JSON text a call returned, parsed and freed (null for NULL).
inline json take(char* text) {
  if (!text) return nullptr;
  json j = json::parse(text);
  bihuan_free(text);
  return j;
}

struct Call {
  int status = -1;
  json result, error;
};

template <class F>
Call call(F f) {
  char* result = nullptr;
  char* error = nullptr;
  Call c;
  c.status = f(&result, &error);
  c.result = take(result);
  c.error = take(error);
  return c;
}

class CapiTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fresh_dir("t");
    json options = {
        {"dataDir", dir_}, {"virtualClock", "2024-01-01T00:00:00Z"}, {"durable", false}};
    char* error = nullptr;
    ASSERT_EQ(bihuan_open(options.dump().c_str(), BIHUAN_ABI_VERSION, &engine_, &error), BIHUAN_OK)
        << (error ? error : "");
    auto d = deploy(kDefinition);
    ASSERT_EQ(d.status, BIHUAN_OK) << d.error.dump();
  }
  void TearDown() override {
    bihuan_release(engine_);
    std::filesystem::remove_all(dir_);
  }
  Call deploy(const char* text) {
    return call(
        [&](char** r, char** e) { return bihuan_deploy(engine_, text, "t.capi.json", r, e); });
  }
  Call start(const json& req) {
    return call(
        [&](char** r, char** e) { return bihuan_start(engine_, req.dump().c_str(), r, e); });
  }
  Call send(const json& req) {
    return call([&](char** r, char** e) { return bihuan_send(engine_, req.dump().c_str(), r, e); });
  }
  std::string started(const std::string& key = "") {
    json req = {{"definition", "t.capi"}};
    if (!key.empty()) req["businessKey"] = key;
    auto s = start(req);
    EXPECT_EQ(s.status, BIHUAN_OK) << s.error.dump();
    return s.result.value("id", "");
  }

  std::string dir_;
  bihuan_engine* engine_ = nullptr;
};

}  // namespace capi_test
