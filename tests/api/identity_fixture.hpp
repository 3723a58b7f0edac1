// A real engine on a virtual clock (2026-01-01T00:00:00Z) served by a real Server on port 0
// whose identities come from an identity file the test writes: a JWKS with one RSA-2048
// key ("r1") and one P-256 key ("e1") generated here, JWT settings mapping
// sub -> id, realm_access.roles -> roles, org_path -> attrs.unit, station -> attrs.station,
// and the configuration's own "admin-token" (global administrator).
#pragma once

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <mutex>
#include <random>

#include "bihuan/clock.hpp"
#include "bihuan/server.hpp"
#include "http_client.hpp"
#include "jwt_keys.hpp"

namespace bihuan::test {

class IdentityTest : public ::testing::Test {
 protected:
  static constexpr std::int64_t kT0 = 1767225600;  // 2026-01-01T00:00:00Z

  void SetUp() override {
    std::random_device rd;
    dir_ = (std::filesystem::temp_directory_path() / ("bihuan-ident-" + std::to_string(rd())))
               .string();
    std::filesystem::create_directories(dir_);
    clock_ = std::make_shared<VirtualClock>(TimePoint(std::chrono::seconds(kT0)));
    Problems problems;
    EngineOptions eo;
    eo.data_dir = dir_ + "/data";
    eo.clock = clock_;
    engine_ = Engine::open(eo, problems);
    ASSERT_TRUE(engine_);
    write_jwks({rsa_.jwk(), ec_.jwk()});
    write_identity(identity_doc());
  }
  void TearDown() override {
    if (server_) server_->shutdown(std::chrono::seconds(5));
    server_.reset();
    if (engine_) engine_->close();
    engine_.reset();
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }

  static json token_entry(const std::string& name, const std::string& text,
                          const std::string& actor, json roles, json attrs = json::object()) {
    return {{"name", name},
            {"sha256", ServerConfig::hash_token(text)},
            {"actor", actor},
            {"roles", std::move(roles)},
            {"attrs", std::move(attrs)}};
  }
  json jwt_settings() const {
    return {{"issuer", "https://sso.test"},
            {"audience", {"bihuan", "console"}},
            {"keys", "jwks.json"},
            {"leewaySeconds", 60},
            {"claims",
             {{"actor", "sub"},
              {"roles", "realm_access.roles"},
              {"attrs", {{"unit", "org_path"}, {"station", "station"}}}}}};
  }
  json identity_doc() const {
    return {{"tokens",
             {token_entry("office", "office-token", "office-T03", {"ADMIN"},
                          {{"unit", "golmud/T03"}, {"level", "township"}})}},
            {"jwt", jwt_settings()}};
  }
  void write_identity(const json& doc) const { write(dir_ + "/identity.json", doc.dump(2)); }
  void write_jwks(json keys) const { write(dir_ + "/jwks.json", json({{"keys", keys}}).dump(2)); }
  static void write(const std::string& path, const std::string& text) {
    std::ofstream out(path + ".tmp", std::ios::trunc);
    out << text;
    out.close();
    std::filesystem::rename(path + ".tmp", path);
  }

  ServerConfig config() const {
    ServerConfig c;
    c.port = 0;
    c.threads = 2;
    c.rate_per_second = 0;
    c.tokens = {
        {"admin", ServerConfig::hash_token("admin-token"), Actor{"admin", {"admin"}}, 0, 0},
        {"clerk", ServerConfig::hash_token("clerk-token"), Actor{"clerk-1", {"clerk"}}, 0, 0}};
    c.identity_file = dir_ + "/identity.json";
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

  // Claims of a valid token for CD0022 at kT0.
  static json claims() {
    return {{"iss", "https://sso.test"},
            {"aud", "bihuan"},
            {"sub", "CD0022"},
            {"iat", kT0 - 10},
            {"exp", kT0 + 3600},
            {"realm_access", {{"roles", {"CADRE"}}}},
            {"org_path", "golmud/T03/V12"},
            {"station", "ST01"}};
  }

  std::vector<json> log_lines(const std::string& msg) {
    std::lock_guard lock(log_mu_);
    std::vector<json> out;
    for (const auto& l : log_) {
      json j = json::parse(l, nullptr, false);
      if (j.is_object() && j.value("msg", "") == msg) out.push_back(j);
    }
    return out;
  }

  std::string dir_;
  std::shared_ptr<VirtualClock> clock_;
  std::unique_ptr<Engine> engine_;
  std::unique_ptr<Server> server_;
  std::uint16_t port_ = 0;
  std::mutex log_mu_;
  std::vector<std::string> log_;
  TestKey rsa_ = TestKey::rsa("r1");
  TestKey ec_ = TestKey::p256("e1");
};

}  // namespace bihuan::test
