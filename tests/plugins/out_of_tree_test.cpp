// The SDK is enough to build a plugin: install it into a temporary prefix, build
// examples/plugin-out-of-tree against it with find_package(Bihuan), then deliver a
// workflow's notification through the library that build produced.
#include <cstdlib>
#include <filesystem>

#include "plugin_support.hpp"

namespace bihuan::testing {
namespace {

int run(const std::string& command, const std::string& log) {
  return std::system((command + " >>" + log + " 2>&1").c_str());
}

TEST_F(PluginEngineTest, AnOutOfTreePluginBuildsAgainstTheInstalledSdkAndDelivers) {
  std::string work = make_temp_dir("oot");
  std::string log = work + "/build.log";
  std::string prefix = work + "/prefix", build = work + "/build";
  ASSERT_EQ(
      run("cmake --install " BIHUAN_BINARY_DIR " --prefix " + prefix + " --component plugin_sdk",
          log),
      0)
      << read_text(log);
  EXPECT_TRUE(std::filesystem::exists(prefix + "/include/bihuan/plugin/sdk.hpp"));
  EXPECT_FALSE(std::filesystem::exists(prefix + "/include/bihuan/engine.hpp"))
      << "only the SDK is installed";
  ASSERT_EQ(run("cmake -S " BIHUAN_SOURCE_DIR "/examples/plugin-out-of-tree -B " + build +
                    " -DCMAKE_PREFIX_PATH=" + prefix + " -DCMAKE_BUILD_TYPE=Release",
                log),
            0)
      << read_text(log);
  ASSERT_EQ(run("cmake --build " + build, log), 0) << read_text(log);
  ASSERT_TRUE(std::filesystem::exists(build + "/notify.hello.so")) << read_text(log);

  EngineConfig c;
  c.plugin_dirs = {build};
  c.plugins["greeter"] = instance("greeter", "notify.hello",
                                  {{"path", work + "/greetings.txt"}, {"greeting", "你好"}});
  load(c);
  EXPECT_EQ(registry_.find("greeter")->info().file, build + "/notify.hello.so");
  deploy(notify_definition("greeter"));
  start_notify(7);
  auto d = dispatcher();
  EXPECT_EQ(d->run_once(), 1u);
  EXPECT_TRUE(engine_->outbox().empty());
  std::string text = read_text(work + "/greetings.txt");
  EXPECT_EQ(text.rfind("你好, 张三: 你好 李四，这是第 7 条消息 [", 0), 0u) << text;
  std::filesystem::remove_all(work);
}

}  // namespace
}  // namespace bihuan::testing
