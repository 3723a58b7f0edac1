// A real engine in a temporary directory served by a real Server on 127.0.0.1:0, with
// three tokens: "admin-token" (admin), "clerk-token" (actor clerk-1, role clerk) and
// "slow-token" (rate 1/s, burst 2).
#pragma once

#include <gtest/gtest.h>

#include <filesystem>
#include <random>

#include "bihuan/server.hpp"
#include "http_client.hpp"
#include "pg/test_store.hpp"

namespace bihuan::test {

inline const char* kCounterDefinition =
    R"({"id": "t.counter", "version": 1, "title": {"zh": "计数", "en": "Counter"},
  "initial": "open", "states": {
  "open": {"on": {"bump": {"roles": ["clerk", "admin"], "set": {"/n": {"+": [{"var": "data.n"}, 1]}, "/by/-": {"var": "actor.id"}}},
                  "close": {"roles": ["manager"], "target": "done"}}},
  "done": {"type": "final", "outcome": "closed"}}})";

class ServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::random_device rd;
    dir_ =
        (std::filesystem::temp_directory_path() / ("bihuan-api-" + std::to_string(rd()))).string();
    std::filesystem::create_directories(dir_);
    Problems problems;
    EngineOptions eo;
    eo.data_dir = dir_ + "/data";
    // With BIHUAN_TEST_STORE=postgres (ctest's api_pg pass, tests named "pg:<Suite.Test>")
    // a fresh PostgreSQL database (pg/test_store.hpp), else "" (LMDB).
    eo.store = store_ = ::bihuan::testing::fresh_store();
    engine_ = Engine::open(eo, problems);
    ASSERT_TRUE(engine_) << problems.items().size();
    auto res = engine_->deploy(json::parse(kCounterDefinition), "counter");
    ASSERT_TRUE(res.ok);
  }
  void TearDown() override {
    if (server_) server_->shutdown(std::chrono::seconds(5));
    server_.reset();
    if (engine_) engine_->close();
    engine_.reset();
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }

  ServerConfig config() const {
    ServerConfig c;
    c.port = 0;
    c.threads = 2;
    c.tokens = {
        {"admin", ServerConfig::hash_token("admin-token"), Actor{"admin", {"admin"}}, 0, 0},
        {"clerk", ServerConfig::hash_token("clerk-token"), Actor{"clerk-1", {"clerk"}}, 0, 0},
        {"slow", ServerConfig::hash_token("slow-token"), Actor{"slow", {"clerk"}}, 1, 2}};
    c.rate_per_second = 0;  // unlimited unless a token says otherwise
    return c;
  }
  void serve(ServerConfig c) {
    Problems problems;
    ServerHooks hooks;
    hooks.log = [this](const std::string& line) {
      std::lock_guard lock(log_mu_);
      log_.push_back(line);
    };
    server_ = Server::start(*engine_, std::move(c), hooks, problems);
    ASSERT_TRUE(server_) << (problems.items().empty() ? "" : problems.items()[0].to_string());
    port_ = server_->port();
  }
  void serve() { serve(config()); }

  std::string start_counter(HttpClient& c) {
    auto r = c.post("/v1/instances", {{"definition", "t.counter"}, {"data", {{"n", 0}}}});
    EXPECT_EQ(r.status, 201) << r.body;
    return r.json_body().value("id", "");
  }

  std::string dir_;
  std::string store_;  // EngineOptions::store of the fixture's engine ("" : LMDB)
  std::unique_ptr<Engine> engine_;
  std::unique_ptr<Server> server_;
  std::uint16_t port_ = 0;
  std::mutex log_mu_;
  std::vector<std::string> log_;
};

}  // namespace bihuan::test
