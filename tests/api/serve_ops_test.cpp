// Operations that fail loudly, through the real server: one server (one dispatcher) per
// data directory, released by the kernel when a server is killed; backups written only
// inside the backup root, readable by their owner only; a configuration with an unknown
// member or a plugin that cannot be loaded does not start; every line `bihuan serve`
// logs is JSON; --config is laid over the embedded default.
#include <sys/stat.h>

#include <filesystem>
#include <fstream>

#include "bihuan/dispatcher.hpp"
#include "bihuan/serve_lock.hpp"
#include "serve_process.hpp"
#include "server_fixture.hpp"

using namespace bihuan;
using namespace bihuan::test;
namespace fs = std::filesystem;

namespace {

struct CliResult {
  int rc = -1;
  std::string err;
};

// `bihuan ARGS` with stdout and stderr kept in `dir`.
CliResult run_cli(const std::string& dir, const std::vector<std::string>& args) {
  std::string cmd = "env -u BIHUAN_DATA '" BIHUAN_CLI "'";
  for (const auto& a : args) cmd += " '" + a + "'";
  cmd += " >'" + dir + "/cli.out' 2>'" + dir + "/cli.err'";
  int status = std::system(cmd.c_str());
  CliResult r;
  r.rc = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  std::ifstream in(dir + "/cli.err");
  std::stringstream ss;
  ss << in.rdbuf();
  r.err = ss.str();
  return r;
}

unsigned mode_of(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return 0;
  return st.st_mode & 0777;
}

// Every line of `text` is a JSON object with ts, level and msg; "" or the first that is not.
std::string first_non_json_line(const std::string& text) {
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    json j = json::parse(line, nullptr, false);
    if (!j.is_object() || !j.contains("ts") || !j.contains("level") || !j["msg"].is_string())
      return line;
  }
  return "";
}

}  // namespace

TEST_F(ServerTest, ASecondServerOnADataDirectoryIsRefusedUntilTheFirstIsKilled) {
  std::string data = dir_ + "/served";
  std::vector<std::string> args = {"--listen", "127.0.0.1:0", "--data-dir", data, "--no-workflows"};
  ServeProcess first;
  ASSERT_TRUE(first.start(args, dir_ + "/first.log")) << first.text();

  ServeProcess second;
  EXPECT_FALSE(second.start(args, dir_ + "/second.log"));
  EXPECT_TRUE(second.exited);
  EXPECT_EQ(second.exit_status, 1);
  std::string refused = second.text();
  EXPECT_NE(refused.find("already served by process " + std::to_string(first.pid)),
            std::string::npos)
      << refused;
  EXPECT_NE(refused.find(fs::absolute(data).lexically_normal().string()), std::string::npos)
      << refused;
  EXPECT_EQ(first_non_json_line(refused), "");

  // Beside the server, the CLI's reads and steps stay allowed; a second dispatcher does not.
  EXPECT_EQ(run_cli(dir_, {"timers", "-D", data}).rc, 0);
  auto dispatch = run_cli(dir_, {"dispatch", "--once", "-D", data});
  EXPECT_EQ(dispatch.rc, 1);
  EXPECT_NE(dispatch.err.find("already served by process " + std::to_string(first.pid)),
            std::string::npos)
      << dispatch.err;

  first.kill9();  // no shutdown: the kernel releases the lock
  ServeProcess third;
  ASSERT_TRUE(third.start(args, dir_ + "/third.log")) << third.text();
  HttpClient c(third.port);
  EXPECT_EQ(c.get("/healthz").status, 200);
  EXPECT_EQ(third.stop(), 0);
}

TEST_F(ServerTest, AnEmbeddedDispatcherHoldsTheDataDirectoryToo) {
  std::string data = engine_->options().data_dir;
  std::string why;
  {
    Dispatcher a(*engine_, {});
    EXPECT_EQ(a.refusal(), "");
    EXPECT_TRUE(a.start());
    Dispatcher b(*engine_, {});
    EXPECT_NE(b.refusal().find("already served by this process"), std::string::npos) << b.refusal();
    EXPECT_FALSE(b.start());
    EXPECT_EQ(b.run_once(), 0u);
    EXPECT_FALSE(ServeLock::acquire(data, &why));
    EXPECT_NE(why.find(data), std::string::npos) << why;
    a.stop();
  }
  auto lock = ServeLock::acquire(data, &why);
  ASSERT_TRUE(lock) << "released with the dispatcher: " << why;
  DispatcherOptions o;
  o.lock = std::move(lock);
  Dispatcher handed(*engine_, {}, o);
  EXPECT_EQ(handed.refusal(), "") << "a dispatcher handed the lock uses it";
}

