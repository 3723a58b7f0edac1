// Shared by the plugin tests: where the build put the real plugin libraries, engine
// configurations naming them, and small workflow definitions that produce outbox messages.
#pragma once

#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "bihuan/config.hpp"
#include "bihuan/dispatcher.hpp"
#include "bihuan/plugin_host.hpp"
#include "runtime/engine_fixture.hpp"

// EXPECT_HAS(text, part): `part` occurs in `text` (prints the text otherwise).
#define EXPECT_HAS(text, part)                               \
  EXPECT_NE(std::string(text).find(part), std::string::npos) \
      << "expected \"" << (part) << "\" in:\n"               \
      << (text)

namespace bihuan::testing {

inline std::string bundled(const std::string& name) {
  return std::string(BIHUAN_BINARY_DIR "/plugins/") + name + ".so";
}
inline std::string faulty(const std::string& name) {
  return std::string(BIHUAN_BINARY_DIR "/plugins/test.faulty/") + name + ".so";
}

inline std::string problems_text(const Problems& p) {
  std::string out;
  for (const auto& item : p.items()) out += item.to_string() + "\n";
  return out;
}

// Opens the bundled plugin `library` into `lib` and creates the instance `name` (config
// pointer /plugins/<name>). With `problems` the caller checks the outcome; without, a
// refusal fails the test with the plugin's problems.
inline std::shared_ptr<PluginObject> create_bundled(
    std::shared_ptr<PluginLibrary>& lib, const std::string& library, const std::string& name,
    const json& config, std::shared_ptr<HostServices> services = nullptr,
    Problems* problems = nullptr) {
  std::string error;
  lib = PluginLibrary::open(bundled(library), &error);
  EXPECT_TRUE(lib) << error;
  if (!lib) return nullptr;
  Problems local;
  auto obj = lib->create(name, config, std::move(services), problems ? *problems : local,
                         "/plugins/" + name);
  if (!problems) {
    EXPECT_TRUE(obj) << problems_text(local);
  }
  return obj;
}

inline std::string read_text(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

inline std::vector<json> read_json_lines(const std::string& path) {
  std::vector<json> out;
  std::ifstream in(path);
  for (std::string line; std::getline(in, line);)
    if (!line.empty()) out.push_back(json::parse(line));
  return out;
}

// One instance entry of an engine configuration.
inline PluginInstanceConfig instance(const std::string& name, const std::string& plugin,
                                     json config, ChannelPolicy policy = {}) {
  PluginInstanceConfig p;
  p.name = name;
  p.plugin = plugin;
  p.config = std::move(config);
  p.policy = policy;
  return p;
}

inline EngineConfig config_of(std::vector<PluginInstanceConfig> instances) {
  EngineConfig c;
  c.plugin_dirs = {BIHUAN_BINARY_DIR "/plugins", BIHUAN_BINARY_DIR "/plugins/test.faulty"};
  for (auto& i : instances) c.plugins[i.name] = std::move(i);
  return c;
}

// A workflow whose initial state notifies `channel` (Chinese text) and can be closed.
inline std::string notify_definition(const std::string& channel,
                                     const std::string& id = "t.notify") {
  return R"({"id": ")" + id + R"(", "version": 1, "initial": "OPEN",
    "states": {
      "OPEN": {"onEntry": [{"notify": ")" +
         channel + R"(", "to": {"var": "data.who"},
                            "subject": "通知 {{data.n}}", "template": "你好 {{data.name}}，这是第 {{data.n}} 条消息"}],
               "on": {"close": {"target": "DONE"}}},
      "DONE": {"type": "final", "outcome": "done"}}})";
}

// A workflow whose initial state runs a task on `channel`; the result ends it.
inline std::string task_definition(const std::string& channel) {
  return R"({"id": "t.task", "version": 1, "initial": "WORK",
    "states": {
      "WORK": {"onEntry": [{"task": ")" +
         channel + R"(", "input": {"var": "data.input"},
                            "onResult": "done", "onError": "failed"}],
               "on": {"done": {"target": "OK", "set": {"/result": {"var": "event.payload"}}},
                      "poke": {"set": {"/poked": {"var": "event.payload.from"}}},
                      "failed": {"target": "BAD", "set": {"/error": {"var": "event.payload.error"}}}}},
      "OK": {"type": "final", "outcome": "ok"},
      "BAD": {"type": "final", "outcome": "bad"}}})";
}

// An engine on a virtual clock with plugins from `config` loaded against it.
class PluginEngineTest : public EngineTest {
 protected:
  void load(EngineConfig config) {
    config_ = std::move(config);
    services_ = std::make_shared<HostServices>(
        clock_, [this](PluginLogLevel, const std::string& who, const std::string& m) {
          std::lock_guard lock(log_mu_);
          plugin_log_.push_back(who + ": " + m);
        });
    Problems p;
    registry_ = PluginRegistry::load(config_, services_, p);
    ASSERT_FALSE(p.has_errors()) << problems_text(p);
    services_->attach(engine_.get());
  }
  std::unique_ptr<Dispatcher> dispatcher(DispatcherOptions o = {}) {
    if (!o.seed) o.seed = 42;
    return std::make_unique<Dispatcher>(*engine_, Dispatcher::channels_of(registry_, config_), o);
  }
  void TearDown() override {
    if (services_) services_->attach(nullptr);
    EngineTest::TearDown();
  }
  std::string start_notify(int n) {
    auto r = start("t.notify", {{"who", "张三"}, {"name", "李四"}, {"n", n}});
    EXPECT_TRUE(r.ok()) << r.message;
    return r.instance ? r.instance->id : "";
  }

  EngineConfig config_;
  std::shared_ptr<HostServices> services_;
  PluginRegistry registry_;
  std::mutex log_mu_;
  std::vector<std::string> plugin_log_;
};

}  // namespace bihuan::testing
