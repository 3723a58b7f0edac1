// `bihuan archive` and `bihuan export` as a user runs them, and the crash test: a real
// `bihuan archive run` killed (SIGKILL) after the files are copied, right before and
// right after an archive's rename, and after the files are released, several times, then
// run to the end: every finished instance is in exactly one archive, none lost, none
// twice, and every file it names is copied whole beside the archives.
#include <zstd.h>

#include <map>
#include <random>

#include "attachments/attachment_samples.hpp"
#include "bihuan/attachment_check.hpp"
#include "bihuan/attachments.hpp"
#include "bihuan/engine.hpp"
#include "cli_run.hpp"

using namespace bihuan;
using bihuan::testing::read_file;
using bihuan::testing::run_bihuan;

namespace {

// The start data may name a scanned file.
const char* kCase = R"({"id": "t.case", "version": 1, "initial": "OPEN", "retention": "P1D",
  "dataSchema": {"type": "object", "properties": {
    "scan": {"type": "string", "format": "bihuan-attachment"}}},
  "states": {"OPEN": {"on": {"close": {"target": "DONE"}}}, "DONE": {"type": "final", "outcome": "done"}}})";

class CliArchiveTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("bihuan-cli-archive-" + std::to_string(std::random_device{}()));
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override {
    unsetenv("BIHUAN_ARCHIVE_CRASH");
    std::filesystem::remove_all(dir_);
  }
  // `finished` closed instances and one running, in dir_/data (the engine in-process).
  // With `files`, instance i names a scan of its own (i odd) or one they share (i even),
  // its address in scans_[i].
  std::vector<std::string> seed(int finished, bool files = false) {
    EngineOptions o;
    o.data_dir = (dir_ / "data").string();
    Problems p;
    auto engine = Engine::open(o, p);
    EXPECT_TRUE(engine);
    auto store = std::make_shared<AttachmentStore>(o.data_dir, AttachmentOptions{});
    set_attachment_check(*engine,
                         [store](const std::string& a) { return store->claim(a, TimePoint{}); });
    EXPECT_TRUE(engine->deploy(json::parse(kCase), "case.json").ok);
    std::vector<std::string> ids;
    for (int i = 0; i <= finished; ++i) {
      StartRequest s;
      s.definition = "t.case";
      if (files) {
        auto put = store->put(samples::png(i % 2 ? 100 + i : 1), "u1", TimePoint{});
        scans_.push_back(put.info.address);
        s.data = {{"scan", put.info.address}};
      }
      auto r = engine->start(s);
      EXPECT_TRUE(r.ok()) << r.message;
      ids.push_back(r.instance->id);
      if (i == finished) break;  // the last one keeps running
      EventRequest e;
      e.instance_id = ids.back();
      e.event = "close";
      EXPECT_TRUE(engine->send(e).ok());
    }
    engine->close();
    return ids;
  }
  std::map<std::string, int> archived_ids() {
    std::map<std::string, int> times;
    for (const auto& f : std::filesystem::directory_iterator(dir_ / "data" / "archives")) {
      std::string name = f.path().filename().string();
      EXPECT_FALSE(name.ends_with(".tmp")) << name;
      if (!name.ends_with(".jsonl.zst")) continue;
      std::string packed = read_file(f.path());
      std::string text(ZSTD_getFrameContentSize(packed.data(), packed.size()), '\0');
      text.resize(ZSTD_decompress(text.data(), text.size(), packed.data(), packed.size()));
      for (std::size_t at = text.find("{\"attachments\""); at != std::string::npos;
           at = text.find("{\"attachments\"", at + 1)) {
        auto line = json::parse(text.substr(at, text.find('\n', at) - at));
        if (line.contains("instance")) ++times[line["instance"].get<std::string>()];
      }
      auto check = run_bihuan(dir_, {"archive", "verify", f.path().string()});
      EXPECT_EQ(check.rc, 0) << check.out << check.err;
    }
    return times;
  }
  std::filesystem::path dir_;
  std::vector<std::string> scans_;
};

}  // namespace

