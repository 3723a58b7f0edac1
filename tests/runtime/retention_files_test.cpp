// Retention with evidence files (docs/retention.md, "Attachments"): the files archived
// instances name are copied beside the archive and checked with it, released from the
// store (removed by the orphan sweep unless another instance still names them), and
// brought back by restore. The reference index behind it (storage format 6).
#include <filesystem>
#include <fstream>

#include "../attachments/attachment_samples.hpp"
#include "bihuan/attachment_check.hpp"
#include "bihuan/attachments.hpp"
#include "bihuan/retention.hpp"
#include "engine_fixture.hpp"
#include "runtime/engine_impl.hpp"

using namespace bihuan;
namespace fs = std::filesystem;

namespace {

// "add" keeps the case open, "submit" closes it; the start data may name a scan.
const char* kFiled = R"({
  "id": "t.filed", "version": 1, "retention": "P1D",
  "dataSchema": {"type": "object", "properties": {
    "scan": {"type": "string", "format": "bihuan-attachment"}}},
  "initial": "OPEN",
  "states": {
    "OPEN": {"on": {
      "add": {"payloadSchema": {"type": "object", "properties": {
        "photos": {"type": "array", "items": {"type": "string", "format": "bihuan-attachment"}}}}},
      "submit": {"target": "DONE", "payloadSchema": {"type": "object", "properties": {
        "photos": {"type": "array", "items": {"type": "string", "format": "bihuan-attachment"}}}}}}},
    "DONE": {"type": "final", "outcome": "done"}
  }
})";

class RetentionFilesTest : public bihuan::testing::EngineTest {
 protected:
  void SetUp() override {
    EngineTest::SetUp();
    attach();
    deploy(kFiled);
  }
  void TearDown() override {
    store_.reset();
    EngineTest::TearDown();
    fs::remove_all(archives());
  }
  // The store as bihuan serve wires it: steps claim what they name, retention reaches it.
  void attach() {
    AttachmentOptions o;
    o.orphan_after = std::chrono::hours(24);
    store_ = std::make_shared<AttachmentStore>(dir_, o);
    set_attachment_check(
        *engine_, [s = store_, c = clock_](const std::string& a) { return s->claim(a, c->now()); });
    set_attachment_store(*engine_, store_);
  }
  std::string upload(std::size_t pad) {
    auto r = store_->put(samples::png(pad), "u1", clock_->now());
    EXPECT_TRUE(r.status == AttachmentStore::PutStatus::stored) << r.error;
    return r.info.address;
  }
  std::string archives() const { return dir_ + "-archives"; }
  std::string copy_of(const std::string& address) const {
    std::string hex = address.substr(7);
    return archives() + "/files/sha256/" + hex.substr(0, 2) + "/" + hex.substr(2, 2) + "/" + hex;
  }
  RetentionReport archive_finished() {
    RetentionRun run;
    run.options.archive_dir = archives();
    run.retention = Duration{};  // PT0S: every finished instance
    return run_retention(*engine_, run);
  }
  // The server's sweep, a day and an hour on.
  std::size_t sweep_a_day_later() {
    clock_->set(clock_->now() + std::chrono::hours(25));
    return store_->sweep_orphans(
        clock_->now(), [this](const std::string& a) { return attachment_named(*engine_, a); });
  }
  std::string closed_case(const std::vector<std::string>& photos, const std::string& scan = {}) {
    json data = json::object();
    if (!scan.empty()) data["scan"] = scan;
    auto s = start("t.filed", data);
    EXPECT_TRUE(s.ok()) << s.message;
    auto r = send(s.instance->id, "submit", {{"photos", photos}});
    EXPECT_TRUE(r.ok()) << r.message;
    return s.instance->id;
  }
  void expect_store_sound() {
    VerifyReport v = engine_->verify();
    for (const auto& b : v.broken) ADD_FAILURE() << b;
  }
  std::shared_ptr<AttachmentStore> store_;
};

}  // namespace

