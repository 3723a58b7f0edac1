// The C API used as intended: deploy, start, send (sync and async), get, query pages,
// history pages, inbox, stats, verify, and the virtual clock firing a timer.
#include <condition_variable>
#include <mutex>
#include <set>
#include <thread>

#include "capi_fixture.hpp"

namespace capi_test {
namespace {

const json kManager = {{"id", "li.si"}, {"roles", {"manager"}}};

TEST_F(CapiTest, AbiVersionAndStatusNames) {
  EXPECT_EQ(bihuan_abi_version(), BIHUAN_ABI_VERSION);
  EXPECT_STREQ(bihuan_status_name(BIHUAN_OK), "ok");
  EXPECT_STREQ(bihuan_status_name(BIHUAN_EREFUSED), "refused");
  EXPECT_STREQ(bihuan_status_name(99), "unknown");
}

TEST_F(CapiTest, DeployAgainIsUnchanged) {
  auto d = deploy(kDefinition);
  ASSERT_EQ(d.status, BIHUAN_OK);
  EXPECT_EQ(d.result["id"], "t.capi");
  EXPECT_EQ(d.result["version"], 1);
  EXPECT_EQ(d.result["unchanged"], true);
  EXPECT_EQ(d.error, nullptr);
}

TEST_F(CapiTest, StartSendGetAndGetByKey) {
  auto s = start({{"definition", "t.capi"}, {"businessKey", "claim-1"}, {"data", {{"amount", 5}}}});
  ASSERT_EQ(s.status, BIHUAN_OK) << s.error.dump();
  EXPECT_EQ(s.result["state"], "review");
  EXPECT_EQ(s.result["created"], true);
  std::string id = s.result["id"];

  auto sent = send({{"instance", id}, {"event", "approve"}, {"actor", kManager}});
  ASSERT_EQ(sent.status, BIHUAN_OK) << sent.error.dump();
  EXPECT_EQ(sent.result["state"], "done");
  EXPECT_EQ(sent.result["status"], "completed");

  auto got = call([&](char** r, char** e) { return bihuan_get(engine_, id.c_str(), r, e); });
  ASSERT_EQ(got.status, BIHUAN_OK);
  EXPECT_EQ(got.result["outcome"], "approved");
  EXPECT_EQ(got.result["data"]["amount"], 5);
  auto by_key =
      call([&](char** r, char** e) { return bihuan_get_by_key(engine_, "claim-1", r, e); });
  ASSERT_EQ(by_key.status, BIHUAN_OK);
  EXPECT_EQ(by_key.result["id"], id);
  auto none =
      call([&](char** r, char** e) { return bihuan_get(engine_, "00000000000000ff", r, e); });
  EXPECT_EQ(none.status, BIHUAN_ENOTFOUND);
  EXPECT_EQ(none.result, nullptr);
  EXPECT_EQ(none.error["code"], "not-found");
}

TEST_F(CapiTest, RefusedStepSaysWhy) {
  std::string id = started();
  auto clerk = send({{"instance", id},
                     {"event", "approve"},
                     {"actor", {{"id", "wang.wu"}, {"roles", {"clerk"}}}}});
  EXPECT_EQ(clerk.status, BIHUAN_EREFUSED);
  EXPECT_EQ(clerk.error["type"], "role-not-allowed");
  EXPECT_FALSE(clerk.error["message"].get<std::string>().empty());
  auto unknown = send({{"instance", "00000000000000ff"}, {"event", "approve"}});
  EXPECT_EQ(unknown.status, BIHUAN_ENOTFOUND);
}

struct Completion {
  std::mutex mu;
  std::condition_variable cv;
  int calls = 0, status = -1;
  json body;
  static void done(void* user, int status, const char* text) {
    auto* c = static_cast<Completion*>(user);
    std::lock_guard lock(c->mu);
    c->status = status;
    c->body = json::parse(text);
    ++c->calls;
    c->cv.notify_all();
  }
  void wait() {
    std::unique_lock lock(mu);
    cv.wait(lock, [&] { return calls > 0; });
  }
};

TEST_F(CapiTest, SendAsyncCallsBackOnceAfterCommit) {
  std::string id = started();
  Completion c;
  json req = {{"instance", id}, {"event", "reject"}, {"actor", kManager}};
  char* error = nullptr;
  ASSERT_EQ(bihuan_send_async(engine_, req.dump().c_str(), &Completion::done, &c, &error),
            BIHUAN_OK);
  EXPECT_EQ(error, nullptr);
  c.wait();
  EXPECT_EQ(c.status, BIHUAN_OK);
  EXPECT_EQ(c.body["outcome"], "rejected");
  // A refusal reaches the callback too, with the error object.
  Completion refused;
  ASSERT_EQ(bihuan_send_async(engine_, req.dump().c_str(), &Completion::done, &refused, nullptr),
            BIHUAN_OK);
  refused.wait();
  EXPECT_EQ(refused.status, BIHUAN_EREFUSED);
  EXPECT_EQ(refused.body["type"], "instance-ended");
  Completion s;
  ASSERT_EQ(
      bihuan_start_async(engine_, R"({"definition":"t.capi"})", &Completion::done, &s, nullptr),
      BIHUAN_OK);
  s.wait();
  EXPECT_EQ(s.status, BIHUAN_OK);
  EXPECT_EQ(s.body["state"], "review");
  bihuan_close(engine_, nullptr);
  EXPECT_EQ(c.calls + refused.calls + s.calls, 3);
}

TEST_F(CapiTest, QueryAndHistoryPages) {
  for (int i = 0; i < 5; ++i) started("k" + std::to_string(i));
  json q = {{"definition", "t.capi"}, {"limit", 2}};
  std::set<std::string> seen;
  int pages = 0;
  for (;;) {
    auto page =
        call([&](char** r, char** e) { return bihuan_query(engine_, q.dump().c_str(), r, e); });
    ASSERT_EQ(page.status, BIHUAN_OK) << page.error.dump();
    ++pages;
    for (const auto& item : page.result["items"]) seen.insert(item["id"].get<std::string>());
    if (!page.result.contains("nextCursor")) break;
    q["cursor"] = page.result["nextCursor"];
  }
  EXPECT_EQ(seen.size(), 5u);
  EXPECT_EQ(pages, 3);
  q["cursor"] = "not-a-cursor";
  auto bad =
      call([&](char** r, char** e) { return bihuan_query(engine_, q.dump().c_str(), r, e); });
  EXPECT_EQ(bad.status, BIHUAN_EINVAL);
  EXPECT_EQ(bad.error["problems"][0]["pointer"], "/cursor");

  std::string id = *seen.begin();
  ASSERT_EQ(send({{"instance", id}, {"event", "approve"}, {"actor", kManager}}).status, BIHUAN_OK);
  json h = {{"instance", id}, {"limit", 1}};
  auto newest =
      call([&](char** r, char** e) { return bihuan_history(engine_, h.dump().c_str(), r, e); });
  ASSERT_EQ(newest.status, BIHUAN_OK) << newest.error.dump();
  ASSERT_EQ(newest.result["items"].size(), 1u);
  EXPECT_EQ(newest.result["items"][0]["event"], "approve");
  h["cursor"] = newest.result["nextCursor"];
  auto older =
      call([&](char** r, char** e) { return bihuan_history(engine_, h.dump().c_str(), r, e); });
  ASSERT_EQ(older.status, BIHUAN_OK);
  EXPECT_EQ(older.result["items"][0]["kind"], "start");
  EXPECT_FALSE(older.result.contains("nextCursor"));
}

TEST_F(CapiTest, InboxStatsAndVerify) {
  std::string a = started(), b = started();
  ASSERT_EQ(send({{"instance", b}, {"event", "approve"}, {"actor", kManager}}).status, BIHUAN_OK);
  json q = {{"actor", kManager}};
  auto inbox =
      call([&](char** r, char** e) { return bihuan_inbox(engine_, q.dump().c_str(), r, e); });
  ASSERT_EQ(inbox.status, BIHUAN_OK) << inbox.error.dump();
  ASSERT_EQ(inbox.result["items"].size(), 1u);
  EXPECT_EQ(inbox.result["items"][0]["instance"]["id"], a);
  EXPECT_EQ(inbox.result["items"][0]["events"], json({"approve", "reject"}));

  json sq = {{"definition", "t.capi"}, {"groupBy", {"state"}}};
  auto stats =
      call([&](char** r, char** e) { return bihuan_stats(engine_, sq.dump().c_str(), r, e); });
  ASSERT_EQ(stats.status, BIHUAN_OK) << stats.error.dump();
  EXPECT_EQ(stats.result["total"], 2);
  EXPECT_EQ(stats.result["groups"].size(), 2u);

  auto verify = call([&](char** r, char** e) { return bihuan_verify(engine_, r, e); });
  ASSERT_EQ(verify.status, BIHUAN_OK);
  EXPECT_EQ(verify.result["ok"], true);
  EXPECT_EQ(verify.result["instances"], 2);
}

TEST_F(CapiTest, VirtualClockFiresTheTimer) {
  std::string id = started();
  std::int64_t now = 0;
  ASSERT_EQ(bihuan_clock_now(engine_, &now, nullptr), BIHUAN_OK);
  EXPECT_EQ(now, kStartMs);
  std::uint64_t fired = 99;
  ASSERT_EQ(bihuan_clock_advance(engine_, 59 * 60 * 1000, &fired, nullptr), BIHUAN_OK);
  EXPECT_EQ(fired, 0u);
  ASSERT_EQ(bihuan_clock_advance_to(engine_, kStartMs + 3600 * 1000, &fired, nullptr), BIHUAN_OK);
  EXPECT_EQ(fired, 1u);
  auto got = call([&](char** r, char** e) { return bihuan_get(engine_, id.c_str(), r, e); });
  EXPECT_EQ(got.result["state"], "late");
  ASSERT_EQ(bihuan_clock_now(engine_, &now, nullptr), BIHUAN_OK);
  EXPECT_EQ(now, kStartMs + 3600 * 1000);
}

TEST_F(CapiTest, ThreadsShareOneHandle) {
  std::vector<std::string> ids;
  for (int i = 0; i < 4; ++i) ids.push_back(started());
  std::vector<std::thread> threads;
  std::atomic<int> failures{0};
  for (const auto& id : ids)
    threads.emplace_back([&, id] {
      json req = {{"instance", id}, {"event", "approve"}, {"actor", kManager}};
      json get = {{"instance", id}};
      // One step each (the instance then ends) and many reads meanwhile.
      if (bihuan_send(engine_, req.dump().c_str(), nullptr, nullptr) != BIHUAN_OK) ++failures;
      for (int i = 0; i < 20; ++i)
        if (bihuan_history(engine_, get.dump().c_str(), nullptr, nullptr) != BIHUAN_OK) ++failures;
    });
  for (auto& t : threads) t.join();
  EXPECT_EQ(failures.load(), 0);
  json q = {{"definition", "t.capi"}, {"status", "completed"}};
  auto page =
      call([&](char** r, char** e) { return bihuan_query(engine_, q.dump().c_str(), r, e); });
  EXPECT_EQ(page.result["items"].size(), 4u);
}

TEST(CapiOpen, SystemClockRefusesAdvanceAndReopensTheStore) {
  std::string dir = fresh_dir("reopen");
  json options = {{"dataDir", dir}};
  bihuan_engine* engine = nullptr;
  ASSERT_EQ(bihuan_open(options.dump().c_str(), BIHUAN_ABI_VERSION, &engine, nullptr), BIHUAN_OK);
  auto adv = call([&](char**, char** e) { return bihuan_clock_advance(engine, 1000, nullptr, e); });
  EXPECT_EQ(adv.status, BIHUAN_EINVAL);
  EXPECT_EQ(adv.error["type"], "not-virtual");
  char* result = nullptr;
  ASSERT_EQ(bihuan_deploy(engine, kDefinition, nullptr, &result, nullptr), BIHUAN_OK);
  bihuan_free(result);
  ASSERT_EQ(
      bihuan_start(engine, R"({"definition":"t.capi","businessKey":"kept"})", nullptr, nullptr),
      BIHUAN_OK);
  bihuan_release(engine);
  ASSERT_EQ(bihuan_open(options.dump().c_str(), BIHUAN_ABI_VERSION, &engine, nullptr), BIHUAN_OK);
  auto kept = call([&](char** r, char** e) { return bihuan_get_by_key(engine, "kept", r, e); });
  EXPECT_EQ(kept.status, BIHUAN_OK);
  EXPECT_EQ(kept.result["state"], "review");
  bihuan_release(engine);
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace capi_test
