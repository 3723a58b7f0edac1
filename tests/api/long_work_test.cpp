// Long administrative work never holds the server's io threads: while a verify of a big
// store runs (on the worker pool), ordinary requests keep being answered. Measured by
// order, not by wall-clock limits: many GETs complete before the verify's answer arrives.
#include <atomic>
#include <cstdio>
#include <future>
#include <thread>

#include "server_fixture.hpp"

#if defined(__SANITIZE_THREAD__)  // GCC
#define BIHUAN_UNDER_TSAN 1
#elif defined(__has_feature)  // Clang
#if __has_feature(thread_sanitizer)
#define BIHUAN_UNDER_TSAN 1
#endif
#endif
#ifndef BIHUAN_UNDER_TSAN
#define BIHUAN_UNDER_TSAN 0
#endif

namespace bihuan::test {
namespace {

class LongWorkTest : public ServerTest {
 protected:
  // Reopens the fixture's store without fsync (EngineOptions::durable = false) and fills
  // it with `instances` counters of `bumps` events each, in group commits.
  void fill(std::size_t instances, std::size_t bumps) {
    engine_->close();
    engine_.reset();
    Problems problems;
    EngineOptions eo;
    eo.data_dir = dir_ + "/data";
    eo.store = store_;
    eo.durable = false;
    engine_ = Engine::open(eo, problems);
    ASSERT_TRUE(engine_) << (problems.items().empty() ? "" : problems.items()[0].to_string());
    std::string padding(512, 'x');  // each entry's data: about half a kilobyte to hash
    std::vector<std::string> ids(instances);
    run_all(instances, [&](std::size_t i, std::function<void(StepResult)> done) {
      StartRequest r;
      r.definition = "t.counter";
      r.data = {{"n", 0}, {"note", padding}};
      engine_->start_async(std::move(r), [&ids, i, done = std::move(done)](StepResult res) {
        if (res.ok() && res.instance) ids[i] = res.instance->id;
        done(std::move(res));
      });
    });
    for (std::size_t b = 0; b < bumps; ++b)
      run_all(instances, [&](std::size_t i, std::function<void(StepResult)> done) {
        EventRequest e;
        e.instance_id = ids[i];
        e.event = "bump";
        e.actor = Actor{"clerk-1", {"clerk"}};
        engine_->send_async(std::move(e), std::move(done));
      });
    first_id_ = ids.front();
  }

  // Submits `n` requests in one CommitGroup and waits until every one has answered ok.
  void run_all(std::size_t n,
               const std::function<void(std::size_t, std::function<void(StepResult)>)>& submit) {
    std::atomic<std::size_t> left{n}, failed{0};
    std::promise<void> all;
    {
      CommitGroup group(*engine_);
      for (std::size_t i = 0; i < n; ++i)
        submit(i, [&](StepResult r) {
          if (!r.ok()) failed.fetch_add(1);
          if (left.fetch_sub(1) == 1) all.set_value();
        });
    }
    all.get_future().wait();
    ASSERT_EQ(failed.load(), 0u);
  }

  std::string first_id_;
};

// One io thread, so a verify run on it would answer nothing else until it ends (today's
// code before the worker pool: 0 GETs complete first). On the pool, the GETs go on.
TEST_F(LongWorkTest, GetsAreAnsweredWhileALongVerifyRuns) {
#if BIHUAN_UNDER_TSAN
  constexpr std::size_t kInstances = 4000, kBumps = 4;  // ThreadSanitizer slows all alike
#else
  constexpr std::size_t kInstances = 20000, kBumps = 4;  // verify: seconds
#endif
  ASSERT_NO_FATAL_FAILURE(fill(kInstances, kBumps));
  auto c = config();
  c.threads = 1;
  c.request_timeout = std::chrono::minutes(5);  // verify under ThreadSanitizer is slow
  serve(c);
  HttpClient getter(port_, "clerk-token");
  ASSERT_EQ(getter.get("/v1/instances/" + first_id_).status, 200);  // connected

  // The verify request is in the server's socket buffer before the first GET is sent.
  boost::asio::io_context ioc;
  tcp::socket admin(ioc);
  admin.connect(tcp::endpoint(boost::asio::ip::address_v4::loopback(), port_));
  http::request<http::string_body> req{http::verb::get, "/v1/verify", 11};
  req.set(http::field::host, "127.0.0.1");
  req.set(http::field::authorization, "Bearer admin-token");
  http::write(admin, req);
  std::atomic<bool> verify_done{false};
  http::response<http::string_body> verify_res;
  std::thread reader([&] {
    boost::beast::flat_buffer buf;
    boost::system::error_code ec;
    http::read(admin, buf, verify_res, ec);
    verify_done = true;
  });

  // GETs one after another until the verify answers; count those answered before.
  std::size_t before = 0, total = 0;
  bool all_ok = true;
  auto give_up = std::chrono::steady_clock::now() + std::chrono::minutes(5);  // safety net only
  while (!verify_done && std::chrono::steady_clock::now() < give_up) {
    Response r =
        (total % 2 == 0) ? getter.get("/v1/instances/" + first_id_) : getter.get("/healthz");
    all_ok = all_ok && r.status == 200;
    ++total;
    if (!verify_done) ++before;
  }
  reader.join();
  std::printf("%zu of %zu GETs answered before the verify\n", before, total);
  EXPECT_TRUE(all_ok);
  EXPECT_GE(before, 20u) << "only " << before << " of " << total
                         << " GETs were answered before the verify";
  ASSERT_EQ(verify_res.result_int(), 200u) << verify_res.body();
  json body = json::parse(verify_res.body(), nullptr, false);
  EXPECT_EQ(body.value("ok", false), true) << verify_res.body();
  EXPECT_EQ(body.value("instances", 0u), kInstances);
  EXPECT_EQ(body.value("entries", 0u), kInstances * (1 + kBumps));
}

}  // namespace
}  // namespace bihuan::test