TEST_F(RetentionFilesTest, AStepNamesItsFilesInTheReferenceIndex) {
  std::string named = upload(1), loose = upload(2), scan = upload(3);
  EXPECT_EQ(attachment_named(*engine_, named), std::optional<bool>(false));
  closed_case({named}, scan);
  EXPECT_EQ(attachment_named(*engine_, named), std::optional<bool>(true));
  EXPECT_EQ(attachment_named(*engine_, scan), std::optional<bool>(true));
  EXPECT_EQ(attachment_named(*engine_, loose), std::optional<bool>(false));
  // A refused step names nothing.
  auto s = start("t.filed");
  ASSERT_TRUE(s.ok());
  std::string absent = "sha256:" + std::string(64, 'a');
  EXPECT_FALSE(send(s.instance->id, "add", {{"photos", {loose, absent}}}).ok());
  EXPECT_EQ(attachment_named(*engine_, loose), std::optional<bool>(false));
  // The orphan sweep takes the upload nothing named, and only it.
  EXPECT_EQ(sweep_a_day_later(), 1u);
  EXPECT_FALSE(store_->stat(loose));
  EXPECT_TRUE(store_->stat(named));
}

TEST_F(RetentionFilesTest, ArchivedFilesAreCopiedReleasedSweptAndRestored) {
  std::string only = upload(1), shared = upload(2), scan = upload(3);
  std::string id = closed_case({only, shared}, scan);
  auto open_case = start("t.filed");
  ASSERT_TRUE(open_case.ok());
  ASSERT_TRUE(send(open_case.instance->id, "add", {{"photos", {shared}}}).ok());
  json view = engine_->get(id)->to_json(*TimeZone::utc());

  RetentionReport rep = archive_finished();
  ASSERT_TRUE(rep.error.empty()) << rep.error;
  ASSERT_EQ(rep.removed, 1u);
  ASSERT_EQ(rep.archives.size(), 1u);
  // Each file the instance named is beside the archive, checked with it.
  for (const auto& a : {only, shared, scan}) {
    EXPECT_TRUE(fs::exists(copy_of(a))) << a;
    EXPECT_TRUE(fs::exists(copy_of(a) + ".json")) << a;
  }
  ArchiveCheck check = verify_archive(rep.archives[0]);
  EXPECT_TRUE(check.ok()) << (check.problems.empty() ? "" : check.problems[0]);
  EXPECT_EQ(attachment_named(*engine_, only), std::optional<bool>(false));
  EXPECT_EQ(attachment_named(*engine_, shared), std::optional<bool>(true));

  // A day on, the sweep removes the files only the archived instance named; the one the
  // open case still names stays.
  EXPECT_EQ(sweep_a_day_later(), 2u);
  EXPECT_FALSE(store_->stat(only));
  EXPECT_FALSE(store_->stat(scan));
  EXPECT_TRUE(store_->stat(shared));
  expect_store_sound();

  // Restore brings the instance and its files back; they are named again and stay.
  RestoreReport back = restore_archive(*engine_, rep.archives[0]);
  ASSERT_TRUE(back.error.empty()) << back.error;
  EXPECT_EQ(back.restored, 1u);
  EXPECT_EQ(engine_->get(id)->to_json(*TimeZone::utc()), view);
  for (const auto& a : {only, shared, scan}) {
    EXPECT_EQ(store_->check(a), AttachmentStore::Check::ok) << a;
    EXPECT_EQ(attachment_named(*engine_, a), std::optional<bool>(true)) << a;
  }
  EXPECT_EQ(sweep_a_day_later(), 0u);
  EXPECT_TRUE(store_->stat(only));
  expect_store_sound();
}

TEST_F(RetentionFilesTest, AnAlteredOrMissingCopyIsNamedByVerifyAndRefusedByRestore) {
  std::string a = upload(1), b = upload(2);
  std::string id = closed_case({a, b});
  RetentionReport rep = archive_finished();
  ASSERT_EQ(rep.removed, 1u);
  fs::permissions(copy_of(a), fs::perms::owner_write, fs::perm_options::add);
  std::ofstream(copy_of(a), std::ios::binary | std::ios::trunc) << "not the photo";
  fs::remove(copy_of(b));
  ArchiveCheck check = verify_archive(rep.archives[0]);
  EXPECT_FALSE(check.ok());
  std::string all;
  for (const auto& p : check.problems) all += p + "\n";
  EXPECT_NE(all.find(a + " under " + archives() + "/files no longer hashes"), std::string::npos)
      << all;
  EXPECT_NE(all.find(b + " is missing from " + archives() + "/files"), std::string::npos) << all;
  EXPECT_NE(all.find("instance " + id), std::string::npos) << all;
  RestoreReport back = restore_archive(*engine_, rep.archives[0]);
  EXPECT_FALSE(back.error.empty());
  EXPECT_EQ(back.restored, 0u);
  EXPECT_FALSE(engine_->get(id));
}

