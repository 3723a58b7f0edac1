// `bihuan validate --config` and `bihuan deploy --config`, run as a user would: names of
// notifiers and task handlers that a definition uses must exist in the engine
// configuration, by kind (a notifier's name is not a task handler); without --config
// names are not checked; a broken configuration is an error. A data source counts as a
// task handler (task actions may run a query on it).
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>

#include "bihuan/config.hpp"
#include "bihuan/json.hpp"
#include "cli_run.hpp"

namespace {

namespace fs = std::filesystem;
using bihuan::json;
using bihuan::testing::CliRun;
using bihuan::testing::run_bihuan;

// A definition that notifies `notifier` and runs task `handler`.
std::string definition(const std::string& id, const std::string& notifier,
                       const std::string& handler) {
  return R"({"id": ")" + id + R"(", "version": 1, "initial": "WORK",
    "states": {
      "WORK": {"onEntry": [{"notify": ")" +
         notifier + R"(", "to": {"var": "data.who"}, "template": "请处理 {{data.n}}"},
                           {"task": ")" +
         handler + R"(", "input": {"var": "data.input"},
                            "onResult": "done", "onError": "failed"}],
               "on": {"done": {"target": "OK"}, "failed": {"target": "BAD"}}},
      "OK": {"type": "final", "outcome": "ok"},
      "BAD": {"type": "final", "outcome": "bad"}}})";
}

class CliConfigTest : public ::testing::Test {
 protected:
  void SetUp() override {
    static std::mt19937_64 rng(std::random_device{}());
    dir_ = fs::temp_directory_path() / ("bihuan-cli-config-" + std::to_string(rng()));
    fs::create_directories(dir_);
    json config = {
        {"dataDir", "data"},
        {"pluginDirs", {BIHUAN_BINARY_DIR "/plugins", BIHUAN_BINARY_DIR "/plugins/test.faulty"}},
        {"plugins",
         {{"mail",
           {{"plugin", "notify.log"}, {"config", {{"path", (dir_ / "mail.jsonl").string()}}}}},
          {"check", {{"plugin", "test.echo-task"}, {"config", json::object()}}},
          {"registry", {{"plugin", "source.csv"}, {"config", json::object()}}}}}};
    std::ofstream(dir_ / "engine.json") << config.dump(2);
    write("good.json", definition("t.good", "mail", "check"));
    write("bad.json", definition("t.bad", "sms", "mail"));  // sms unknown; mail is a notifier
    write("query.json", definition("t.query", "mail", "registry"));  // a data source serves tasks
  }
  void TearDown() override { fs::remove_all(dir_); }
  void write(const std::string& name, const std::string& text) {
    std::ofstream(dir_ / name) << text;
  }

  CliRun bihuan(const std::vector<std::string>& args) { return run_bihuan(dir_, args); }

  fs::path dir_;
};

std::vector<std::pair<std::string, std::string>> codes(const json& file_report) {
  std::vector<std::pair<std::string, std::string>> out;
  for (const auto& p : file_report["problems"]) out.emplace_back(p["code"], p.value("pointer", ""));
  return out;
}

TEST_F(CliConfigTest, ValidateChecksNotifierAndHandlerNamesAgainstTheConfiguration) {
  auto good = bihuan({"validate", "--config", "engine.json", "--format", "json", "good.json"});
  EXPECT_EQ(good.rc, 0) << good.out << good.err;
  EXPECT_EQ(good.doc()["errors"], 0);

  auto query = bihuan({"validate", "--config", "engine.json", "--format", "json", "query.json"});
  EXPECT_EQ(query.rc, 0) << query.out << query.err;

  auto bad = bihuan({"validate", "--config", "engine.json", "--format", "json", "bad.json"});
  EXPECT_EQ(bad.rc, 1) << bad.out << bad.err;
  json report = bad.doc();
  EXPECT_EQ(report["errors"], 2);
  auto c = codes(report["files"][0]);
  EXPECT_NE(std::find(c.begin(), c.end(),
                      std::make_pair(std::string("unknown-notifier"),
                                     std::string("/states/WORK/onEntry/0/notify"))),
            c.end())
      << report.dump(2);
  EXPECT_NE(std::find(c.begin(), c.end(),
                      std::make_pair(std::string("unknown-handler"),
                                     std::string("/states/WORK/onEntry/1/task"))),
            c.end())
      << report.dump(2);

  auto text = bihuan({"validate", "--config", "engine.json", "bad.json"});
  EXPECT_EQ(text.rc, 1);
  EXPECT_NE(text.out.find("bad.json:4:"), std::string::npos) << text.out;  // with line:column
  EXPECT_NE(text.out.find("no notifier named \"sms\" in the configuration"), std::string::npos)
      << text.out;

  // Without a configuration, names are not checked.
  EXPECT_EQ(bihuan({"validate", "bad.json"}).rc, 0);
}

