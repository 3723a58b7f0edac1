// The plugin host against real libraries the build produced: notify.log loads and works;
// every kind of bad plugin gives a clear error that names its file, and the host goes on.
#include <filesystem>

#include "plugin_support.hpp"

namespace bihuan::testing {
namespace {

std::shared_ptr<PluginLibrary> open_ok(const std::string& path) {
  std::string error;
  auto lib = PluginLibrary::open(path, &error);
  EXPECT_TRUE(lib) << error;
  return lib;
}

std::string open_error(const std::string& path) {
  std::string error;
  auto lib = PluginLibrary::open(path, &error);
  EXPECT_FALSE(lib) << path << " loaded but should not";
  EXPECT_HAS(error, path) << "the error must name the file";
  return error;
}

OutboxMessage loader_message(const std::string& text,
                             const std::string& key = "0000000000000001:1:/states/OPEN/onEntry/0") {
  OutboxMessage m;
  m.seq = 1;
  m.kind = "notify";
  m.channel = "log";
  m.instance_id = "0000000000000001";
  m.idempotency_key = key;
  m.body = {{"to", {"张三", "李四"}},   {"text", text},    {"subject", "主题"},
            {"definition", "t.notify"}, {"state", "OPEN"}, {"businessKey", "BK-1"}};
  return m;
}

TEST(PluginLoader, NotifyLogDescriptorIsReadAndItAppendsJsonLinesWithChineseIntact) {
  auto lib = open_ok(bundled("notify.log"));
  ASSERT_TRUE(lib);
  EXPECT_EQ(lib->info().name, "notify.log");
  EXPECT_EQ(lib->info().kind, PluginKind::notifier);
  EXPECT_EQ(lib->info().abi_major, 1u);
  EXPECT_EQ(lib->info().version, "1.0.0");
  EXPECT_EQ(lib->info().config_schema["required"], json::array({"path"}));

  auto dir = make_temp_dir("nlog");
  std::string path = dir + "/sub/notifications.jsonl";
  Problems p;
  auto obj = lib->create("log", {{"path", path}}, nullptr, p);
  ASSERT_TRUE(obj) << problems_text(p);
  EXPECT_EQ(obj->name(), "log");
  auto r = obj->notify(loader_message("请审批 王五 的请假（3 天）"), 1);
  EXPECT_TRUE(r.ok()) << r.body;
  r = obj->notify(loader_message("第二条", "k2"), 2);
  EXPECT_TRUE(r.ok()) << r.body;
  auto lines = read_json_lines(path);
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_EQ(lines[0]["text"], "请审批 王五 的请假（3 天）");
  EXPECT_EQ(lines[0]["subject"], "主题");
  EXPECT_EQ(lines[0]["to"], json::array({"张三", "李四"}));
  EXPECT_EQ(lines[0]["key"], "0000000000000001:1:/states/OPEN/onEntry/0");
  EXPECT_EQ(lines[0]["attempt"], 1);
  EXPECT_TRUE(lines[0].contains("loggedAt"));
  EXPECT_EQ(lines[1]["key"], "k2");
  EXPECT_EQ(lines[1]["attempt"], 2);
  // The raw bytes are UTF-8, not \u escapes.
  EXPECT_HAS(read_text(path), "请审批 王五");
  std::filesystem::remove_all(dir);
}

TEST(PluginLoader, AFileThatIsNotALibraryIsRefusedBeforeLoading) {
  auto dir = make_temp_dir("notlib");
  std::string path = dir + "/notify.fake.so";
  std::ofstream(path) << "this is not a shared library\n";
  EXPECT_HAS(open_error(path), "not a plugin library");
  EXPECT_HAS(open_error(dir + "/absent.so"), "no such plugin file");
  std::filesystem::remove_all(dir);
}

TEST(PluginLoader, AnotherAbiMajorIsRefusedWithoutCallingThePlugin) {
  // The factory of this library aborts the process: reaching it would fail the test.
  auto error = open_error(faulty("test.wrong-abi"));
  EXPECT_HAS(error, "built for plugin ABI 99.0");
  EXPECT_HAS(error, "this Bihuan loads ABI 1.x");
}

TEST(PluginLoader, AMissingFactorySymbolIsRefused) {
  auto error = open_error(faulty("test.missing-factory"));
  EXPECT_HAS(error, "does not export the symbol bihuan_plugin_create");
}

TEST(PluginLoader, AnInvalidConfigurationSchemaIsRefused) {
  auto error = open_error(faulty("test.bad-schema"));
  EXPECT_HAS(error, "plugin test.bad-schema declares an invalid configuration schema");
}

TEST(PluginLoader, AConstructorThatThrowsIsAClearErrorNotACrash) {
  auto lib = open_ok(faulty("test.throwing"));
  ASSERT_TRUE(lib);
  Problems p;
  EXPECT_FALSE(
      lib->create("thrower", {{"throwIn", "constructor"}}, nullptr, p, "/plugins/thrower"));
  ASSERT_EQ(p.error_count(), 1u) << problems_text(p);
  EXPECT_EQ(p.items()[0].pointer, "/plugins/thrower");
  EXPECT_HAS(p.items()[0].message, faulty("test.throwing"));
  EXPECT_HAS(p.items()[0].message, "refused to start: configuration rejected on purpose");
}

TEST(PluginLoader, AnExceptionInAPluginMethodNeverCrossesTheBoundary) {
  auto lib = open_ok(faulty("test.throwing"));
  ASSERT_TRUE(lib);
  Problems p;
  auto obj = lib->create("thrower", {{"throwIn", "notify"}}, nullptr, p);
  ASSERT_TRUE(obj) << problems_text(p);
  auto r = obj->notify(loader_message("x"), 1);
  EXPECT_EQ(r.status, PluginResult::Status::fail);
  EXPECT_HAS(r.body, "plugin threw: boom");

  auto odd = lib->create("thrower2", {{"throwIn", "notify-int"}}, nullptr, p);
  ASSERT_TRUE(odd);
  EXPECT_HAS(odd->notify(loader_message("x"), 1).body, "not a std::exception");

  // A plugin written against the C tables without the SDK lets one escape: the host
  // catches it and names the file.
  auto raw = open_ok(faulty("test.raw-throw"));
  ASSERT_TRUE(raw);
  auto robj = raw->create("raw", json::object(), nullptr, p);
  ASSERT_TRUE(robj) << problems_text(p);
  auto rr = robj->notify(loader_message("x"), 1);
  EXPECT_EQ(rr.status, PluginResult::Status::fail);
  EXPECT_HAS(rr.body, faulty("test.raw-throw"));
  EXPECT_HAS(rr.body, "threw an exception across the plugin boundary: escaped");
}

TEST(PluginLoader, MalformedAnswersFromADataSourceAreErrorsNamingTheFile) {
  auto lib = open_ok(faulty("test.malformed"));
  ASSERT_TRUE(lib);
  EXPECT_EQ(lib->info().kind, PluginKind::data_source);
  Problems p;
  auto src = lib->create("src", json::object(), nullptr, p);
  ASSERT_TRUE(src) << problems_text(p);

  auto good = src->query("rows", {{"id", 1}});
  ASSERT_TRUE(good.ok()) << good.body;
  EXPECT_EQ(good.value, json::parse(R"([{"a": 1, "name": "食品"}])"));

  auto broken = src->query("broken", json::object());
  EXPECT_FALSE(broken.ok());
  EXPECT_HAS(broken.body, faulty("test.malformed"));
  EXPECT_HAS(broken.body, "query \"broken\" returned malformed JSON");

  auto object = src->query("object", json::object());
  EXPECT_HAS(object.body, "must return a JSON array of row objects, got object");
  EXPECT_HAS(src->query("silent", json::object()).body, "returned without a result");
  EXPECT_HAS(src->query("status", json::object()).body, "unknown status 7");

  // Calling it as another kind is refused, not undefined behaviour.
  EXPECT_HAS(src->notify(loader_message("x"), 1).body, "is a data source, not a notifier");
}

TEST(PluginLoader, AWrongConfigurationIsReportedWithPointersAndTheObjectIsNotCreated) {
  auto lib = open_ok(bundled("notify.log"));
  ASSERT_TRUE(lib);
  Problems p("engine.json");
  EXPECT_FALSE(lib->create("sms", {{"path", 5}}, nullptr, p, "/plugins/sms"));
  EXPECT_FALSE(lib->create("sms", {{"colour", "red"}}, nullptr, p, "/plugins/sms"));
  ASSERT_GE(p.error_count(), 2u) << problems_text(p);
  std::set<std::string> pointers;
  for (const auto& item : p.items()) {
    pointers.insert(item.pointer);
    EXPECT_EQ(item.file, "engine.json");
    EXPECT_HAS(item.message,
               "configuration of \"sms\" (plugin notify.log, " + bundled("notify.log"));
  }
  EXPECT_TRUE(pointers.count("/plugins/sms/config/path")) << problems_text(p);  // wrong type
  EXPECT_TRUE(pointers.count("/plugins/sms/config"))
      << problems_text(p);  // missing path, unknown key
}

TEST(PluginLoader, TheLibraryStaysLoadedWhileAnObjectFromItLives) {
  // A private copy, so nothing else in this process holds it.
  auto dir = make_temp_dir("keep");
  std::string path = dir + "/notify.log.so";
  std::filesystem::copy_file(bundled("notify.log"), path);
  auto mapped = [&] { return read_text("/proc/self/maps").find(path) != std::string::npos; };
  std::shared_ptr<PluginObject> obj;
  {
    auto lib = open_ok(path);
    ASSERT_TRUE(lib);
    Problems p;
    obj = lib->create("log", {{"path", dir + "/out.jsonl"}}, nullptr, p);
    ASSERT_TRUE(obj) << problems_text(p);
  }
  EXPECT_TRUE(mapped());  // the library handle is gone, the object keeps it loaded
  EXPECT_TRUE(obj->notify(loader_message("still here"), 1).ok());
  obj.reset();
  EXPECT_FALSE(mapped()) << "unloaded once the last object is destroyed";
  std::filesystem::remove_all(dir);
}

TEST(PluginRegistryLoad, BadInstancesAreLeftOutAndTheOthersLoad) {
  auto dir = make_temp_dir("reg");
  auto config = config_of({instance("log", "notify.log", {{"path", dir + "/n.jsonl"}}),
                           instance("old", "test.wrong-abi", json::object()),
                           instance("nofactory", "test.missing-factory", json::object()),
                           instance("ghost", "notify.nowhere", json::object()),
                           instance("badcfg", "notify.log", {{"path", ""}})});
  config.plugins["renamed"] = instance("renamed", "notify.other", json::object());
  config.plugins["renamed"].file = bundled("notify.log");
  Problems p;
  auto registry = PluginRegistry::load(config, nullptr, p);
  EXPECT_TRUE(registry.find("log"));
  EXPECT_EQ(registry.all().size(), 1u);
  EXPECT_EQ(registry.names(PluginKind::notifier), std::set<std::string>{"log"});
  std::map<std::string, std::string> by_pointer;
  for (const auto& item : p.items()) by_pointer[item.pointer] += item.message;
  EXPECT_HAS(by_pointer["/plugins/old"], "ABI 99.0");
  EXPECT_HAS(by_pointer["/plugins/nofactory"], "bihuan_plugin_create");
  EXPECT_HAS(by_pointer["/plugins/ghost/plugin"],
             "no file notify.nowhere.so in the plugin directories");
  EXPECT_HAS(by_pointer["/plugins/badcfg/config/path"], "configuration of \"badcfg\"");
  EXPECT_HAS(by_pointer["/plugins/renamed/plugin"], "is plugin notify.log, not notify.other");
  std::filesystem::remove_all(dir);
}

TEST(PluginHost, PluginsGetTheClockTheirConfigAndCanEmitEvents) {
  // Through the engine: test.echo-task is driven by the dispatcher elsewhere; here the
  // host table itself, via notify.log's loggedAt (the virtual clock) is enough.
  auto clock = std::make_shared<VirtualClock>(at("2024-02-29T12:00:00Z"));
  auto services = std::make_shared<HostServices>(clock);
  auto lib = open_ok(bundled("notify.log"));
  ASSERT_TRUE(lib);
  auto dir = make_temp_dir("clock");
  Problems p;
  auto obj = lib->create("log", {{"path", dir + "/n.jsonl"}}, services, p);
  ASSERT_TRUE(obj);
  ASSERT_TRUE(obj->notify(loader_message("t"), 1).ok());
  EXPECT_EQ(read_json_lines(dir + "/n.jsonl").at(0)["loggedAt"],
            clock->now().time_since_epoch().count());
  std::string error;
  EXPECT_FALSE(services->emit_event("log", "0000000000000001", "x", "{}", &error));
  EXPECT_HAS(error, "no engine is attached");
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace bihuan::testing
