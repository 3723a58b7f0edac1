// AttachmentStore keeping its files through a file-store plugin: the real store.files.so
// the build made, on real files in a temp directory. The bytes land in the plugin's
// directory (not under attachments/sha256), the records and pending markers stay local;
// read, check (corrupt, missing), the orphan sweep and the backup copy go through the
// plugin; verify without the server says the files are kept elsewhere.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "attachment_samples.hpp"
#include "bihuan/attachments.hpp"
#include "bihuan/clock.hpp"
#include "bihuan/plugin_host.hpp"

namespace fs = std::filesystem;
using namespace bihuan;

namespace {

// A data directory and a plugin store directory, and the store.files instance over it.
struct PluginStoreFixture {
  fs::path root, data, kept;
  std::shared_ptr<PluginObject> object;
  PluginStoreFixture() {
    root = fs::temp_directory_path() / ("bihuan-attach-plugin-" + std::to_string(::getpid()) + "-" +
                                        std::to_string(reinterpret_cast<std::uintptr_t>(this)));
    fs::remove_all(root);
    data = root / "data";
    kept = root / "kept";
    fs::create_directories(data);
    std::string error;
    auto lib = PluginLibrary::open(BIHUAN_BINARY_DIR "/plugins/store.files.so", &error);
    EXPECT_TRUE(lib) << error;
    Problems problems;
    if (lib) object = lib->create("evidence", {{"dir", kept.string()}}, nullptr, problems);
    EXPECT_TRUE(object) << (problems.items().empty() ? "" : problems.items()[0].to_string());
  }
  ~PluginStoreFixture() {
    std::error_code ec;
    fs::remove_all(root, ec);
  }
  AttachmentOptions options() const {
    AttachmentOptions o;
    o.store = "evidence";
    o.files = attachment_files_of(object);
    return o;
  }
  fs::path kept_file(const std::string& address) const {
    std::string hex = address.substr(7);
    return kept / "sha256" / hex.substr(0, 2) / hex.substr(2, 2) / hex;
  }
  fs::path local(const std::string& address, const std::string& suffix = "") const {
    std::string hex = address.substr(7);
    return data / "attachments" / "sha256" / hex.substr(0, 2) / hex.substr(2, 2) / (hex + suffix);
  }
};

TimePoint plugin_t0() { return TimePoint(Millis(1'767'225'600'000)); }  // 2026-01-01

}  // namespace

TEST(AttachmentStorePlugin, StoredBytesLandInThePluginsDirectoryNotUnderAttachments) {
  PluginStoreFixture f;
  ASSERT_TRUE(f.object);
  AttachmentStore store(f.data.string(), f.options());
  std::string png = samples::png(41);
  auto a = store.put(png, "cadre-1", plugin_t0());
  ASSERT_EQ(a.status, AttachmentStore::PutStatus::stored) << a.error;
  EXPECT_EQ(a.info.content_type, "image/png");
  ASSERT_TRUE(fs::exists(f.kept_file(a.info.address)));
  EXPECT_EQ(fs::file_size(f.kept_file(a.info.address)), png.size());
  EXPECT_FALSE(fs::exists(f.local(a.info.address)));
  EXPECT_TRUE(fs::exists(f.local(a.info.address, ".json")));  // the record stays local
  EXPECT_TRUE(fs::exists(f.data / "attachments" / "pending" / a.info.address.substr(7)));
  EXPECT_TRUE(fs::is_empty(f.data / "attachments" / "tmp"));  // handed over, then removed
  EXPECT_EQ(json::parse(std::ifstream(f.data / "attachments" / "store.json")),
            json({{"store", "evidence"}, {"plugin", "store.files"}}));
  EXPECT_EQ(store.path_of(a.info.address), "");

  std::string back;
  ASSERT_TRUE(store.read(a.info.address, back));
  EXPECT_EQ(back, png);
  auto info = store.stat(a.info.address);
  ASSERT_TRUE(info);
  EXPECT_EQ(info->size, png.size());
  EXPECT_EQ(info->uploaded_by, "cadre-1");
  auto again = store.put(png, "cadre-2", plugin_t0());
  EXPECT_EQ(again.status, AttachmentStore::PutStatus::existed);
  EXPECT_EQ(again.info.uploaded_by, "cadre-1");
  // Refusals never reach the plugin.
  EXPECT_EQ(store.put("plain text", "u", plugin_t0()).status,
            AttachmentStore::PutStatus::wrong_type);
  std::size_t files = 0;
  for (auto& e : fs::recursive_directory_iterator(f.kept / "sha256")) files += e.is_regular_file();
  EXPECT_EQ(files, 1u);
  EXPECT_TRUE(fs::is_empty(f.data / "attachments" / "tmp"));
}