TEST_F(CliConfigTest, ValidateReportsABrokenConfigurationAndWarnsAboutAMissingPlugin) {
  write("broken.json", R"({"plugins": {"x": {"plugin": 7}}})");
  auto r = bihuan({"validate", "--config", "broken.json", "--format", "json", "good.json"});
  EXPECT_EQ(r.rc, 1) << r.out << r.err;
  EXPECT_GE(r.doc()["problems"].size(), 1u) << r.out;

  json config = {
      {"pluginDirs", {(dir_ / "nowhere").string()}},
      {"plugins",
       {{"mail", {{"plugin", "notify.nothing"}}}, {"check", {{"plugin", "task.nothing"}}}}}};
  write("missing.json", config.dump());
  r = bihuan({"validate", "--config", "missing.json", "--format", "json", "good.json"});
  EXPECT_EQ(r.rc, 0) << r.out << r.err;  // configured names are accepted, with warnings
  json problems = r.doc()["problems"];
  ASSERT_EQ(problems.size(), 2u) << r.out;
  for (const auto& p : problems) {
    EXPECT_EQ(p["code"], "plugin-not-loaded");
    EXPECT_EQ(p["severity"], "warning");
  }
}

TEST_F(CliConfigTest, DeployRefusesUnknownNamesAndTakesTheDataDirFromTheConfiguration) {
  auto bad = bihuan({"deploy", "--config", "engine.json", "--format", "json", "bad.json"});
  EXPECT_EQ(bad.rc, 1) << bad.out << bad.err;
  EXPECT_EQ(bad.doc()["files"][0]["ok"], false);
  auto c = codes(bad.doc()["files"][0]);
  EXPECT_NE(std::find(c.begin(), c.end(),
                      std::make_pair(std::string("unknown-notifier"),
                                     std::string("/states/WORK/onEntry/0/notify"))),
            c.end());

  auto good = bihuan({"deploy", "--config", "engine.json", "--format", "json", "good.json"});
  EXPECT_EQ(good.rc, 0) << good.out << good.err;
  EXPECT_EQ(good.doc()["files"][0]["result"], "deployed");
  EXPECT_TRUE(fs::exists(dir_ / "data" / "data.mdb"));  // dataDir "data" from engine.json

  auto broken = bihuan({"deploy", "--config", "absent.json", "good.json"});
  EXPECT_EQ(broken.rc, 1);
  EXPECT_NE(broken.err.find("the configuration absent.json has errors"), std::string::npos)
      << broken.err;
}

// --config is laid over the embedded default (docs/operations.md, "Configuration layers").
TEST_F(CliConfigTest, ServePrintConfigLaysTheFileOverTheEmbeddedDefault) {
  json token = {
      {"name", "ops"}, {"sha256", std::string(64, 'a')}, {"actor", "ops"}, {"roles", {"admin"}}};
  json token2 = {{"name", "portal"}, {"sha256", std::string(64, 'b')}, {"actor", "portal"}};
  json file = {{"dataDir", "served"},
               {"pluginDirs", {"my-plugins"}},
               {"plugins",
                {{"log", {{"plugin", "notify.log"}, {"config", {{"path", "/tmp/mine.jsonl"}}}}},
                 {"notify-log", nullptr},
                 {"mail", {{"plugin", "notify.log"}, {"config", {{"path", "/tmp/mail.jsonl"}}}}}}},
               {"server", {{"limits", {{"bodyBytes", 2048}}}, {"tokens", {token, token2}}}}};
  write("layered.json", file.dump(2));
  auto r = bihuan({"serve", "--config", "layered.json", "--print-config"});
  ASSERT_EQ(r.rc, 0) << r.out << r.err;
  json doc = r.doc();
  EXPECT_EQ(doc["dataDir"], (dir_ / "served").string()) << "relative to the file";
  EXPECT_EQ(doc["plugins"]["log"]["config"]["path"], "/tmp/mine.jsonl")
      << "an instance named in the file replaces";
  EXPECT_FALSE(doc["plugins"].contains("notify-log")) << "null removes a bundled instance";
  EXPECT_TRUE(doc["plugins"].contains("mail"));
  ASSERT_GE(doc["pluginDirs"].size(), 2u);
  EXPECT_EQ(doc["pluginDirs"][0], (dir_ / "my-plugins").string())
      << "the file's folders come first";
  EXPECT_EQ(doc["pluginDirs"][1], BIHUAN_BINARY_DIR "/plugins") << "then the bundled ones";
  ASSERT_EQ(doc["workflowDirs"].size(), 1u);
  EXPECT_EQ(doc["workflowDirs"][0], BIHUAN_SOURCE_DIR "/workflows") << "the bundled workflows stay";
  EXPECT_EQ(doc["server"]["tokens"].size(), 2u);
  EXPECT_EQ(doc["server"]["limits"]["bodyBytes"], 2048);
  EXPECT_FALSE(fs::exists(dir_ / "served")) << "printing opens nothing";

  // Options override the file.
  r = bihuan({"serve", "--config", "layered.json", "--print-config", "--listen", "0.0.0.0:9000",
              "--no-workflows", "--data-dir", "elsewhere"});
  ASSERT_EQ(r.rc, 0) << r.err;
  EXPECT_EQ(r.doc()["server"]["listen"], "0.0.0.0:9000");
  EXPECT_EQ(r.doc()["workflowDirs"], json::array());
  EXPECT_EQ(r.doc()["dataDir"], (dir_ / "elsewhere").string());
}

