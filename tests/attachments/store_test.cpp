// AttachmentStore on real files in a temp directory: addresses, once-by-content storage,
// size and type refusals (libmagic), the on-disk layout, verification of a damaged file,
// and the orphan sweep on a virtual clock.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "attachment_samples.hpp"
#include "bihuan/attachments.hpp"
#include "bihuan/clock.hpp"

namespace fs = std::filesystem;
using namespace bihuan;

namespace {

struct TempDir {
  fs::path path;
  TempDir() {
    path = fs::temp_directory_path() / ("bihuan-attach-" + std::to_string(::getpid()) + "-" +
                                        std::to_string(reinterpret_cast<std::uintptr_t>(this)));
    fs::remove_all(path);
    fs::create_directories(path);
  }
  ~TempDir() { fs::remove_all(path); }
};

TimePoint t0() { return TimePoint(Millis(1'767'225'600'000)); }  // 2026-01-01

}  // namespace

TEST(AttachmentStore, StoresOnceByContentUnderItsAddress) {
  TempDir dir;
  AttachmentStore store(dir.path.string(), {});
  std::string png = samples::png(1);
  auto a = store.put(png, "cadre-1", t0());
  ASSERT_EQ(a.status, AttachmentStore::PutStatus::stored) << a.error;
  EXPECT_EQ(a.info.address.substr(0, 7), "sha256:");
  EXPECT_EQ(a.info.address.size(), 71u);
  EXPECT_EQ(a.info.content_type, "image/png");
  EXPECT_EQ(a.info.size, png.size());
  std::string hex = a.info.address.substr(7);
  fs::path file = dir.path / "attachments" / "sha256" / hex.substr(0, 2) / hex.substr(2, 2) / hex;
  EXPECT_TRUE(fs::exists(file));
  EXPECT_EQ(store.path_of(a.info.address), file.string());

  auto b = store.put(png, "cadre-2", t0() + Millis(5000));
  EXPECT_EQ(b.status, AttachmentStore::PutStatus::existed);
  EXPECT_EQ(b.info.address, a.info.address);
  EXPECT_EQ(b.info.uploaded_by, "cadre-1");  // the first upload's record stays
  std::size_t files = 0;
  for (auto& e : fs::recursive_directory_iterator(dir.path / "attachments" / "sha256"))
    files += e.is_regular_file() && e.path().extension() != ".json";
  EXPECT_EQ(files, 1u);

  std::string back;
  ASSERT_TRUE(store.read(a.info.address, back));
  EXPECT_EQ(back, png);
  EXPECT_TRUE(fs::is_empty(dir.path / "attachments" / "tmp"));
}

TEST(AttachmentStore, RefusesTooLargeAndWrongTypes) {
  TempDir dir;
  AttachmentOptions o;
  o.max_bytes = 4096;
  AttachmentStore store(dir.path.string(), o);
  auto big = store.put(samples::png(8000), "u", t0());
  EXPECT_EQ(big.status, AttachmentStore::PutStatus::too_large);
  auto text = store.put("just some words, not a photo\n", "u", t0());
  EXPECT_EQ(text.status, AttachmentStore::PutStatus::wrong_type);
  EXPECT_EQ(text.detected, "text/plain");
  // A PNG body under a .pdf name or type claim is still a PNG: detection reads the bytes.
  EXPECT_EQ(store.put(samples::pdf(), "u", t0()).info.content_type, "application/pdf");
  EXPECT_EQ(store.put(samples::jpeg(), "u", t0()).info.content_type, "image/jpeg");
  AttachmentOptions only_pdf;
  only_pdf.types = {"application/pdf"};
  AttachmentStore strict(dir.path.string(), only_pdf);
  auto png = strict.put(samples::png(1), "u", t0());
  EXPECT_EQ(png.status, AttachmentStore::PutStatus::wrong_type);
  EXPECT_EQ(png.detected, "image/png");
}

TEST(AttachmentStore, AddressesAreStrict) {
  EXPECT_TRUE(AttachmentStore::parse_address("sha256:" + std::string(64, 'a')));
  EXPECT_FALSE(AttachmentStore::parse_address("sha256:" + std::string(64, 'A')));
  EXPECT_FALSE(AttachmentStore::parse_address("sha256:" + std::string(63, 'a')));
  EXPECT_FALSE(AttachmentStore::parse_address("md5:" + std::string(64, 'a')));
  EXPECT_FALSE(AttachmentStore::parse_address("sha256:../../" + std::string(58, 'a')));
}

TEST(AttachmentStore, CheckFindsMissingAndCorruptFiles) {
  TempDir dir;
  AttachmentStore store(dir.path.string(), {});
  auto a = store.put(samples::png(2), "u", t0());
  ASSERT_EQ(a.status, AttachmentStore::PutStatus::stored);
  EXPECT_EQ(store.check(a.info.address), AttachmentStore::Check::ok);
  EXPECT_EQ(store.check("sha256:" + std::string(64, '0')), AttachmentStore::Check::missing);
  fs::path file = store.path_of(a.info.address);
  fs::permissions(file, fs::perms::owner_write, fs::perm_options::add);
  {
    std::fstream f(file, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(20);
    f.put('\x7f');
  }
  EXPECT_EQ(store.check(a.info.address), AttachmentStore::Check::corrupt);
}

TEST(AttachmentStore, ClearsHalfWrittenFilesAtOpen) {
  TempDir dir;
  { AttachmentStore store(dir.path.string(), {}); }
  std::ofstream(dir.path / "attachments" / "tmp" / "123-half") << "half a photo";
  AttachmentStore store(dir.path.string(), {});
  EXPECT_TRUE(fs::is_empty(dir.path / "attachments" / "tmp"));
}

TEST(AttachmentStore, SweepRemovesOnlyOldUnreferencedFilesByTheEnginesClock) {
  TempDir dir;
  AttachmentOptions o;
  o.orphan_after = std::chrono::hours(24);
  AttachmentStore store(dir.path.string(), o);
  VirtualClock clock(t0());
  auto kept = store.put(samples::png(3), "u", clock.now());
  auto orphan = store.put(samples::png(4), "u", clock.now());
  clock.advance(Millis(std::chrono::hours(2)));
  auto young = store.put(samples::png(5), "u", clock.now());
  // What the engine's reference index answers (attachment_named): a step names `kept`.
  auto named = [&](const std::string& a) -> std::optional<bool> { return a == kept.info.address; };

  clock.advance(Millis(std::chrono::hours(21)));  // 23 h after the first two
  EXPECT_EQ(store.sweep_orphans(clock.now(), named), 0u);
  clock.advance(Millis(std::chrono::hours(1)));  // 24 h
  EXPECT_EQ(store.sweep_orphans(clock.now(), named), 1u);
  EXPECT_FALSE(store.stat(orphan.info.address));
  EXPECT_TRUE(store.stat(kept.info.address));
  EXPECT_TRUE(store.stat(young.info.address));
  clock.advance(Millis(std::chrono::hours(2)));
  EXPECT_EQ(store.sweep_orphans(clock.now(), named), 1u);
  EXPECT_FALSE(store.stat(young.info.address));
  EXPECT_TRUE(store.stat(kept.info.address));
  EXPECT_EQ(store.check(kept.info.address), AttachmentStore::Check::ok);
}
