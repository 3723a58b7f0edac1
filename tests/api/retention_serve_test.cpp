// `bihuan serve` runs retention by itself (ServerConfig::retention) on the engine clock:
// here a virtual clock the test moves; the server's background turn is waited for.
#include <thread>

#include "bihuan/retention.hpp"
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
  ServerConfig c = config();
  RetentionOptions ro;
  ro.default_retention = parse_duration("P1D");
  ro.interval_ms = 3600 * 1000;
  ro.archive_dir = dir_ + "/archives";
  c.retention = ro;
  serve(c);
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
  // Half a day later (and past the first interval): still kept.
  engine_->advance_to(clock_->now() + std::chrono::hours(12));
  std::this_thread::sleep_for(std::chrono::milliseconds(200));  // a few turns of the task
  EXPECT_TRUE(engine_->get(done.instance->id));
  // Two days later: gone, archived; the running one stays.
  engine_->advance_to(clock_->now() + std::chrono::hours(48));
  EXPECT_TRUE(eventually([&] { return !engine_->get(done.instance->id); }));
  EXPECT_TRUE(engine_->get(open.instance->id));
  std::size_t archives = 0;
  for (const auto& f : std::filesystem::directory_iterator(dir_ + "/archives")) {
    ++archives;
    EXPECT_TRUE(verify_archive(f.path().string()).ok()) << f.path();
  }
  EXPECT_EQ(archives, 1u);
  bool logged = false;
  {
    std::lock_guard lock(log_mu_);
    for (const auto& line : log_) logged = logged || line.find("retention run") != std::string::npos;
  }
  EXPECT_TRUE(logged);
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
}

}  // namespace bihuan::test