TEST_F(CliConfigTest, ServePrintConfigWithoutAFileIsTheEmbeddedDefault) {
  auto r = bihuan({"serve", "--print-config"});
  ASSERT_EQ(r.rc, 0) << r.out << r.err;
  json doc = r.doc();
  EXPECT_EQ(doc["dataDir"], (dir_ / "data").string());
  EXPECT_EQ(doc["plugins"]["log"]["plugin"], "notify.log");
  EXPECT_EQ(doc["plugins"]["notify-log"]["config"]["path"],
            (dir_ / "data" / "notifications.jsonl").string());
  EXPECT_EQ(doc["calendarDirs"][0], BIHUAN_SOURCE_DIR "/workflows/calendars");
  EXPECT_FALSE(fs::exists(dir_ / "data"));
}

TEST_F(CliConfigTest, ServeRefusesAnUnknownMemberOfALayeredFile) {
  write("typo.json",
        R"({"server": {"listen": "127.0.0.1:0", "tokns": []}, "dispatch": {"polMs": 5}})");
  auto r = bihuan({"serve", "--config", "typo.json", "--print-config"});
  EXPECT_EQ(r.rc, 1);
  EXPECT_EQ(r.out, "");
  EXPECT_NE(r.err.find("/server/tokns"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("/dispatch/polMs"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("typo.json:1:"), std::string::npos)
      << "with the file's line:column: " << r.err;
}

TEST(ConfigLayers, ObjectsMergeNamedItemsMergeByNameScalarsReplace) {
  json base = {
      {"dataDir", "/d"},
      {"pluginDirs", {"/bundled"}},
      {"calendarDirs", {"/bundled/calendars"}},
      {"workflowDirs", {"/bundled/workflows"}},
      {"dispatch", {{"pollMs", 50}}},
      {"plugins",
       {{"a", {{"plugin", "notify.log"}, {"config", {{"path", "/a"}}}, {"timeoutMs", 9}}}}},
      {"server",
       {{"listen", "127.0.0.1:8080"},
        {"limits", {{"bodyBytes", 1}, {"burst", 2}}},
        {"tokens", {{{"name", "x"}, {"actor", "old"}}, {{"name", "y"}, {"actor", "y"}}}},
        {"tls", {{"certificate", "/c"}, {"privateKey", "/k"}}}}}};
  json over = {
      {"dataDir", "data"},
      {"pluginDirs", {"p", "/bundled"}},
      {"calendarDirs", {"cal"}},
      {"workflowDirs", {"w"}},
      {"dispatch", {{"pollMs", 10}}},
      {"plugins", {{"a", {{"plugin", "notify.webhook"}, {"config", {{"url", "https://x"}}}}}}},
      {"server",
       {{"limits", {{"burst", 5}}},
        {"tokens", {{{"name", "x"}, {"actor", "new"}}, {{"name", "z"}, {"actor", "z"}}}},
        {"tls", {{"certificate", "c.pem"}, {"privateKey", "k.pem"}}}}}};
  json out = bihuan::EngineConfig::layer(base, over, "/etc/b");
  EXPECT_EQ(out["dataDir"], "/etc/b/data");
  EXPECT_EQ(out["pluginDirs"], json({"/etc/b/p", "/bundled"}));
  EXPECT_EQ(out["calendarDirs"], json({"/bundled/calendars", "/etc/b/cal"}));
  EXPECT_EQ(out["workflowDirs"], json({"/etc/b/w"}));
  EXPECT_EQ(out["dispatch"]["pollMs"], 10);
  EXPECT_EQ(out["plugins"]["a"], over["plugins"]["a"]) << "an instance is replaced whole";
  EXPECT_EQ(out["server"]["listen"], "127.0.0.1:8080");
  EXPECT_EQ(out["server"]["limits"], json({{"bodyBytes", 1}, {"burst", 5}}));
  ASSERT_EQ(out["server"]["tokens"].size(), 3u);
  EXPECT_EQ(out["server"]["tokens"][0]["actor"], "new");
  EXPECT_EQ(out["server"]["tokens"][2]["name"], "z");
  EXPECT_EQ(out["server"]["tls"],
            json({{"certificate", "/etc/b/c.pem"}, {"privateKey", "/etc/b/k.pem"}}));
}

}  // namespace
