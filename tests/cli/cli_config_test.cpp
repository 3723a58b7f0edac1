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

#include "bihuan/json.hpp"
#include "cli_run.hpp"

namespace {

namespace fs = std::filesystem;
using bihuan::json;
using bihuan::testing::CliRun;
using bihuan::testing::run_bihuan;

// A definition that notifies `notifier` and runs task `handler`.
std::string definition(const std::string& id, const std::string& notifier, const std::string& handler) {
  return R"({"id": ")" + id + R"(", "version": 1, "initial": "WORK",
    "states": {
      "WORK": {"onEntry": [{"notify": ")" + notifier + R"(", "to": {"var": "data.who"}, "template": "请处理 {{data.n}}"},
                           {"task": ")" + handler + R"(", "input": {"var": "data.input"},
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
         {{"mail", {{"plugin", "notify.log"}, {"config", {{"path", (dir_ / "mail.jsonl").string()}}}}},
          {"check", {{"plugin", "test.echo-task"}, {"config", json::object()}}},
          {"registry", {{"plugin", "source.csv"}, {"config", json::object()}}}}}};
    std::ofstream(dir_ / "engine.json") << config.dump(2);
    write("good.json", definition("t.good", "mail", "check"));
    write("bad.json", definition("t.bad", "sms", "mail"));  // sms unknown; mail is a notifier
    write("query.json", definition("t.query", "mail", "registry"));  // a data source serves tasks
  }
  void TearDown() override { fs::remove_all(dir_); }
  void write(const std::string& name, const std::string& text) { std::ofstream(dir_ / name) << text; }

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
  EXPECT_NE(std::find(c.begin(), c.end(), std::make_pair(std::string("unknown-notifier"),
                                                         std::string("/states/WORK/onEntry/0/notify"))),
            c.end())
      << report.dump(2);
  EXPECT_NE(std::find(c.begin(), c.end(), std::make_pair(std::string("unknown-handler"),
                                                         std::string("/states/WORK/onEntry/1/task"))),
            c.end())
      << report.dump(2);

  auto text = bihuan({"validate", "--config", "engine.json", "bad.json"});
  EXPECT_EQ(text.rc, 1);
  EXPECT_NE(text.out.find("bad.json:4:"), std::string::npos) << text.out;  // with line:column
  EXPECT_NE(text.out.find("no notifier named \"sms\" in the configuration"), std::string::npos) << text.out;

  // Without a configuration, names are not checked.
  EXPECT_EQ(bihuan({"validate", "bad.json"}).rc, 0);
}

TEST_F(CliConfigTest, ValidateReportsABrokenConfigurationAndWarnsAboutAMissingPlugin) {
  write("broken.json", R"({"plugins": {"x": {"plugin": 7}}})");
  auto r = bihuan({"validate", "--config", "broken.json", "--format", "json", "good.json"});
  EXPECT_EQ(r.rc, 1) << r.out << r.err;
  EXPECT_GE(r.doc()["problems"].size(), 1u) << r.out;

  json config = {{"pluginDirs", {(dir_ / "nowhere").string()}},
                 {"plugins", {{"mail", {{"plugin", "notify.nothing"}}}, {"check", {{"plugin", "task.nothing"}}}}}};
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
  EXPECT_NE(std::find(c.begin(), c.end(), std::make_pair(std::string("unknown-notifier"),
                                                         std::string("/states/WORK/onEntry/0/notify"))),
            c.end());

  auto good = bihuan({"deploy", "--config", "engine.json", "--format", "json", "good.json"});
  EXPECT_EQ(good.rc, 0) << good.out << good.err;
  EXPECT_EQ(good.doc()["files"][0]["result"], "deployed");
  EXPECT_TRUE(fs::exists(dir_ / "data" / "data.mdb"));  // dataDir "data" from engine.json

  auto broken = bihuan({"deploy", "--config", "absent.json", "good.json"});
  EXPECT_EQ(broken.rc, 1);
  EXPECT_NE(broken.err.find("the configuration absent.json has errors"), std::string::npos) << broken.err;
}

}  // namespace
