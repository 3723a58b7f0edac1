// store.files, the bundled file store (ABI 1.1), loaded from the .so the build made and
// called through the host on real files in a temp directory: put/get/stat/remove, the
// content-addressed layout, a second put of one address, and configurations refused.
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "bihuan/attachments.hpp"
#include "plugin_support.hpp"

namespace fs = std::filesystem;
using namespace bihuan;
using namespace bihuan::testing;

namespace {

struct FileStoreDir {
  fs::path path = make_temp_dir("store-files");
  ~FileStoreDir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
  // A complete local file holding `bytes` (what the host hands a put).
  std::string file(const std::string& name, const std::string& bytes) const {
    std::ofstream(path / name, std::ios::binary) << bytes;
    return (path / name).string();
  }
};

// Any 64-hex address will do: the plugin keeps bytes by the address it is given.
const std::string kStoreAddr = "sha256:" + std::string(62, 'a') + "0b";
const std::string kStoreHex = kStoreAddr.substr(7);

}  // namespace

TEST(StoreFilesPlugin, DeclaresAFileStoreOfAbi11) {
  std::string error;
  auto lib = PluginLibrary::open(bundled("store.files"), &error);
  ASSERT_TRUE(lib) << error;
  EXPECT_EQ(lib->info().kind, PluginKind::file_store);
  EXPECT_EQ(lib->info().abi_major, 1u);
  EXPECT_EQ(lib->info().abi_minor, 1u);
  EXPECT_EQ(to_string(PluginKind::file_store), "file store");
}

TEST(StoreFilesPlugin, PutsGetsStatsAndRemovesByAddress) {
  FileStoreDir dir;
  std::shared_ptr<PluginLibrary> lib;
  auto store =
      create_bundled(lib, "store.files", "evidence", {{"dir", (dir.path / "kept").string()}});
  ASSERT_TRUE(store);
  EXPECT_EQ(store->kind(), PluginKind::file_store);

  EXPECT_TRUE(store->file_get(kStoreAddr).missing());
  EXPECT_TRUE(store->file_stat(kStoreAddr).missing());
  EXPECT_TRUE(store->file_remove(kStoreAddr).missing());

  std::string bytes = std::string("evidence\0bytes", 14) + std::string(70000, 'x');
  std::string tmp = dir.file("upload", bytes);
  auto put = store->file_put(kStoreAddr, tmp, bytes.size(), "image/png");
  ASSERT_TRUE(put.ok()) << put.body;
  // Content-addressed under dir, read-only, nothing left in its tmp/; the host's file is
  // still the host's.
  fs::path kept =
      dir.path / "kept" / "sha256" / kStoreHex.substr(0, 2) / kStoreHex.substr(2, 2) / kStoreHex;
  ASSERT_TRUE(fs::exists(kept));
  EXPECT_EQ(read_text(kept.string()), bytes);
  EXPECT_EQ(fs::status(kept).permissions() & fs::perms::owner_write, fs::perms::none);
  EXPECT_TRUE(fs::is_empty(dir.path / "kept" / "tmp"));
  EXPECT_TRUE(fs::exists(tmp));

  auto got = store->file_get(kStoreAddr);
  ASSERT_TRUE(got.ok()) << got.body;
  EXPECT_EQ(got.body, bytes);
  auto st = store->file_stat(kStoreAddr);
  ASSERT_TRUE(st.ok()) << st.body;
  EXPECT_EQ(st.body, std::to_string(bytes.size()));

  // The same address again: ok, one file.
  auto again = store->file_put(kStoreAddr, dir.file("upload2", bytes), bytes.size(), "image/png");
  EXPECT_TRUE(again.ok()) << again.body;
  std::size_t files = 0;
  for (auto& e : fs::recursive_directory_iterator(dir.path / "kept" / "sha256"))
    files += e.is_regular_file();
  EXPECT_EQ(files, 1u);

  auto removed = store->file_remove(kStoreAddr);
  EXPECT_TRUE(removed.ok()) << removed.body;
  EXPECT_FALSE(fs::exists(kept));
  EXPECT_TRUE(store->file_get(kStoreAddr).missing());
  EXPECT_TRUE(store->file_remove(kStoreAddr).missing());
}

TEST(StoreFilesPlugin, APutWhoseFileIsShortOrGoneStoresNothing) {
  FileStoreDir dir;
  std::shared_ptr<PluginLibrary> lib;
  auto store = create_bundled(lib, "store.files", "evidence", {{"dir", dir.path.string()}});
  ASSERT_TRUE(store);
  auto shortfile = store->file_put(kStoreAddr, dir.file("short", "abc"), 10, "image/png");
  EXPECT_FALSE(shortfile.ok());
  EXPECT_HAS(shortfile.body, "not the 10 announced");
  auto gone = store->file_put(kStoreAddr, (dir.path / "nope").string(), 3, "image/png");
  EXPECT_FALSE(gone.ok());
  EXPECT_TRUE(store->file_get(kStoreAddr).missing());
  EXPECT_TRUE(fs::is_empty(dir.path / "tmp"));
  // An address not of the form is never a path.
  EXPECT_FALSE(store->file_put("sha256:../../etc", dir.file("x", "abc"), 3, "").ok());
  EXPECT_TRUE(store->file_get("sha256:../../etc").missing());
}

