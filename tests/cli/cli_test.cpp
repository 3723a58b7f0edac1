// The real `bihuan` binary, run as a user would: in a temp directory (so ./data is the
// default data directory), output captured in files, exit codes and JSON checked.
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>
#include <set>

#include "bihuan/json.hpp"
#include "cli_run.hpp"
#include "storage/lmdb_env.hpp"

namespace {

namespace fs = std::filesystem;
using bihuan::json;
using bihuan::testing::CliRun;
using bihuan::testing::read_file;
using bihuan::testing::run_bihuan;

const std::string kSource = BIHUAN_SOURCE_DIR;
const std::string kLeave = kSource + "/workflows/examples/leave-request.json";

class CliTest : public ::testing::Test {
 protected:
  void SetUp() override {
    static std::mt19937_64 rng(std::random_device{}());
    dir_ = fs::temp_directory_path() / ("bihuan-cli-" + std::to_string(rng()));
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  // Runs `bihuan args...` with the temp dir as the working directory.
  CliRun bihuan(const std::vector<std::string>& args) { return run_bihuan(dir_, args); }

  // Deploys the leave request and starts one instance; returns its id.
  std::string start_leave(const std::string& key, int days) {
    EXPECT_EQ(bihuan({"deploy", kLeave}).rc, 0);
    auto r = bihuan({"start", "demo.leave-request", "--key", key, "--format", "json", "--data",
                     R"({"employee": "李雷", "days": )" + std::to_string(days) + "}"});
    EXPECT_EQ(r.rc, 0) << r.err;
    return r.doc().value("id", "");
  }

  // Writes one key straight into ./data's LMDB store (no bihuan process has it open).
  void put_raw(bihuan::storage::Db db, const std::string& key, const std::string& value) {
    std::string error;
    auto env = bihuan::storage::Env::open((dir_ / "data").string(), 64u << 20, false, &error);
    ASSERT_TRUE(env) << error;
    int rc = 0;
    auto txn = env->begin(true, &rc);
    ASSERT_TRUE(txn);
    ASSERT_EQ(txn->put(db, key, value), 0);
    ASSERT_EQ(txn->commit(), 0);
  }

  fs::path dir_;
};

TEST_F(CliTest, ValidateReportsCodesAsJson) {
  auto ok = bihuan(
      {"validate", "--format", "json", kSource + "/tests/definition/fixtures/valid/minimal.json"});
  EXPECT_EQ(ok.rc, 0) << ok.out << ok.err;
  EXPECT_EQ(ok.doc()["errors"], 0);
  auto bad = bihuan({"validate", "--format", "json",
                     kSource + "/tests/definition/fixtures/invalid/bad-duration.json"});
  EXPECT_EQ(bad.rc, 1);
  json report = bad.doc();
  ASSERT_EQ(report["files"].size(), 1u);
  EXPECT_EQ(report["files"][0]["ok"], false);
  bool found = false;
  for (const auto& p : report["files"][0]["problems"]) found |= p["code"] == "bad-duration";
  EXPECT_TRUE(found) << bad.out;
}

TEST_F(CliTest, GraphAndEval) {
  auto g = bihuan({"graph", "--format", "mermaid", kLeave});
  EXPECT_EQ(g.rc, 0) << g.err;
  EXPECT_NE(g.out.find("stateDiagram-v2"), std::string::npos);
  auto e = bihuan({"eval", R"({"+":[1,2]})"});
  EXPECT_EQ(e.rc, 0) << e.err;
  EXPECT_EQ(e.out, "3\n");
}

TEST_F(CliTest, DeployStartSendAndRead) {
  auto d = bihuan({"deploy", "--format", "json", kLeave});
  ASSERT_EQ(d.rc, 0) << d.err;
  EXPECT_EQ(d.doc()["files"][0]["result"], "deployed");
  EXPECT_EQ(bihuan({"deploy", "--format", "json", kLeave}).doc()["files"][0]["result"],
            "unchanged");

  auto s = bihuan({"start", "demo.leave-request", "--key", "LR-1", "--format", "json", "--data",
                   R"({"employee": "李雷", "days": 2})"});
  ASSERT_EQ(s.rc, 0) << s.err;
  json inst = s.doc();
  std::string id = inst["id"];
  EXPECT_EQ(id.size(), 16u);
  EXPECT_EQ(inst["state"], "SUBMITTED");
  EXPECT_EQ(inst["version"], 1);
  EXPECT_TRUE(inst["deadline"].is_string());
  EXPECT_NE(inst["createdAt"].get<std::string>().find("+08:00"),
            std::string::npos);  // definition's zone

  auto inbox = bihuan({"inbox", "--actor", "m1", "--role", "MANAGER", "--format", "json"});
  ASSERT_EQ(inbox.rc, 0) << inbox.err;
  json items = inbox.doc()["items"];
  ASSERT_EQ(items.size(), 1u);
  EXPECT_EQ(items[0]["instance"]["id"], id);
  EXPECT_EQ(items[0]["events"], json({"approve", "reject"}));
  EXPECT_TRUE(items[0]["deadline"].is_string());

  auto refused = bihuan({"send", id, "approve", "--actor", "e1", "--role", "EMPLOYEE"});
  EXPECT_EQ(refused.rc, 1);
  EXPECT_NE(refused.err.find("role-not-allowed"), std::string::npos) << refused.err;
  auto refused_json =
      bihuan({"send", id, "approve", "--actor", "e1", "--role", "EMPLOYEE", "--format", "json"});
  EXPECT_EQ(refused_json.rc, 1);
  EXPECT_EQ(refused_json.doc()["error"], "role-not-allowed");

  auto sent = bihuan({"send", "--key", "LR-1", "approve", "--actor", "m1", "--role", "MANAGER",
                      "--format", "json"});
  ASSERT_EQ(sent.rc, 0) << sent.err;
  EXPECT_EQ(sent.doc()["state"], "APPROVED");
  EXPECT_EQ(sent.doc()["status"], "completed");

  auto show = bihuan({"show", id, "--format", "json"});
  ASSERT_EQ(show.rc, 0) << show.err;
  EXPECT_EQ(show.doc()["outcome"], "approved");
  EXPECT_EQ(show.doc()["data"]["employee"], "李雷");
  auto show_text = bihuan({"show", "--key", "LR-1"});
  EXPECT_EQ(show_text.rc, 0);
  EXPECT_NE(show_text.out.find("APPROVED"), std::string::npos);

  auto hist = bihuan({"history", id, "--format", "json"});
  ASSERT_EQ(hist.rc, 0) << hist.err;
  json entries = hist.doc()["entries"];
  ASSERT_EQ(entries.size(), 2u);
  EXPECT_EQ(entries[0]["kind"], "start");
  EXPECT_EQ(entries[1]["event"], "approve");
  EXPECT_EQ(entries[1]["actor"], "m1");
  EXPECT_EQ(entries[1]["prevHash"], entries[0]["hash"]);
  auto hist_text = bihuan({"history", id});
  EXPECT_NE(hist_text.out.find("SUBMITTED → APPROVED"), std::string::npos) << hist_text.out;
  auto newest = bihuan({"history", id, "--limit", "1", "--format", "json"});
  ASSERT_EQ(newest.rc, 0) << newest.err;
  ASSERT_EQ(newest.doc()["entries"].size(), 1u);
  EXPECT_EQ(newest.doc()["entries"][0]["event"], "approve");
  std::string older = newest.doc()["nextCursor"];
  auto before = bihuan({"history", id, "--limit", "1", "--cursor", older, "--format", "json"});
  ASSERT_EQ(before.rc, 0) << before.err;
  EXPECT_EQ(before.doc()["entries"][0]["kind"], "start");
  EXPECT_FALSE(before.doc().contains("nextCursor"));
  auto newest_text = bihuan({"history", id, "--limit", "1"});
  EXPECT_NE(newest_text.out.find("older entries with --cursor " + older), std::string::npos)
      << newest_text.out;
  auto bad_cursor = bihuan({"history", id, "--cursor", "00ff"});
  EXPECT_EQ(bad_cursor.rc, 1);
  EXPECT_NE(bad_cursor.err.find("--cursor: the cursor \"00ff\" does not name an entry"),
            std::string::npos)
      << bad_cursor.err;

  std::string other = start_leave("LR-2", 5);
  auto list = bihuan({"list", "--status", "running", "--format", "json"});
  ASSERT_EQ(list.rc, 0) << list.err;
  ASSERT_EQ(list.doc()["items"].size(), 1u);
  EXPECT_EQ(list.doc()["items"][0]["id"], other);
  auto where = bihuan({"list", "--where", "/days=2", "--format", "json"});
  ASSERT_EQ(where.doc()["items"].size(), 1u);
  EXPECT_EQ(where.doc()["items"][0]["id"], id);
  auto paged = bihuan({"list", "--limit", "1", "--format", "json"});
  std::string cursor = paged.doc()["nextCursor"];
  ASSERT_FALSE(cursor.empty());
  auto page2 = bihuan({"list", "--limit", "1", "--cursor", cursor, "--format", "json"});
  ASSERT_EQ(page2.doc()["items"].size(), 1u);
  EXPECT_NE(page2.doc()["items"][0]["id"], paged.doc()["items"][0]["id"]);

  std::string third = start_leave("LR-3", 4);  // two tasks for the manager now
  auto tasks =
      bihuan({"inbox", "--actor", "m1", "--role", "MANAGER", "--limit", "1", "--format", "json"});
  ASSERT_EQ(tasks.rc, 0) << tasks.err;
  ASSERT_EQ(tasks.doc()["items"].size(), 1u);
  std::string next = tasks.doc()["nextCursor"];
  auto more = bihuan({"inbox", "--actor", "m1", "--role", "MANAGER", "--limit", "1", "--cursor",
                      next, "--format", "json"});
  ASSERT_EQ(more.rc, 0) << more.err;
  ASSERT_EQ(more.doc()["items"].size(), 1u);
  EXPECT_EQ((std::set<std::string>{tasks.doc()["items"][0]["instance"]["id"],
                                   more.doc()["items"][0]["instance"]["id"]}),
            (std::set<std::string>{other, third}));
  EXPECT_FALSE(more.doc().contains("nextCursor"));
  auto tasks_text = bihuan({"inbox", "--actor", "m1", "--role", "MANAGER", "--limit", "1"});
  EXPECT_NE(tasks_text.out.find("1 task for m1; more with --cursor " + next), std::string::npos)
      << tasks_text.out;
  ASSERT_EQ(bihuan({"cancel", third, "--reason", "withdrawn"}).rc, 0);

  auto cancel = bihuan({"cancel", other, "--reason", "withdrawn", "--format", "json"});
  ASSERT_EQ(cancel.rc, 0) << cancel.err;
  EXPECT_EQ(cancel.doc()["status"], "cancelled");

  auto verify = bihuan({"verify", "--format", "json"});
  EXPECT_EQ(verify.rc, 0) << verify.err;
  EXPECT_EQ(verify.doc()["instances"], 3);
  EXPECT_EQ(verify.doc()["ok"], true);

  auto backup = bihuan({"backup", "copy"});
  ASSERT_EQ(backup.rc, 0) << backup.err;
  auto from_copy = bihuan({"show", id, "--data", "copy", "--format", "json"});
  ASSERT_EQ(from_copy.rc, 0) << from_copy.err;
  EXPECT_EQ(from_copy.doc()["state"], "APPROVED");
  EXPECT_EQ(bihuan({"backup", "copy"}).rc, 1);  // not empty any more
}

TEST_F(CliTest, MigrateShowsADryRunThenMovesTheInstance) {
  std::string id = start_leave("LR-9", 2);
  json v2 = json::parse(std::ifstream(kLeave));
  v2["version"] = v2.value("version", 1) + 1;
  std::ofstream(dir_ / "leave-v2.json") << v2.dump();
  ASSERT_EQ(bihuan({"deploy", "leave-v2.json"}).rc, 0);

  auto bad = bihuan({"migrate", id, "--state", "SUBMITTED"});
  EXPECT_EQ(bad.rc, 1);
  EXPECT_NE(bad.err.find("--state SUBMITTED: expected OLD=NEW"), std::string::npos) << bad.err;
  auto typo = bihuan({"migrate", id, "--state", "SUBMITED=SUBMITTED"});
  EXPECT_EQ(typo.rc, 1);
  EXPECT_NE(typo.err.find("invalid-request: states: \"SUBMITED\" is not a state of"),
            std::string::npos)
      << typo.err;

  auto dry = bihuan({"migrate", id, "--dry-run", "--set", "/days=3"});
  ASSERT_EQ(dry.rc, 0) << dry.err;
  EXPECT_NE(
      dry.out.find("dry run, nothing written: demo.leave-request v1 -> v2, SUBMITTED -> SUBMITTED"),
      std::string::npos)
      << dry.out;
  EXPECT_NE(dry.out.find("set /days = 3"), std::string::npos) << dry.out;
  EXPECT_EQ(bihuan({"show", id, "--format", "json"}).doc()["definitionVersion"], 1);

  auto done = bihuan(
      {"migrate", id, "--reason", "new rules", "--expected-version", "1", "--format", "json"});
  ASSERT_EQ(done.rc, 0) << done.err;
  EXPECT_EQ(done.doc()["definitionVersion"], 2);
  EXPECT_EQ(done.doc()["migration"]["dryRun"], false);
  EXPECT_EQ(bihuan({"history", id, "--format", "json"}).doc()["entries"].back()["kind"], "migrate");

  // A plan: every running instance of the definition, each alone.
  for (const char* key : {"LR-10", "LR-11"})
    ASSERT_EQ(bihuan({"start", "demo.leave-request", "--version", "1", "--key", key, "--data",
                      R"({"employee": "韩梅梅", "days": 1})"})
                  .rc,
              0);
  auto plan_dry =
      bihuan({"migrate", "--definition", "demo.leave-request", "--dry-run", "--format", "json"});
  ASSERT_EQ(plan_dry.rc, 0) << plan_dry.err;
  EXPECT_EQ(plan_dry.doc()["examined"], 3);
  EXPECT_EQ(plan_dry.doc()["migrated"], 2);
  EXPECT_EQ(plan_dry.doc()["skipped"], 1) << "LR-9 is on v2 already";
  auto plan_typo =
      bihuan({"migrate", "--definition", "demo.leave-request", "--state", "SUBMITED=SUBMITTED"});
  EXPECT_EQ(plan_typo.rc, 1);
  EXPECT_NE(plan_typo.out.find("0 migrated, 2 refused, 1 skipped"), std::string::npos)
      << plan_typo.out;
  auto plan = bihuan({"migrate", "--definition", "demo.leave-request", "--from-version", "1"});
  ASSERT_EQ(plan.rc, 0) << plan.err;
  EXPECT_NE(
      plan.out.find("3 running instances of demo.leave-request: 2 migrated, 0 refused, 1 skipped"),
      std::string::npos)
      << plan.out;
  EXPECT_EQ(bihuan({"migrate", id, "--definition", "demo.leave-request"}).rc, 2)
      << "an id or a plan, not both";
  EXPECT_EQ(bihuan({"migrate", "--definition", "demo.leave-request", "--expected-version", "1"}).rc,
            2);
  EXPECT_EQ(bihuan({"verify"}).rc, 0);
}

TEST_F(CliTest, ErrorsAreClear) {
  auto none = bihuan({"show", "0123456789abcdef"});
  EXPECT_EQ(none.rc, 1);
  EXPECT_NE(none.err.find("no data directory ./data"), std::string::npos) << none.err;

  start_leave("LR-9", 1);
  auto missing = bihuan({"show", "0123456789abcdef"});
  EXPECT_EQ(missing.rc, 1);
  EXPECT_NE(missing.err.find("bihuan show: no instance 0123456789abcdef in ./data"),
            std::string::npos)
      << missing.err;

  auto bad_data = bihuan({"start", "demo.leave-request", "--data", R"({"days": 2,,})"});
  EXPECT_EQ(bad_data.rc, 1);
  EXPECT_NE(bad_data.err.find("--data:1:"), std::string::npos) << bad_data.err;

  auto invalid = bihuan({"start", "demo.leave-request", "--data", R"({"days": 2})"});
  EXPECT_EQ(invalid.rc, 1);
  EXPECT_NE(invalid.err.find("data-invalid"), std::string::npos) << invalid.err;

  EXPECT_EQ(bihuan({"send", "0123456789abcdef"}).rc, 2);      // usage
  EXPECT_EQ(bihuan({"list", "--state", "SUBMITTED"}).rc, 2);  // --state needs --definition
  EXPECT_EQ(bihuan({"send", "0123456789abcdef", "approve", "--actor", "m1"}).rc, 1);

  auto bad_deploy =
      bihuan({"deploy", kSource + "/tests/definition/fixtures/invalid/bad-duration.json"});
  EXPECT_EQ(bad_deploy.rc, 1);
  EXPECT_NE(bad_deploy.out.find("bad-duration.json:"), std::string::npos) << bad_deploy.out;
  EXPECT_NE(bad_deploy.out.find("(bad-duration)"), std::string::npos) << bad_deploy.out;
}

TEST_F(CliTest, NewerStorageFormatIsRefused) {
  start_leave("LR-1", 1);
  put_raw(bihuan::storage::Db::meta, "format", bihuan::storage::be32(999));
  auto r = bihuan({"list"});
  EXPECT_EQ(r.rc, 1);
  EXPECT_NE(r.err.find("bihuan list: cannot open ./data"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("storage format 999"), std::string::npos) << r.err;
}

// A damaged instance record is named as damaged, by id and by business key, not
// reported as missing; verify lists it.
TEST_F(CliTest, ADamagedRecordIsNamedByShowHistoryAndVerify) {
  std::string id = start_leave("LR-1", 1);
  ASSERT_EQ(id.size(), 16u);
  put_raw(bihuan::storage::Db::inst, bihuan::storage::be64(std::stoull(id, nullptr, 16)),
          std::string("\xc1\x00\x07", 3));
  for (const auto& args : std::vector<std::vector<std::string>>{{"show", id},
                                                                {"show", "--key", "LR-1"},
                                                                {"history", id},
                                                                {"history", "--key", "LR-1"}}) {
    auto r = bihuan(args);
    EXPECT_EQ(r.rc, 1) << args[0] << " " << args[1];
    EXPECT_NE(r.err.find("record-damaged: instance " + id +
                         ": its stored record is damaged (it does not decode)"),
              std::string::npos)
        << r.err;
  }
  auto missing = bihuan({"show", "--key", "LR-2"});
  EXPECT_EQ(missing.rc, 1);
  EXPECT_NE(missing.err.find("no instance with business key LR-2"), std::string::npos)
      << missing.err;
  auto verify = bihuan({"verify"});
  EXPECT_NE(verify.rc, 0);
  EXPECT_NE((verify.out + verify.err).find("instance " + id + ": record does not decode"),
            std::string::npos)
      << verify.out << verify.err;
}

}  // namespace