TEST_F(RetentionFilesTest, AnInstanceWhoseFileIsGoneIsHeldNotArchived) {
  std::string a = upload(1), b = upload(2);
  std::string kept = closed_case({a});
  std::string archived = closed_case({b});
  fs::remove(store_->path_of(a));
  RetentionReport rep = archive_finished();
  ASSERT_TRUE(rep.error.empty()) << rep.error;
  EXPECT_EQ(rep.removed, 1u);
  EXPECT_EQ(rep.held, 1u);
  EXPECT_TRUE(engine_->get(kept));
  EXPECT_FALSE(engine_->get(archived));
  EXPECT_EQ(attachment_named(*engine_, a), std::optional<bool>(true));
}

// An archive stopped after its files were released and before its instances went (the
// crash between): the sweep keeps the still-named files, the next run finishes the
// archive and releases them again, and the sweep after it removes them.
TEST_F(RetentionFilesTest, ReleasedButNotRemovedKeepsTheFilesUntilTheArchiveIsFinished) {
  std::string a = upload(1);
  std::string id = closed_case({a});
  RetentionReport rep = archive_finished();
  ASSERT_EQ(rep.removed, 1u);
  // Undo the removal: restore, and forget that the archive was recorded.
  ASSERT_TRUE(restore_archive(*engine_, rep.archives[0]).error.empty());
  reopen_after_raw_edit([&](storage::Txn& txn) {
    ASSERT_EQ(
        txn.del(storage::Db::meta, "archive/" + fs::path(rep.archives[0]).filename().string()), 0);
  });
  attach();
  ASSERT_TRUE(store_->release(a, clock_->now(), nullptr));
  EXPECT_EQ(sweep_a_day_later(), 0u);  // still named: the marker goes, the file stays
  EXPECT_TRUE(store_->stat(a));
  RetentionReport again = archive_finished();
  ASSERT_TRUE(again.error.empty()) << again.error;
  EXPECT_EQ(again.recovered, 1u);
  EXPECT_FALSE(engine_->get(id));
  EXPECT_EQ(sweep_a_day_later(), 1u);
  EXPECT_FALSE(store_->stat(a));
}

// A format 5 store (no reference index): the upgrade indexes every address its records
// and histories hold, so the sweep keeps those files and retention moves them.
TEST_F(RetentionFilesTest, AFormat5StoreGetsItsIndexFromTheHistories) {
  std::string a = upload(1), scan = upload(2), open_file = upload(3);
  std::string closed = closed_case({a}, scan);
  auto open_case = start("t.filed");
  ASSERT_TRUE(open_case.ok());
  ASSERT_TRUE(send(open_case.instance->id, "add", {{"photos", {open_file}}}).ok());
  reopen_after_raw_edit([](storage::Txn& txn) {
    std::vector<std::string> keys;
    auto cur = txn.cursor(storage::Db::attref);
    for (bool on = cur->first(); on; on = cur->next()) keys.emplace_back(cur->key());
    ASSERT_EQ(keys.size(), 6u);  // two keys for each of the three references
    cur.reset();
    for (const auto& k : keys) ASSERT_EQ(txn.del(storage::Db::attref, k), 0);
    ASSERT_EQ(txn.put(storage::Db::meta, "format", storage::be32(5)), 0);
  });
  attach();
  EXPECT_EQ(stored_format(), runtime::kStorageFormat);
  attach();
  for (const auto& f : {a, scan, open_file})
    EXPECT_EQ(attachment_named(*engine_, f), std::optional<bool>(true)) << f;
  expect_store_sound();
  RetentionReport rep = archive_finished();
  ASSERT_EQ(rep.removed, 1u) << rep.error;
  EXPECT_TRUE(fs::exists(copy_of(a)));
  EXPECT_TRUE(fs::exists(copy_of(scan)));
  EXPECT_FALSE(engine_->get(closed));
}
