// Deploys decided in the write transaction (issue 19): two deploys of one version with
// different content, racing in one process or coming from two processes, never overwrite
// one another; a version the CLI deploys beside an open engine is usable by that engine
// without a restart.
#include <gtest/gtest.h>

#include <atomic>
#include <thread>

#include "cli/cli_run.hpp"
#include "engine_fixture.hpp"

namespace bihuan::testing {
namespace {

// A one-state definition `id` v1 whose initial state is `state` (so two texts differ).
std::string doc(const std::string& id, const std::string& state, int version = 1) {
  return json({{"id", id},
               {"version", version},
               {"initial", state},
               {"states", {{state, {{"type", "final"}, {"outcome", "done"}}}}}})
      .dump();
}

class DeployTest : public EngineTest {
 protected:
  void write_file(const std::string& name, const std::string& text) {
    std::ofstream(std::filesystem::path(dir_) / name) << text;
  }
  // `bihuan deploy FILE` on this test's data directory, beside the open engine.
  CliRun cli_deploy(const std::string& name) {
    return run_bihuan(dir_, {"deploy", "--data-dir", dir_, "--calendars",
                             BIHUAN_SOURCE_DIR "/workflows/calendars", "--format", "json", name});
  }
};

TEST_F(DeployTest, TwoThreadsDeployingOneVersionWithDifferentContentOneWins) {
  for (int round = 0; round < 20; ++round) {
    const std::string id = "t.race" + std::to_string(round);
    const std::string a = doc(id, "A"), b = doc(id, "B");
    DeployResult ra, rb;
    std::atomic<int> ready{0};
    auto run = [&](const std::string& text, DeployResult& out) {
      ready.fetch_add(1);
      while (ready.load() < 2) {
      }
      out = engine_->deploy(json::parse(text), "race");
    };
    std::thread ta(run, std::cref(a), std::ref(ra)), tb(run, std::cref(b), std::ref(rb));
    ta.join();
    tb.join();
    ASSERT_NE(ra.ok, rb.ok) << "round " << round << ": exactly one deploy must win";
    const DeployResult& loser = ra.ok ? rb : ra;
    ASSERT_EQ(loser.problems.error_count(), 1u);
    for (const auto& p : loser.problems.items()) {
      if (p.severity != Severity::error) continue;
      EXPECT_EQ(p.code, "version-exists");
      EXPECT_NE(p.message.find("already deployed with different content"), std::string::npos)
          << p.message;
    }
    const std::string winner_state = ra.ok ? "A" : "B";
    EXPECT_EQ(engine_->definition(id, 1)->source["initial"], winner_state);
  }
  // What is stored is what the winners deployed: a fresh open reads the same.
  std::map<std::string, json> before;
  for (const auto& d : engine_->definitions()) before[d->id] = d->source;
  reopen();
  for (const auto& d : engine_->definitions()) EXPECT_EQ(d->source, before[d->id]) << d->id;
  EXPECT_EQ(engine_->definitions().size(), 20u);
}

TEST_F(DeployTest, TheCliAndTheEngineNeverOverwriteOneAnother) {
  deploy(doc("t.shared", "ENGINE"));
  // The CLI, another process, deploys other content as the same version: refused.
  write_file("cli.json", doc("t.shared", "CLI"));
  auto r = cli_deploy("cli.json");
  EXPECT_EQ(r.rc, 1) << r.out << r.err;
  EXPECT_NE(r.out.find("version-exists"), std::string::npos) << r.out;
  // The CLI deploys a version the engine has not seen; the engine then tries other
  // content for that version: refused too, and the CLI's text stays.
  write_file("v2.json", doc("t.shared", "CLI", 2));
  r = cli_deploy("v2.json");
  ASSERT_EQ(r.rc, 0) << r.out << r.err;
  auto mine = engine_->deploy(json::parse(doc("t.shared", "ENGINE", 2)), "engine");
  EXPECT_FALSE(mine.ok);
  ASSERT_EQ(mine.problems.error_count(), 1u);
  for (const auto& p : mine.problems.items()) {
    if (p.severity == Severity::error) {
      EXPECT_EQ(p.code, "version-exists");
    }
  }
  ASSERT_TRUE(engine_->definition("t.shared", 2));
  EXPECT_EQ(engine_->definition("t.shared", 2)->source["initial"], "CLI");
  reopen();
  EXPECT_EQ(engine_->definition("t.shared", 1)->source["initial"], "ENGINE");
  EXPECT_EQ(engine_->definition("t.shared", 2)->source["initial"], "CLI");
}

TEST_F(DeployTest, ADefinitionTheCliDeploysIsStartedByTheOpenEngineWithoutARestart) {
  deploy(doc("t.before", "DONE"));
  ASSERT_TRUE(start("t.before").ok());
  write_file("new.json", doc("t.fromcli", "DONE"));
  auto r = cli_deploy("new.json");
  ASSERT_EQ(r.rc, 0) << r.out << r.err;
  // A step names it: found.
  auto s = start("t.fromcli");
  ASSERT_TRUE(s.ok()) << s.message;
  EXPECT_EQ(s.instance->definition, "t.fromcli");
  // A new version of a known definition: the latest is the CLI's.
  write_file("v2.json", doc("t.before", "LATER", 2));
  ASSERT_EQ(cli_deploy("v2.json").rc, 0);
  auto latest = start("t.before");
  ASSERT_TRUE(latest.ok()) << latest.message;
  EXPECT_EQ(latest.instance->definition_version, 2);
  EXPECT_EQ(latest.instance->state, "LATER");
  // Reads see them too.
  write_file("v3.json", doc("t.before", "THIRD", 3));
  ASSERT_EQ(cli_deploy("v3.json").rc, 0);
  ASSERT_TRUE(engine_->definition("t.before", std::nullopt));
  EXPECT_EQ(engine_->definition("t.before", std::nullopt)->version, 3);
  EXPECT_EQ(engine_->definitions().size(), 4u);
}

TEST_F(DeployTest, AnEngineWithoutSyncSeesTheCliDeployToo) {
  EngineOptions o = base_options();
  o.durable = false;  // every batch runs direct, in the write transaction
  reopen_with(o);
  write_file("new.json", doc("t.nosync", "DONE"));
  ASSERT_EQ(cli_deploy("new.json").rc, 0);
  auto s = start("t.nosync");
  ASSERT_TRUE(s.ok()) << s.message;
}

}  // namespace
}  // namespace bihuan::testing