TEST(AttachmentStorePlugin, CheckCatchesACorruptAndAMissingFileInThePlugin) {
  PluginStoreFixture f;
  ASSERT_TRUE(f.object);
  AttachmentStore store(f.data.string(), f.options());
  auto a = store.put(samples::png(42), "u", plugin_t0());
  auto b = store.put(samples::jpeg(), "u", plugin_t0());
  ASSERT_EQ(a.status, AttachmentStore::PutStatus::stored) << a.error;
  EXPECT_EQ(store.check(a.info.address), AttachmentStore::Check::ok);
  fs::permissions(f.kept_file(a.info.address), fs::perms::owner_write, fs::perm_options::add);
  {
    std::fstream file(f.kept_file(a.info.address), std::ios::in | std::ios::out | std::ios::binary);
    file.seekp(30);
    file.put('\x7f');
  }
  EXPECT_EQ(store.check(a.info.address), AttachmentStore::Check::corrupt);
  fs::remove(f.kept_file(b.info.address));
  EXPECT_EQ(store.check(b.info.address), AttachmentStore::Check::missing);
  EXPECT_FALSE(store.stat(b.info.address));
  std::string bytes;
  EXPECT_FALSE(store.read(b.info.address, bytes));
  // Without the server (bihuan verify), the data directory says where the files are.
  EXPECT_EQ(AttachmentStore::check_file(f.data.string(), a.info.address),
            AttachmentStore::Check::unchecked);
}

TEST(AttachmentStorePlugin, TheOrphanSweepRemovesThroughThePlugin) {
  PluginStoreFixture f;
  ASSERT_TRUE(f.object);
  AttachmentOptions o = f.options();
  o.orphan_after = std::chrono::hours(24);
  AttachmentStore store(f.data.string(), o);
  VirtualClock clock(plugin_t0());
  auto kept = store.put(samples::png(43), "u", clock.now());
  auto orphan = store.put(samples::png(44), "u", clock.now());
  clock.advance(Millis(std::chrono::hours(25)));
  EXPECT_EQ(store.sweep_orphans(clock.now(),
                                [&](const std::string& a) -> std::optional<bool> {
                                  return a == kept.info.address;  // a step names it
                                }),
            1u);
  EXPECT_FALSE(fs::exists(f.kept_file(orphan.info.address)));
  EXPECT_FALSE(fs::exists(f.local(orphan.info.address, ".json")));
  EXPECT_FALSE(store.stat(orphan.info.address));
  EXPECT_TRUE(fs::exists(f.kept_file(kept.info.address)));
  EXPECT_EQ(store.check(kept.info.address), AttachmentStore::Check::ok);
}

TEST(AttachmentStorePlugin, ABackupCopiesThePluginsFilesIntoTheLocalLayout) {
  PluginStoreFixture f;
  ASSERT_TRUE(f.object);
  AttachmentStore store(f.data.string(), f.options());
  auto a = store.put(samples::png(45), "u", plugin_t0());
  auto b = store.put(samples::pdf(), "u", plugin_t0());
  ASSERT_EQ(b.status, AttachmentStore::PutStatus::stored) << b.error;

  // The static copy (bihuan backup without the server) cannot reach the plugin: refused.
  std::string error;
  EXPECT_FALSE(AttachmentStore::copy_files(f.data.string(), (f.root / "offline").string(), &error));
  EXPECT_NE(error.find("kept by the file store \"evidence\""), std::string::npos) << error;
  EXPECT_NE(error.find("POST /v1/backup"), std::string::npos) << error;

  fs::path copy = f.root / "backup";
  ASSERT_TRUE(store.copy_to(copy.string(), &error)) << error;
  for (const auto* r : {&a, &b}) {
    std::string hex = r->info.address.substr(7);
    fs::path dir = copy / "attachments" / "sha256" / hex.substr(0, 2) / hex.substr(2, 2);
    EXPECT_TRUE(fs::exists(dir / (hex + ".json")));
    EXPECT_EQ(AttachmentStore::check_file(copy.string(), r->info.address),
              AttachmentStore::Check::ok)
        << "the backup holds the file itself and verifies on its own";
  }
  for (const auto* r : {&a, &b})  // the markers as they are (the sweep asks the index)
    EXPECT_TRUE(fs::exists(copy / "attachments" / "pending" / r->info.address.substr(7)));
  EXPECT_FALSE(fs::exists(copy / "attachments" / "store.json"));
}

TEST(AttachmentStorePlugin, WithoutAStoreNothingChangesOnDiskAndANamedStoreMustBeLoaded) {
  PluginStoreFixture f;
  {
    AttachmentStore local(f.data.string(), {});
    auto a = local.put(samples::png(46), "u", plugin_t0());
    ASSERT_EQ(a.status, AttachmentStore::PutStatus::stored) << a.error;
    EXPECT_TRUE(fs::exists(f.local(a.info.address)));
  }
  EXPECT_FALSE(fs::exists(f.data / "attachments" / "store.json"));
  AttachmentOptions unresolved;
  unresolved.store = "evidence";
  try {
    AttachmentStore store(f.data.string(), unresolved);
    ADD_FAILURE() << "a store name without its plugin opened";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("\"evidence\" is not a loaded file-store plugin"),
              std::string::npos)
        << e.what();
  }
}
