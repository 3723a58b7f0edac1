// The engine configuration file: parsing, every problem with its pointer and line:column,
// the default configuration, and the configured names feeding the deploy-time check.
#include <filesystem>

#include "plugin_support.hpp"

namespace bihuan::testing {
namespace {

class ConfigTest : public ::testing::Test {
 protected:
  void SetUp() override { dir_ = make_temp_dir("cfg"); }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::string write(const std::string& text) {
    std::string path = dir_ + "/engine.json";
    std::ofstream(path) << text;
    return path;
  }
  std::string dir_;
};

TEST_F(ConfigTest, AGoodFileResolvesPathsAgainstItsDirectoryAndReadsPolicies) {
  std::string path = write(R"({
    "dataDir": "data",
    "calendarDirs": ["cal", "/abs/cal"],
    "pluginDirs": ["plugins"],
    "dispatch": {"pollMs": 20},
    "plugins": {
      "sms-gateway": {"plugin": "notify.webhook", "config": {"url": "https://sms.example/send", "secret": "s"},
                      "concurrency": 2, "timeoutMs": 3000, "maxAttempts": 5,
                      "backoff": {"initialMs": 500, "maxMs": 60000}},
      "notify-log": {"plugin": "notify.log", "config": {"path": "/tmp/n.jsonl"}}
    }
  })");
  Problems p;
  auto c = EngineConfig::load_file(path, p);
  ASSERT_TRUE(c) << problems_text(p);
  EXPECT_EQ(c->file, path);
  EXPECT_EQ(c->data_dir, dir_ + "/data");
  EXPECT_EQ(c->calendar_dirs, (std::vector<std::string>{dir_ + "/cal", "/abs/cal"}));
  std::vector<std::string> dirs = {dir_ + "/plugins"};  // the file's, then the bundled ones
  for (const auto& d : EngineConfig::default_plugin_dirs()) dirs.push_back(d);
  EXPECT_EQ(c->plugin_dirs, dirs);
  EXPECT_EQ(c->poll_ms, 20);
  ASSERT_EQ(c->plugins.size(), 2u);
  const auto& sms = c->plugins.at("sms-gateway");
  EXPECT_EQ(sms.plugin, "notify.webhook");
  EXPECT_EQ(sms.config["url"], "https://sms.example/send");
  EXPECT_EQ(sms.policy.concurrency, 2u);
  EXPECT_EQ(sms.policy.timeout_ms, 3000);
  EXPECT_EQ(sms.policy.max_attempts, 5u);
  EXPECT_EQ(sms.policy.backoff_initial_ms, 500);
  EXPECT_EQ(sms.policy.backoff_max_ms, 60000);
  const auto& log = c->plugins.at("notify-log");
  EXPECT_EQ(log.policy.concurrency, 4u) << "defaults";
  EXPECT_EQ(log.policy.max_attempts, 8u);
  EXPECT_EQ(log.policy.backoff_max_ms, 3600000);
}

TEST_F(ConfigTest, EveryProblemIsReportedWithItsPointerAndPosition) {
  std::string path = write(R"({
  "dataDir": "data",
  "colour": "blue",
  "plugins": {
    "a": {"config": {}},
    "b": {"plugin": "notify.log", "concurrency": 0},
    "c": {"plugin": "notify.log", "backoff": {"initialMs": 5000, "maxMs": 10}},
    "bad name!": {"plugin": "notify.log"}
  }
})");
  Problems p;
  EXPECT_FALSE(EngineConfig::load_file(path, p));
  std::map<std::string, Problem> by_pointer;
  for (const auto& item : p.items()) {
    EXPECT_EQ(item.file, path);
    by_pointer[item.pointer] = item;
  }
  std::string all = problems_text(p);
  ASSERT_TRUE(by_pointer.count("/colour")) << all;
  EXPECT_HAS(by_pointer["/colour"].message, "unknown key \"colour\"");
  EXPECT_EQ(by_pointer["/colour"].line, 3u);
  EXPECT_TRUE(by_pointer.count("/plugins/a")) << all;  // "plugin" is required
  ASSERT_TRUE(by_pointer.count("/plugins/b/concurrency")) << all;
  EXPECT_EQ(by_pointer["/plugins/b/concurrency"].line, 6u);
  EXPECT_GT(by_pointer["/plugins/b/concurrency"].column, 0u);
  EXPECT_TRUE(by_pointer.count("/plugins/bad name!")) << all;  // the instance name's pattern
}

TEST_F(ConfigTest, BackoffMaxBelowInitialIsAnError) {
  std::string path = write(
      R"({"plugins": {"c": {"plugin": "notify.log", "backoff": {"initialMs": 5000, "maxMs": 10}}}})");
  Problems p;
  EXPECT_FALSE(EngineConfig::load_file(path, p));
  ASSERT_EQ(p.error_count(), 1u) << problems_text(p);
  EXPECT_EQ(p.items()[0].pointer, "/plugins/c/backoff/maxMs");
  EXPECT_HAS(p.items()[0].message, "smaller than initialMs");
}

TEST_F(ConfigTest, BrokenJsonAndMissingFilesAreErrorsNamingTheFile) {
  Problems p;
  EXPECT_FALSE(EngineConfig::load_file(write("{\"plugins\": {"), p));
  ASSERT_TRUE(p.has_errors());
  EXPECT_EQ(p.items()[0].file, dir_ + "/engine.json");
  EXPECT_GT(p.items()[0].line, 0u);
  Problems q;
  EXPECT_FALSE(EngineConfig::load_file(dir_ + "/absent.json", q));
  ASSERT_TRUE(q.has_errors());
  EXPECT_HAS(q.items()[0].to_string(), "absent.json");
}

