// Evidence files kept by a file-store plugin through the real server: a server on port 0
// whose attachments go to store.files (the .so the build made); upload, then fetch through
// an instance; verify and backup reach the plugin; the configuration names the store.
#include <filesystem>
#include <fstream>
#include <sstream>

#include "attachments/attachment_samples.hpp"  // tests/ is on the include path
#include "bihuan/attachments.hpp"
#include "bihuan/config.hpp"
#include "bihuan/plugin_host.hpp"
#include "serve_process.hpp"
#include "server_fixture.hpp"

namespace bihuan::test {
namespace {

const char* kStoredEvidence = R"({
  "id": "t.stored-evidence", "version": 1,
  "initial": "OPEN",
  "states": {
    "OPEN": {"on": {"submit": {
      "roles": ["clerk"],
      "payloadSchema": {"type": "object", "required": ["photos"], "properties": {
        "photos": {"type": "array", "items": {"type": "string", "format": "bihuan-attachment"}}}},
      "target": "DONE"}}},
    "DONE": {"type": "final", "outcome": "done"}
  }
})";

class AttachmentStoreServerTest : public ServerTest {
 protected:
  void SetUp() override {
    ServerTest::SetUp();
    auto res = engine_->deploy(json::parse(kStoredEvidence), "evidence");
    ASSERT_TRUE(res.ok);
    config_.plugins["evidence"] = {"evidence", "store.files", "", {{"dir", dir_ + "/kept"}}, {}};
    config_.plugins["log"] = {"log", "notify.log", "", {{"path", dir_ + "/n.jsonl"}}, {}};
    config_.plugin_dirs = {BIHUAN_BINARY_DIR "/plugins"};
    Problems problems;
    registry_ = PluginRegistry::load(config_, nullptr, problems);
    ASSERT_FALSE(problems.has_errors());
  }
  // The server section {"attachments": {"store": name}}, read and resolved as serve does.
  std::optional<ServerConfig> with_store(const std::string& name, Problems& problems) const {
    auto c = ServerConfig::from_json({{"attachments", {{"store", name}}}}, "", "/server", problems);
    if (!c || !resolve_attachment_store(*c, registry_, "/server", problems)) return std::nullopt;
    ServerConfig out = config();
    out.attachments = c->attachments;
    return out;
  }
  std::string kept_path(const std::string& address) const {
    std::string hex = address.substr(7);
    return dir_ + "/kept/sha256/" + hex.substr(0, 2) + "/" + hex.substr(2, 2) + "/" + hex;
  }
  EngineConfig config_;
  PluginRegistry registry_;
};