TEST_F(ServerTest, BackupsAreWrittenOnlyInsideTheBackupRootAndOnlyForTheirOwner) {
  SKIP_ON_PG("Bihuan's own backup (PostgreSQL: pg_basebackup)");
  std::string root = dir_ + "/backups", outside = dir_ + "/outside";
  fs::create_directories(root);
  fs::create_directories(outside);
  fs::create_directory_symlink(outside, root + "/link");
  std::ofstream(root + "/file") << "not a directory";
  auto c = config();
  c.backup_root = root;
  serve(c);
  HttpClient admin(port_, "admin-token");

  for (std::string bad : std::vector<std::string>{
           "../outside/x", "../../x", "daily/../../outside/x", "/etc/bihuan-backup-test",
           outside + "/x", dir_ + "/backups-x/y", "link", "link/x", "file/x", ".", root, "/"}) {
    auto r = admin.post("/v1/backup", {{"dir", bad}});
    EXPECT_EQ(r.status, 400) << bad << ": " << r.body;
    json body = r.json_body();
    EXPECT_EQ(body.value("code", ""), "bad-backup-dir") << bad;
    ASSERT_TRUE(body["errors"].is_array()) << r.body;
    EXPECT_EQ(body["errors"][0]["pointer"], "/dir") << bad;
  }
  EXPECT_TRUE(fs::is_empty(outside)) << "nothing was written through the link or ..";
  EXPECT_FALSE(fs::exists("/etc/bihuan-backup-test"));
  EXPECT_FALSE(fs::exists(dir_ + "/backups-x"));
  EXPECT_EQ(admin.post("/v1/backup", json::object()).status, 422);

  auto ok = admin.post("/v1/backup", {{"dir", "daily/2024-04-03"}});
  ASSERT_EQ(ok.status, 200) << ok.body;
  std::string copy = root + "/daily/2024-04-03";
  EXPECT_EQ(ok.json_body()["path"], copy);
  ASSERT_TRUE(fs::exists(copy + "/data.mdb"));
  EXPECT_EQ(mode_of(copy + "/data.mdb"), 0600u) << "a backup holds every instance's data";
  EXPECT_EQ(mode_of(copy), 0700u);
  EXPECT_EQ(mode_of(root + "/daily"), 0700u);
  EXPECT_EQ(admin.post("/v1/backup", {{"dir", "daily/2024-04-03"}}).status, 409) << "not empty";

  auto absolute_inside = admin.post("/v1/backup", {{"dir", root + "/weekly/"}});
  EXPECT_EQ(absolute_inside.status, 200) << absolute_inside.body;
  EXPECT_TRUE(fs::exists(root + "/weekly/data.mdb"));

  // The copy is a data directory of its own.
  Problems p;
  EngineOptions eo;
  eo.data_dir = copy;
  auto opened = Engine::open(eo, p);
  ASSERT_TRUE(opened);
  EXPECT_TRUE(opened->definition("t.counter", 1));
  opened->close();
}

TEST_F(ServerTest, WithoutABackupRootBackupsGoBesideTheDataDirectory) {
  SKIP_ON_PG("Bihuan's own backup (PostgreSQL: pg_basebackup)");
  serve();
  HttpClient admin(port_, "admin-token");
  auto r = admin.post("/v1/backup", {{"dir", "first"}});
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_TRUE(fs::exists(dir_ + "/data-backups/first/data.mdb"));
  EXPECT_EQ(admin.post("/v1/backup", {{"dir", "../data/x"}}).status, 400);
}

TEST_F(ServerTest, TheServerSectionNamesTheBackupRootRelativeToTheFile) {
  Problems p;
  auto c = ServerConfig::from_json({{"backupRoot", "copies"}}, "/etc/bihuan", "/server", p);
  ASSERT_TRUE(c);
  EXPECT_EQ(c->backup_root, "/etc/bihuan/copies");
  EXPECT_FALSE(ServerConfig::from_json({{"backupRoot", 3}}, "", "/server", p));
  ASSERT_FALSE(p.items().empty());
  EXPECT_EQ(p.items().back().pointer, "/server/backupRoot");
}

TEST_F(ServerTest, AConfigurationWithAPluginThatCannotBeLoadedOrAnUnknownMemberDoesNotStart) {
  std::string missing = dir_ + "/missing-plugin.json";
  std::ofstream(missing)
      << json({{"dataDir", "d1"},
               {"plugins", {{"sms", {{"plugin", "notify.nowhere"}, {"config", json::object()}}}}}})
             .dump(2);
  ServeProcess a;
  EXPECT_FALSE(a.start({"--config", missing, "--listen", "127.0.0.1:0"}, dir_ + "/missing.log"));
  EXPECT_TRUE(a.exited);
  EXPECT_EQ(a.exit_status, 1);
  EXPECT_NE(a.text().find("/plugins/sms"), std::string::npos) << a.text();
  EXPECT_EQ(first_non_json_line(a.text()), "");

  std::string unknown = dir_ + "/unknown-member.json";
  std::ofstream(unknown)
      << R"({"dataDir": "d2", "dispatch": {"pollMs": 50, "polMs": 5}, "servr": {}})";
  ServeProcess b;
  EXPECT_FALSE(b.start({"--config", unknown, "--listen", "127.0.0.1:0"}, dir_ + "/unknown.log"));
  EXPECT_TRUE(b.exited);
  EXPECT_EQ(b.exit_status, 1);
  EXPECT_NE(b.text().find("/servr"), std::string::npos) << b.text();
  EXPECT_NE(b.text().find("/dispatch/polMs"), std::string::npos) << b.text();
  EXPECT_EQ(first_non_json_line(b.text()), "");
  EXPECT_FALSE(fs::exists(dir_ + "/d2")) << "refused before touching the data directory";
}

