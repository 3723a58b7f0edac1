// bihuan::Node (bihuan/node.hpp) hosted in-process: the engine, the bundled plugins, the
// dispatcher and the HTTP server on port 0 in a temporary data directory, spoken to over
// real HTTP, stopped cleanly and opened again; and options it cannot start with.
#include "bihuan/node.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <random>
#include <thread>

#include "bihuan/log.hpp"
#include "http_client.hpp"

namespace bihuan::test {
namespace {

namespace fs = std::filesystem;

constexpr const char* kNotifyingDefinition =
    R"({"id": "t.node", "version": 1, "title": {"en": "Node"}, "initial": "OPEN",
  "states": {"OPEN": {"onEntry": [{"notify": "log", "to": "x", "template": "opened"}],
                      "on": {"close": {"roles": ["admin"], "target": "DONE"}}},
             "DONE": {"type": "final", "outcome": "closed"}}})";

class NodeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::random_device rd;
    dir_ = fs::temp_directory_path() / ("bihuan-node-" + std::to_string(rd()));
    fs::create_directories(dir_);
    set_log_sink([this](const std::string& line) {
      std::lock_guard lock(mu_);
      lines_.push_back(json::parse(line, nullptr, false));
    });
  }
  void TearDown() override {
    set_log_sink({});
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }
  NodeOptions options() const {
    NodeOptions o;
    o.data_dir = (dir_ / "data").string();
    o.listen = "127.0.0.1:0";
    o.workflow_dirs = std::vector<std::string>{};
    return o;
  }
  // The first logged line whose msg starts with `msg` (null if none).
  json logged(const std::string& msg) {
    std::lock_guard lock(mu_);
    for (const auto& l : lines_)
      if (l.is_object() && l.value("msg", "").rfind(msg, 0) == 0) return l;
    return nullptr;
  }
  std::string read_file(const fs::path& p) const {
    std::ifstream in(p);
    return std::string(std::istreambuf_iterator<char>(in), {});
  }

  fs::path dir_;
  std::mutex mu_;
  std::vector<json> lines_;
};

TEST_F(NodeTest, ServesDeliversStopsCleanlyAndContinuesOnTheSameData) {
  std::string id;
  {
    Node node(options());
    ASSERT_EQ(node.start(), "");
    ASSERT_TRUE(node.running());
    ASSERT_NE(node.port(), 0);
    EXPECT_EQ(node.url(), "http://127.0.0.1:" + std::to_string(node.port()));
    auto token_line = logged("development administrator token");
    ASSERT_TRUE(token_line.is_object());
    std::string token = token_line.value("token", "");
    EXPECT_EQ(token, read_file(dir_ / "data" / "dev-admin-token").substr(0, token.size()));
    EXPECT_TRUE(logged("plugins loaded")["instances"].is_array());

    HttpClient anon(node.port());
    EXPECT_EQ(anon.get("/v1/definitions").status, 401);
    HttpClient admin(node.port(), token);
    ASSERT_EQ(admin.post("/v1/definitions", json::parse(kNotifyingDefinition)).status, 201);
    auto started = admin.post("/v1/instances", {{"definition", "t.node"}});
    ASSERT_EQ(started.status, 201) << started.body;
    id = started.json_body().value("id", "");
    ASSERT_FALSE(id.empty());
    // The same engine in-process sees what HTTP did.
    auto seen = node.engine().get(id);
    ASSERT_TRUE(seen.has_value());
    EXPECT_EQ(seen->state, "OPEN");
    // The dispatcher delivers the onEntry notification through the bundled notify.log.
    fs::path log = dir_ / "data" / "notifications.jsonl";
    auto until = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (read_file(log).find("opened") == std::string::npos &&
           std::chrono::steady_clock::now() < until)
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    EXPECT_NE(read_file(log).find("opened"), std::string::npos) << "not delivered";
    EXPECT_NE(admin.get("/metrics").body.find("bihuan_outbox_delivered_total"), std::string::npos);

    node.stop();
    EXPECT_FALSE(node.running());
    EXPECT_EQ(node.port(), 0);
    EXPECT_THROW(node.engine(), std::logic_error);
    node.stop();  // idempotent
    EXPECT_TRUE(logged("stopped cleanly").is_object());
  }
  // The data directory was released: a second node opens it and has the instance.
  Node again(options());
  ASSERT_EQ(again.start(), "");
  auto seen = again.engine().get(id);
  ASSERT_TRUE(seen.has_value());
  std::string token = read_file(dir_ / "data" / "dev-admin-token");
  token.erase(token.find_last_not_of("\n") + 1);
  HttpClient admin(again.port(), token);
  EXPECT_EQ(admin.get("/v1/instances/" + id).status, 200);
  // The destructor stops it.
}