TEST_F(CliArchiveTest, KilledAtTheRenameAgainAndAgainEveryInstanceEndsInExactlyOneArchive) {
  auto ids = seed(7, true);
  // Killed right after the rename (an archive the store does not know), right before it
  // (a temporary file), after the files were copied or released, with batches of 2.
  for (const char* where : {"after-rename", "before-rename", "after-copies", "after-release",
                            "after-rename", "after-release"}) {
    setenv("BIHUAN_ARCHIVE_CRASH", where, 1);
    auto r = run_bihuan(dir_, {"archive", "run", "--retention", "PT0S", "--batch", "2"});
    EXPECT_EQ(r.rc, 128 + 9) << where << "\n" << r.out << r.err;
  }
  unsetenv("BIHUAN_ARCHIVE_CRASH");
  auto r = run_bihuan(
      dir_, {"archive", "run", "--retention", "PT0S", "--batch", "2", "--format", "json"});
  ASSERT_EQ(r.rc, 0) << r.out << r.err;
  EXPECT_GE(r.doc()["recovered"].get<int>(), 1);
  auto times = archived_ids();
  for (std::size_t i = 0; i + 1 < ids.size(); ++i) EXPECT_EQ(times[ids[i]], 1) << ids[i];
  EXPECT_EQ(times.count(ids.back()), 0u);  // still running
  EXPECT_EQ(times.size(), ids.size() - 1);
  // The store: the finished ones gone, the running one there, all intact.
  auto verify = run_bihuan(dir_, {"verify"});
  EXPECT_EQ(verify.rc, 0) << verify.out << verify.err;
  EXPECT_NE(run_bihuan(dir_, {"show", ids[0]}).rc, 0);
  EXPECT_EQ(run_bihuan(dir_, {"show", ids.back()}).rc, 0);
  // Every file a finished instance named is copied whole beside the archives; no half
  // copy is left; the files stay in the store until the server's sweep finds them unnamed.
  const std::string archives = (dir_ / "data" / "archives").string();
  for (std::size_t i = 0; i + 1 < ids.size(); ++i)
    EXPECT_EQ(AttachmentStore::check_copy(archives + "/files", scans_[i]),
              AttachmentStore::Check::ok)
        << scans_[i];
  EXPECT_FALSE(std::filesystem::exists(archives + "/files/tmp") &&
               !std::filesystem::is_empty(archives + "/files/tmp"));
  for (const auto& a : scans_)
    EXPECT_EQ(AttachmentStore::check_file((dir_ / "data").string(), a), AttachmentStore::Check::ok);
}

TEST_F(CliArchiveTest, ExportResumesAndRestoreBringsInstancesBack) {
  auto ids = seed(2);
  auto all = run_bihuan(dir_, {"export"});
  ASSERT_EQ(all.rc, 0) << all.err;
  std::vector<json> lines;
  std::istringstream in(all.out);
  for (std::string l; std::getline(in, l);) lines.push_back(json::parse(l));
  ASSERT_EQ(lines.size(), 5u);  // 3 starts, 2 closes
  EXPECT_NE(all.err.find("resume with --since " + lines.back()["cursor"].get<std::string>()),
            std::string::npos)
      << all.err;
  auto rest = run_bihuan(dir_, {"export", "--since", lines[2]["cursor"].get<std::string>()});
  ASSERT_EQ(rest.rc, 0) << rest.err;
  EXPECT_EQ(std::count(rest.out.begin(), rest.out.end(), '\n'), 2);
  EXPECT_NE(run_bihuan(dir_, {"export", "--since", "nope"}).rc, 0);

  auto run = run_bihuan(dir_, {"archive", "run", "--retention", "PT0S", "--format", "json"});
  ASSERT_EQ(run.rc, 0) << run.out << run.err;
  std::string file = run.doc()["archives"][0];
  auto shown = run_bihuan(dir_, {"show", ids[0]});
  EXPECT_NE(shown.rc, 0);
  auto restored = run_bihuan(dir_, {"archive", "restore", file});
  ASSERT_EQ(restored.rc, 0) << restored.out << restored.err;
  EXPECT_NE(restored.out.find("2 restored"), std::string::npos) << restored.out;
  EXPECT_EQ(run_bihuan(dir_, {"show", ids[0]}).rc, 0);
  auto verify = run_bihuan(dir_, {"verify"});
  EXPECT_EQ(verify.rc, 0) << verify.out << verify.err;
  // verify without a data directory, and a broken file named.
  std::ofstream(dir_ / "junk.jsonl.zst") << "not zstd";
  auto junk = run_bihuan(dir_, {"archive", "verify", (dir_ / "junk.jsonl.zst").string()});
  EXPECT_EQ(junk.rc, 1);
  EXPECT_NE(junk.out.find("not a complete zstd stream"), std::string::npos) << junk.out;
}