TEST_F(ServerTest, EveryLineBihuanServeWritesIsJson) {
  // A message for a channel no plugin serves makes the dispatcher warn: written beforehand
  // by the CLI (which checks no names without --config).
  std::string data = dir_ + "/logged";
  std::ofstream(dir_ + "/sms.json") << R"({"id": "t.sms", "version": 1, "initial": "A",
    "states": {"A": {"onEntry": [{"notify": "sms-gateway", "to": "x", "template": "hello"}],
                     "on": {"go": {"target": "B"}}}, "B": {"type": "final", "outcome": "done"}}})";
  ASSERT_EQ(run_cli(dir_, {"deploy", dir_ + "/sms.json", "-D", data}).rc, 0);
  ASSERT_EQ(run_cli(dir_, {"start", "t.sms", "-D", data}).rc, 0);

  ServeProcess p;
  ASSERT_TRUE(p.start({"--listen", "127.0.0.1:0", "--data-dir", data}, dir_ + "/serve.log"))
      << p.text();
  ASSERT_TRUE(
      p.wait_for_line("no plugin is configured for this channel; its messages stay in the outbox"))
      << p.text();
  HttpClient c(p.port, "wrong-token");
  EXPECT_EQ(c.get("/v1/definitions").status, 401);
  EXPECT_EQ(p.stop(), 0);
  std::string text = p.text();
  EXPECT_GT(std::count(text.begin(), text.end(), '\n'), 5);
  EXPECT_EQ(first_non_json_line(text), "") << text;
  EXPECT_EQ(p.text(".out"), "") << "nothing on stdout";

  // An error on the way out too.
  ServeProcess bad;
  EXPECT_FALSE(bad.start({"--config", dir_ + "/no-such-file.json", "--listen", "127.0.0.1:0"},
                         dir_ + "/bad.log"));
  EXPECT_EQ(bad.exit_status, 1);
  EXPECT_NE(bad.text().find("no-such-file.json"), std::string::npos) << bad.text();
  EXPECT_EQ(first_non_json_line(bad.text()), "") << bad.text();
}

TEST_F(ServerTest, AConfigurationThatAddsTwoTokensKeepsTheBundledWorkflowsAndPlugins) {
  std::string cfg = dir_ + "/tokens.json";
  std::ofstream(cfg) << json({{"server",
                               {{"tokens",
                                 {{{"name", "ops"},
                                   {"sha256", ServerConfig::hash_token("ops-token")},
                                   {"actor", "ops"},
                                   {"roles", {"admin"}}},
                                  {{"name", "clerk"},
                                   {"sha256", ServerConfig::hash_token("clerk-token")},
                                   {"actor", "c1"},
                                   {"roles", {"clerk"}}}}}}}})
                            .dump(2);
  std::string data = dir_ + "/layered";
  ServeProcess p;
  ASSERT_TRUE(p.start({"--config", cfg, "--listen", "127.0.0.1:0", "--data-dir", data},
                      dir_ + "/layered.log"))
      << p.text();
  HttpClient ops(p.port, "ops-token");
  auto defs = ops.get("/v1/definitions");
  ASSERT_EQ(defs.status, 200) << defs.body;
  std::set<std::string> ids;
  json listed = defs.json_body();
  for (const auto& d : listed["items"]) ids.insert(d["id"].get<std::string>());
  EXPECT_TRUE(ids.count("demo.leave-request")) << "the bundled workflows are deployed\n"
                                               << p.text();
  EXPECT_EQ(HttpClient(p.port, "clerk-token").get("/v1/inbox").status, 200);
  bool plugins = false;
  for (const auto& line : p.lines())
    if (line.is_object() && line.value("msg", "") == "plugins loaded")
      plugins = line["instances"] == json({"log", "notify-log"});
  EXPECT_TRUE(plugins) << p.text();
  EXPECT_FALSE(fs::exists(data + "/dev-admin-token")) << "the file's tokens, no development token";
  EXPECT_EQ(p.stop(), 0);
}