TEST_F(ConfigTest, APluginConfigurationErrorPointsIntoTheFile) {
  std::string path = write(R"({
  "pluginDirs": [")" BIHUAN_BINARY_DIR R"(/plugins"],
  "plugins": {
    "notify-log": {"plugin": "notify.log",
                   "config": {"path": 42}}
  }
})");
  Problems p;
  auto c = EngineConfig::load_file(path, p);
  ASSERT_TRUE(c) << problems_text(p);
  auto registry = PluginRegistry::load(*c, nullptr, p);
  EXPECT_TRUE(registry.all().empty());
  ASSERT_EQ(p.error_count(), 1u) << problems_text(p);
  const Problem& e = p.items()[0];
  EXPECT_EQ(e.file, path);
  EXPECT_EQ(e.pointer, "/plugins/notify-log/config/path");
  EXPECT_EQ(e.line, 5u);
  EXPECT_HAS(e.message, "configuration of \"notify-log\" (plugin notify.log");
}

TEST_F(ConfigTest, TheDefaultConfigurationHasNotifyLogAsNotifyLogAndLog) {
  auto c = EngineConfig::defaults(dir_ + "/data");
  ASSERT_EQ(c.plugins.size(), 2u);
  for (const char* name : {"notify-log", "log"}) {
    EXPECT_EQ(c.plugins.at(name).plugin, "notify.log");
    EXPECT_EQ(c.plugins.at(name).config["path"], dir_ + "/data/notifications.jsonl");
  }
  // The default plugin dirs find the build's plugins (<exe>/../plugins).
  Problems p;
  auto registry = PluginRegistry::load(c, nullptr, p);
  EXPECT_FALSE(p.has_errors()) << problems_text(p);
  EXPECT_EQ(registry.names(PluginKind::notifier), (std::set<std::string>{"log", "notify-log"}));
}

TEST_F(ConfigTest, ThePluginNameEngineIsReservedForTheEnginesOwnDataSource) {
  std::string path = write(R"({"plugins": {"engine": {"plugin": "source.sqlite"}}})");
  Problems p;
  EXPECT_FALSE(EngineConfig::load_file(path, p));
  ASSERT_GE(p.error_count(), 1u) << problems_text(p);
  EXPECT_EQ(p.items()[0].pointer, "/plugins/engine");
  EXPECT_HAS(p.items()[0].message, "reserved for the engine's own data source");
}

TEST_F(ConfigTest, DeployChecksNamesAgainstTheConfigurationItRunsWith) {
  auto c = config_of({instance("log", "notify.log", {{"path", dir_ + "/n.jsonl"}}),
                      instance("echo", "test.echo-task", json::object()),
                      instance("broken", "notify.missing", json::object())});
  Problems p;
  auto registry = PluginRegistry::load(c, nullptr, p);
  EXPECT_EQ(p.error_count(), 1u) << problems_text(p);  // "broken" did not load
  EngineOptions o;
  o.data_dir = dir_ + "/data";
  o.calendars = shipped_calendars();
  configured_names(c, registry, o.notifiers, o.task_handlers);
  EXPECT_EQ(o.notifiers, (std::set<std::string>{"broken", "log"}));
  EXPECT_EQ(o.task_handlers, (std::set<std::string>{"broken", "echo", "engine"}))
      << "\"engine\", the engine's own data source, is always a task channel";
  auto engine = Engine::open(o, p);
  ASSERT_TRUE(engine);
  EXPECT_TRUE(engine->deploy(json::parse(notify_definition("log")), "a.json").ok);
  EXPECT_TRUE(engine->deploy(json::parse(task_definition("echo")), "b.json").ok);
  auto r = engine->deploy(json::parse(notify_definition("sms-gateway", "t.sms")), "c.json");
  EXPECT_FALSE(r.ok);
  bool found = false;
  for (const auto& item : r.problems.items())
    if (item.code == "unknown-notifier" && item.pointer == "/states/OPEN/onEntry/0/notify")
      found = true;
  EXPECT_TRUE(found) << problems_text(r.problems);
  // A task handler is not a notifier.
  EXPECT_FALSE(engine->deploy(json::parse(notify_definition("echo", "t.echo")), "d.json").ok);
  engine->close();
}

TEST_F(ConfigTest, SqlViewIsOnUnlessTurnedOffAndMustBeABoolean) {
  Problems p;
  auto on = EngineConfig::load_file(write(R"({"store": "postgresql:dbname=x"})"), p);
  ASSERT_TRUE(on) << problems_text(p);
  EXPECT_TRUE(on->sql_view);
  auto off = EngineConfig::load_file(write(R"({"sqlView": false})"), p);
  ASSERT_TRUE(off) << problems_text(p);
  EXPECT_FALSE(off->sql_view);
  Problems bad;
  EXPECT_FALSE(EngineConfig::load_file(write(R"({"sqlView": "no"})"), bad));
  ASSERT_EQ(bad.error_count(), 1u) << problems_text(bad);
  EXPECT_EQ(bad.items()[0].pointer, "/sqlView");
}

}  // namespace
}  // namespace bihuan::testing
