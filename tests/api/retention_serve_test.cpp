// `bihuan serve` runs retention by itself (server.retention; RetentionTask) on the engine
// clock: here a virtual clock the test moves; the task's turn is waited for.
#include <thread>

#include "bihuan/retention.hpp"
#include "bihuan/server_retention.hpp"
#include "server_fixture.hpp"

namespace bihuan::test {
namespace {

class ServeRetentionTest : public ServerTest {
 protected:
  void SetUp() override {
    ServerTest::SetUp();
    engine_->close();
    engine_.reset();
    clock_ = std::make_shared<VirtualClock>(*parse_time("2024-04-03T09:00:00Z"));
    EngineOptions eo;
    eo.data_dir = dir_ + "/data";
    eo.store = store_;
    eo.clock = clock_;
    Problems problems;
    engine_ = Engine::open(eo, problems);
    ASSERT_TRUE(engine_);
  }
  // Waits (at most 10 s of real time) until `done` holds: the server looks at the clock
  // every 20 ms when it is virtual.
  template <class Done>
  bool eventually(Done done) {
    for (int i = 0; i < 1000; ++i) {
      if (done()) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return done();
  }
  std::shared_ptr<VirtualClock> clock_;
};

}  // namespace

TEST_F(ServeRetentionTest, FinishedInstancesGoOnceTheirRetentionRanOutOnTheEngineClock) {
  Problems p;
  auto ro = retention_from_json(
      json::parse(
          R"({"retention": {"default": "P1D", "intervalMinutes": 60, "archiveDir": "arch"}})"),
      dir_, "/server", p);
  ASSERT_TRUE(ro) << (p.items().empty() ? "" : p.items()[0].to_string());
  EXPECT_EQ(ro->archive_dir, dir_ + "/arch");
  EXPECT_EQ(ro->interval_ms, 3600 * 1000);
  StartRequest s;
  s.definition = "t.counter";
  s.data = {{"n", 0}};
  auto done = engine_->start(s);
  auto open = engine_->start(s);
  ASSERT_TRUE(done.ok() && open.ok());
  EventRequest close;
  close.instance_id = done.instance->id;
  close.event = "close";
  close.actor = Actor{"m", {"manager"}};
  ASSERT_TRUE(engine_->send(close).ok());
  std::mutex mu;
  std::vector<json> runs;
  RetentionTask task(*engine_, *ro, [&](const char*, const std::string& msg, json fields) {
    std::lock_guard lock(mu);
    fields["msg"] = msg;
    runs.push_back(fields);
  });
  // Half a day later (and past the first interval): still kept.
  engine_->advance_to(clock_->now() + std::chrono::hours(12));
  EXPECT_TRUE(engine_->get(done.instance->id));
  // Two days later: gone, archived; the running one stays.
  engine_->advance_to(clock_->now() + std::chrono::hours(48));
  EXPECT_TRUE(eventually([&] { return !engine_->get(done.instance->id); }));
  EXPECT_TRUE(engine_->get(open.instance->id));
  task.stop();
  std::size_t archives = 0;
  for (const auto& f : std::filesystem::directory_iterator(dir_ + "/arch")) {
    ++archives;
    EXPECT_TRUE(verify_archive(f.path().string()).ok()) << f.path();
  }
  EXPECT_EQ(archives, 1u);
  std::lock_guard lock(mu);
  ASSERT_EQ(runs.size(), 1u);
  EXPECT_EQ(runs[0]["msg"], "retention run");
  EXPECT_EQ(runs[0]["removed"], 1);
}

TEST_F(ServeRetentionTest, ABadRetentionSectionIsRefusedWithItsPointer) {
  Problems p;
  auto cfg = ServerConfig::from_json(
      json::parse(R"({"retention": {"default": "five years", "intervalMinutes": 0, "x": 1}})"),
      dir_, "/server", p);
  std::string all;
  for (const auto& i : p.items()) all += i.to_string() + "\n";
  EXPECT_NE(all.find("/server/retention/default"), std::string::npos) << all;
  EXPECT_NE(all.find("/server/retention/intervalMinutes"), std::string::npos) << all;
  EXPECT_NE(all.find("/server/retention/x"), std::string::npos) << all;
  EXPECT_FALSE(
      retention_from_json(json::parse(R"({"retention": {"batch": 0}})"), dir_, "/server", p));
  // A good section is accepted by the server's reader.
  Problems fine;
  EXPECT_TRUE(ServerConfig::from_json(json::parse(R"({"retention": {"default": "P5Y"}})"), dir_,
                                      "/server", fine));
  EXPECT_EQ(fine.error_count(), 0u);
}

}  // namespace bihuan::test