TEST_F(NodeTest, AnUnreadableConfigFileIsAClearErrorNamingTheFile) {
  NodeOptions o = options();
  o.config_file = (dir_ / "missing.json").string();
  Node node(o);
  std::string err = node.start();
  EXPECT_NE(err.find("the configuration has errors"), std::string::npos) << err;
  EXPECT_FALSE(node.running());
  EXPECT_EQ(node.port(), 0);
  std::lock_guard lock(mu_);
  bool named = false;
  for (const auto& l : lines_)
    if (l.is_object() && l.value("level", "") == "error" && l.value("file", "") == o.config_file)
      named = true;
  EXPECT_TRUE(named) << "no error line names " << o.config_file;
}

TEST_F(NodeTest, ABadConfigValueIsReportedWithItsPointerAndNothingRuns) {
  fs::path file = dir_ / "bihuan.json";
  std::ofstream(file) << R"({"dispatch": {"pollMs": "fast"}})";
  NodeOptions o = options();
  o.config_file = file.string();
  Node node(o);
  EXPECT_NE(node.configure(), "");
  EXPECT_NE(node.start(), "");
  std::lock_guard lock(mu_);
  bool pointed = false;
  for (const auto& l : lines_)
    if (l.is_object() && l.value("pointer", "") == "/dispatch/pollMs") pointed = true;
  EXPECT_TRUE(pointed);
}

TEST_F(NodeTest, AParsedConfigurationIsLaidOverTheDefaultWithoutADevelopmentToken) {
  NodeOptions o = options();
  o.config = json{{"server",
                   {{"tokens", json::array({{{"name", "app"},
                                             {"sha256", ServerConfig::hash_token("app-token")},
                                             {"actor", "app"},
                                             {"roles", {"admin"}}}})}}}};
  Node node(o);
  ASSERT_EQ(node.start(), "");
  EXPECT_FALSE(fs::exists(dir_ / "data" / "dev-admin-token"));
  EXPECT_EQ(logged("starting").value("config", ""), "(NodeOptions::config)");
  // The default's notify.log instances are still there (the document only added a token).
  EXPECT_EQ(node.effective_config()["plugins"].count("notify-log"), 1u);
  HttpClient app(node.port(), "app-token");
  EXPECT_EQ(app.get("/v1/definitions").status, 200);

  NodeOptions bad = options();
  bad.data_dir = (dir_ / "other").string();
  bad.config = json{{"dispatch", {{"pollMs", 0}}}};
  Node refused(bad);
  EXPECT_NE(refused.start(), "");
  std::lock_guard lock(mu_);
  bool pointed = false;
  for (const auto& l : lines_)
    if (l.is_object() && l.value("pointer", "") == "/dispatch/pollMs") pointed = true;
  EXPECT_TRUE(pointed);
}

// The embedded default with the bundled workflows: every bundled definition deploys but
// those that need a task channel the default does not configure (the food-safety
// scheduler's master-data source), which are skipped with a warning naming the channel,
// not logged as errors; a folder of one's own still reports such a definition as an error.
TEST_F(NodeTest, BundledWorkflowsNeedingAnUnconfiguredChannelAreSkippedWithAWarning) {
  NodeOptions o = options();
  o.workflow_dirs.reset();
  o.bundled_workflows = bundled_workflows_dir();
  ASSERT_FALSE(o.bundled_workflows.empty());
  {
    Node node(o);
    ASSERT_EQ(node.start(), "");
    json summary = logged("workflows deployed");
    ASSERT_TRUE(summary.is_object());
    EXPECT_EQ(summary.value("failed", -1), 0) << summary.dump();
    EXPECT_EQ(summary.value("skipped", -1), 1) << summary.dump();
    EXPECT_GT(summary.value("deployed", 0) + summary.value("unchanged", 0), 10);
    json warn = logged("bundled definition not deployed");
    ASSERT_TRUE(warn.is_object());
    EXPECT_EQ(warn.value("level", ""), "warn");
    EXPECT_EQ(warn["channels"], json::array({"master-data"}));
    EXPECT_NE(warn.value("file", "").find("scheduler.json"), std::string::npos);
    EXPECT_TRUE(logged("definition not deployed").is_null());
    EXPECT_TRUE(node.engine().definition("food-safety.supervision", std::nullopt) != nullptr);
  }
  // The same file in a folder of one's own is an error.
  fs::create_directories(dir_ / "mine");
  fs::copy_file(fs::path(o.bundled_workflows) / "food-safety" / "scheduler.json",
                dir_ / "mine" / "scheduler.json");
  NodeOptions own = options();
  own.data_dir = (dir_ / "data2").string();
  own.workflow_dirs = std::vector<std::string>{(dir_ / "mine").string()};
  own.bundled_workflows = o.bundled_workflows;
  Node node(own);
  ASSERT_EQ(node.start(), "");
  EXPECT_TRUE(logged("definition not deployed").is_object());
}

TEST_F(NodeTest, OneNodePerDataDirectory) {
  Node first(options());
  ASSERT_EQ(first.start(), "");
  Node second(options());
  std::string err = second.start();
  EXPECT_EQ(err.rfind("not started: ", 0), 0u) << err;
  EXPECT_FALSE(second.running());
  // The first still serves.
  HttpClient anon(first.port());
  EXPECT_EQ(anon.get("/healthz").status, 200);
}

}  // namespace
}  // namespace bihuan::test
