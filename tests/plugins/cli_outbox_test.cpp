// The real `bihuan` binary: outbox, dispatch --once (default and configured plugins),
// dead-letters and retry, run as an administrator would.
#include <sys/wait.h>

#include <cstdlib>
#include <filesystem>

#include "plugin_support.hpp"

namespace bihuan::testing {
namespace {

struct CliRun {
  int rc = -1;
  std::string out, err;
  json doc() const { return json::parse(out, nullptr, false); }
};

class CliOutboxTest : public ::testing::Test {
 protected:
  void SetUp() override { dir_ = make_temp_dir("cliout"); }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  CliRun bihuan(const std::string& args) {
    std::string cmd = "cd '" + dir_ +
                      "' && env -u BIHUAN_DATA -u BIHUAN_PLUGIN_PATH '" BIHUAN_CLI "' " + args +
                      " >out.txt 2>err.txt";
    CliRun r;
    int status = std::system(cmd.c_str());
    r.rc = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    r.out = read_text(dir_ + "/out.txt");
    r.err = read_text(dir_ + "/err.txt");
    return r;
  }
  void write(const std::string& name, const std::string& text) {
    std::ofstream(dir_ + "/" + name) << text;
  }
  std::string dir_;
};

TEST_F(CliOutboxTest, DispatchDeadLettersAndRetry) {
  // A definition that notifies "log" (the default configuration defines it) with a deadline.
  json def = json::parse(notify_definition("log"));
  def["states"]["OPEN"]["deadline"] = {{"after", "P1D"}};
  def["states"]["OPEN"]["on"]["close"]["roles"] = {"USER"};
  write("def.json", def.dump());
  ASSERT_EQ(bihuan("deploy def.json").rc, 0);
  for (int i = 0; i < 3; ++i)
    ASSERT_EQ(bihuan("start t.notify --data-dir data --data '{\"who\": \"张三\", \"name\": "
                     "\"李四\", \"n\": " +
                     std::to_string(i) + "}'")
                  .rc,
              0);
  auto listed = bihuan("outbox --format json");
  ASSERT_EQ(listed.rc, 0) << listed.err;
  ASSERT_EQ(listed.doc().size(), 3u) << listed.out;
  EXPECT_EQ(listed.doc()[0]["channel"], "log");
  EXPECT_EQ(listed.doc()[0]["attempts"], 0);

  // An administrator's configuration where "log" always fails: one attempt, then dead.
  write("failing.json",
        R"({"dataDir": "data", "pluginDirs": [")" BIHUAN_BINARY_DIR R"(/plugins/test.faulty"],
    "plugins": {"log": {"plugin": "test.flaky", "config": {"failures": -1}, "maxAttempts": 1}}})");
  auto failing = bihuan("dispatch --config failing.json --once --format json");
  EXPECT_EQ(failing.rc, 0) << failing.err;
  EXPECT_EQ(failing.doc()["deadLetters"], 3) << failing.out;
  auto dead = bihuan("dead-letters --format json");
  ASSERT_EQ(dead.doc().size(), 3u) << dead.out;
  EXPECT_EQ(dead.doc()[0]["dead"], true);
  EXPECT_EQ(dead.doc()[0]["lastError"], "flaky failure on attempt 1");
  auto table = bihuan("dead-letters");
  EXPECT_HAS(table.out, "flaky failure on attempt 1");
  EXPECT_HAS(table.out, "3 messages");

  // Nothing to deliver until retried.
  auto idle = bihuan("dispatch --once --format json");
  EXPECT_EQ(idle.doc()["attempts"], 0) << idle.out;

  std::uint64_t first = dead.doc()[0]["seq"];
  auto one = bihuan("retry " + std::to_string(first));
  EXPECT_EQ(one.rc, 0) << one.err;
  EXPECT_HAS(one.out, "1 dead letter will be delivered again");
  auto bad = bihuan("retry 999999");
  EXPECT_EQ(bad.rc, 1);
  EXPECT_HAS(bad.err, "message 999999 is not a dead letter");
  EXPECT_EQ(bihuan("retry --all").rc, 0);

  // The default configuration delivers them to data/notifications.jsonl through notify.log.
  auto done = bihuan("dispatch --once --format json");
  EXPECT_EQ(done.rc, 0) << done.err;
  EXPECT_EQ(done.doc()["delivered"], 3) << done.out;
  EXPECT_EQ(done.doc()["left"], 0);
  auto lines = read_json_lines(dir_ + "/data/notifications.jsonl");
  ASSERT_EQ(lines.size(), 3u);
  std::set<std::string> texts;
  for (const auto& l : lines) texts.insert(l["text"].get<std::string>());
  EXPECT_TRUE(texts.count("你好 李四，这是第 0 条消息")) << lines[0].dump();
  EXPECT_EQ(bihuan("outbox --format json").doc().size(), 0u);
}

TEST_F(CliOutboxTest, AConfigurationWithErrorsIsReportedWithPositions) {
  write("bad.json",
        "{\n  \"plugins\": {\"log\": {\"plugin\": \"notify.log\", \"concurrency\": 0}}\n}\n");
  auto r = bihuan("dispatch --config bad.json --once");
  EXPECT_EQ(r.rc, 1);
  EXPECT_HAS(r.err, "bad.json:2:");
  EXPECT_HAS(r.err, "[at /plugins/log/concurrency]");
}

}  // namespace
}  // namespace bihuan::testing