TEST(StoreFilesPlugin, AConfigWithoutADirOrWithADirItCannotMakeIsRefused) {
  FileStoreDir dir;
  std::shared_ptr<PluginLibrary> lib;
  Problems none;
  EXPECT_FALSE(create_bundled(lib, "store.files", "evidence", json::object(), nullptr, &none));
  EXPECT_HAS(problems_text(none), "/plugins/evidence/config");
  EXPECT_HAS(problems_text(none), "dir");

  std::string file = dir.file("a-file", "not a directory");
  Problems blocked;
  EXPECT_FALSE(create_bundled(lib, "store.files", "evidence", {{"dir", file + "/store"}}, nullptr,
                              &blocked));
  EXPECT_HAS(problems_text(blocked), "refused to start: cannot create " + file + "/store");

  Problems extra;
  EXPECT_FALSE(create_bundled(lib, "store.files", "evidence",
                              {{"dir", dir.path.string()}, {"path", "x"}}, nullptr, &extra));
}

TEST(StoreFilesPlugin, OtherKindsAreNotFileStoresAndFileStoresAreNoChannels) {
  FileStoreDir dir;
  std::shared_ptr<PluginLibrary> lib;
  auto log = create_bundled(lib, "notify.log", "log", {{"path", (dir.path / "n.jsonl").string()}});
  ASSERT_TRUE(log);
  auto r = log->file_get(kStoreAddr);
  EXPECT_FALSE(r.ok() || r.missing());
  EXPECT_HAS(r.body, "not a file store");
  EXPECT_EQ(attachment_files_of(log), nullptr);

  EngineConfig config;
  config.plugins["files"] = instance("files", "store.files", {{"dir", dir.path.string()}});
  config.plugins["log"] = instance("log", "notify.log", {{"path", (dir.path / "l").string()}});
  config.plugin_dirs = {BIHUAN_BINARY_DIR "/plugins"};
  Problems problems;
  auto registry = PluginRegistry::load(config, nullptr, problems);
  ASSERT_FALSE(problems.has_errors()) << problems_text(problems);
  EXPECT_EQ(registry.names(PluginKind::file_store), std::set<std::string>{"files"});
  std::set<std::string> notifiers, tasks;
  configured_names(config, registry, notifiers, tasks);
  EXPECT_EQ(notifiers, std::set<std::string>{"log"});
  EXPECT_EQ(tasks, std::set<std::string>{"engine"}) << "only the engine's own data source";
  for (const auto& ch : Dispatcher::channels_of(registry, config)) EXPECT_NE(ch.name, "files");
  ASSERT_TRUE(attachment_files_of(registry.find("files")));
  EXPECT_EQ(attachment_files_of(registry.find("files"))->plugin(), "store.files");
}

TEST(StoreFilesPlugin, AFileStoreWithoutTheAbi11FunctionsIsRefusedAtLoad) {
  std::string error;
  auto lib = PluginLibrary::open(faulty("test.store-incomplete"), &error);
  ASSERT_TRUE(lib) << error;  // the descriptor is fine
  Problems problems;
  EXPECT_FALSE(lib->create("files", json::object(), nullptr, problems, "/plugins/files"));
  std::string text = problems_text(problems);
  EXPECT_HAS(text, "test.store-incomplete.so");
  EXPECT_HAS(text, "no file_put, file_get, file_stat and file_remove (ABI 1.1");
}

TEST(StoreFilesPlugin, AnAbi10PluginWithTheShorterTableStillLoadsAndRuns) {
  std::string error;
  auto lib = PluginLibrary::open(faulty("test.abi10-notifier"), &error);
  ASSERT_TRUE(lib) << error;
  EXPECT_EQ(lib->info().abi_minor, 0u);
  Problems problems;
  auto obj = lib->create("old", json::object(), nullptr, problems, "/plugins/old");
  ASSERT_TRUE(obj) << problems_text(problems);
  OutboxMessage m;
  m.kind = "notify";
  m.channel = "old";
  m.body = {{"text", "hello"}};
  auto r = obj->notify(m, 1);
  EXPECT_TRUE(r.ok()) << r.body;
  EXPECT_EQ(r.body, "sent by 1.0");
  // The bytes past its table are not taken for file store entries.
  auto f = obj->file_get(kStoreAddr);
  EXPECT_FALSE(f.ok() || f.missing());
  EXPECT_HAS(f.body, "not a file store");
}