TEST_F(AttachmentStoreServerTest, UploadedFilesGoToThePluginAndAreReadThroughAnInstance) {
  Problems problems;
  auto c = with_store("evidence", problems);
  ASSERT_TRUE(c) << (problems.items().empty() ? "" : problems.items()[0].to_string());
  serve(*c);
  HttpClient clerk(port_, "clerk-token"), admin(port_, "admin-token");
  std::string png = samples::png(51);
  auto up = clerk.request(http::verb::post, "/v1/attachments", png, {}, "image/png");
  ASSERT_EQ(up.status, 201) << up.body;
  std::string a = up.json_body()["address"];
  EXPECT_EQ(clerk.request(http::verb::post, "/v1/attachments", png, {}, "image/png").status, 200);
  ASSERT_TRUE(std::filesystem::exists(kept_path(a)));
  std::string hex = a.substr(7);
  EXPECT_FALSE(std::filesystem::exists(dir_ + "/data/attachments/sha256/" + hex.substr(0, 2) + "/" +
                                       hex.substr(2, 2) + "/" + hex));

  auto s = clerk.post("/v1/instances", {{"definition", "t.stored-evidence"}});
  ASSERT_EQ(s.status, 201) << s.body;
  std::string id = s.json_body()["id"];
  auto e = clerk.post("/v1/instances/" + id + "/events",
                      {{"event", "submit"}, {"payload", {{"photos", {a}}}}});
  ASSERT_EQ(e.status, 200) << e.body;
  auto got = clerk.get("/v1/instances/" + id + "/attachments/" + a);
  ASSERT_EQ(got.status, 200) << got.body;
  EXPECT_EQ(got.body, png);
  EXPECT_EQ(got.header("Content-Type"), "image/png");

  // Verify on the server checks the file through the plugin.
  auto intact = admin.get("/v1/verify");
  ASSERT_EQ(intact.status, 200) << intact.body;
  EXPECT_TRUE(intact.json_body()["ok"].get<bool>()) << intact.body;
  // A backup holds the file itself (local layout) and verifies on its own (LMDB: on
  // PostgreSQL the database's own tools back up the store).
  if (!::bihuan::testing::on_pg()) {
    auto backup = admin.post("/v1/backup", {{"dir", "stored"}});
    ASSERT_EQ(backup.status, 200) << backup.body;
    std::string copy = dir_ + "/data-backups/stored";
    EXPECT_EQ(AttachmentStore::check_file(copy, a), AttachmentStore::Check::ok);
  }

  std::filesystem::remove(kept_path(a));
  auto missing = admin.get("/v1/verify");
  ASSERT_EQ(missing.status, 200) << missing.body;
  EXPECT_FALSE(missing.json_body()["ok"].get<bool>());
  EXPECT_NE(missing.body.find("missing from the attachment store"), std::string::npos)
      << missing.body;
  EXPECT_EQ(clerk.get("/v1/instances/" + id + "/attachments/" + a).status, 404);

  // Without the server (as `bihuan verify`), the engine cannot reach the plugin and says so.
  server_.reset();
  VerifyReport offline = engine_->verify();
  ASSERT_EQ(offline.problems.size(), 1u);
  EXPECT_NE(offline.problems[0].text.find(
                "not checked: the files are kept by the file store that attachments/store.json"),
            std::string::npos)
      << offline.problems[0].text;
  // Nor can it back up: refused before anything is written (no copy without its files).
  std::string error, offline_copy = dir_ + "/offline-backup";
  EXPECT_FALSE(engine_->backup(offline_copy, &error));
  EXPECT_NE(error.find("backup refused: the attachment files of"), std::string::npos) << error;
  EXPECT_NE(error.find("POST /v1/backup"), std::string::npos) << error;
  EXPECT_FALSE(std::filesystem::exists(offline_copy)) << "nothing written";
}

TEST_F(AttachmentStoreServerTest, TheStoreMustNameALoadedFileStoreInstance) {
  Problems unknown;
  EXPECT_FALSE(with_store("nope", unknown));
  ASSERT_EQ(unknown.items().size(), 1u);
  EXPECT_EQ(unknown.items()[0].pointer, "/server/attachments/store");
  EXPECT_NE(unknown.items()[0].message.find("no plugin instance \"nope\""), std::string::npos);
  EXPECT_NE(unknown.items()[0].message.find("\"evidence\""), std::string::npos);

  Problems other;
  EXPECT_FALSE(with_store("log", other));
  ASSERT_EQ(other.items().size(), 1u);
  EXPECT_EQ(other.items()[0].pointer, "/server/attachments/store");
  EXPECT_NE(other.items()[0].message.find("\"log\" is a notifier (plugin notify.log), not a file "
                                          "store"),
            std::string::npos)
      << other.items()[0].message;

  Problems type;
  EXPECT_FALSE(ServerConfig::from_json({{"attachments", {{"store", 3}}}}, "", "/server", type));
  ASSERT_FALSE(type.items().empty());
  EXPECT_EQ(type.items()[0].pointer, "/server/attachments/store");
}

TEST_F(AttachmentStoreServerTest, BihuanServeRefusesAStoreOfAnotherKindNamingThePointer) {
  std::string cfg = dir_ + "/store.json";
  json plugins = {{"log", {{"plugin", "notify.log"}, {"config", {{"path", dir_ + "/n.jsonl"}}}}}};
  json server = {{"listen", "127.0.0.1:0"}, {"attachments", {{"store", "log"}}}};
  std::ofstream(cfg) << json{
      {"dataDir", dir_ + "/served"},
      {"pluginDirs", {BIHUAN_BINARY_DIR "/plugins"}},
      {"plugins", plugins},
      {"server", server}}.dump();
  ServeProcess p;
  EXPECT_FALSE(p.start({"--config", cfg, "--no-workflows"}, dir_ + "/store.log"));
  EXPECT_TRUE(p.exited);
  EXPECT_EQ(p.exit_status, 1);
  std::ifstream in(dir_ + "/store.log");
  std::stringstream ss;
  ss << in.rdbuf();
  EXPECT_NE(ss.str().find("not a file store [at /server/attachments/store]"), std::string::npos)
      << ss.str();
}

}  // namespace
}  // namespace bihuan::test
