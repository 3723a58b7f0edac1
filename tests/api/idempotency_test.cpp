// Idempotency-Key through the real server (docs/http-api.md, "Idempotency-Key"): keys are
// the caller's own, a key reused for another request is a 422 naming the difference, a
// replay is authorized like the original and answers what the original step answered.
#include "server_fixture.hpp"

using namespace bihuan;
using namespace bihuan::test;

namespace {

const char* kOther = R"({"id": "t.other", "version": 1, "initial": "waiting",
  "states": {"waiting": {"on": {"go": {"roles": ["clerk"], "target": "gone"}}}, "gone": {"type": "final", "outcome": "gone"}}})";

class IdempotencyApiTest : public ServerTest {
 protected:
  void SetUp() override {
    ServerTest::SetUp();
    ASSERT_TRUE(engine_->deploy(json::parse(kOther), "other").ok);
    ServerConfig c = config();
    // A second clerk, a visitor without roles, and clerk-1 again through a token that
    // lost the clerk role.
    c.tokens.push_back(
        {"clerk2", ServerConfig::hash_token("clerk2-token"), Actor{"clerk-2", {"clerk"}}, 0, 0});
    c.tokens.push_back(
        {"visitor", ServerConfig::hash_token("visitor-token"), Actor{"visitor", {}}, 0, 0});
    c.tokens.push_back(
        {"demoted", ServerConfig::hash_token("demoted-token"), Actor{"clerk-1", {}}, 0, 0});
    serve(std::move(c));
  }
  static Headers key(const std::string& k) { return {{"Idempotency-Key", k}}; }
};

}  // namespace

TEST_F(IdempotencyApiTest, TwoCallersWithOneKeyStartTheirOwnInstances) {
  HttpClient one(port_, "clerk-token"), two(port_, "clerk2-token");
  auto a = one.post("/v1/instances", {{"definition", "t.counter"}, {"data", {{"n", 0}}}},
                    key("order-1"));
  auto b = two.post("/v1/instances", {{"definition", "t.other"}, {"data", {{"who", "two"}}}},
                    key("order-1"));
  ASSERT_EQ(a.status, 201) << a.body;
  ASSERT_EQ(b.status, 201) << b.body;
  EXPECT_EQ(b.json_body()["replayed"], false);
  EXPECT_NE(a.json_body()["id"], b.json_body()["id"]);
  EXPECT_EQ(b.json_body()["definition"], "t.other");
  EXPECT_EQ(b.json_body()["data"], json({{"who", "two"}}));
  auto list = one.get("/v1/instances");
  EXPECT_EQ(list.json_body()["items"].size(), 2u) << list.body;
}

TEST_F(IdempotencyApiTest, AKeyReusedWithOtherDataIsA422NamingTheDifference) {
  HttpClient c(port_, "clerk-token");
  auto a =
      c.post("/v1/instances", {{"definition", "t.counter"}, {"data", {{"n", 0}}}}, key("order-2"));
  ASSERT_EQ(a.status, 201);
  auto b =
      c.post("/v1/instances", {{"definition", "t.counter"}, {"data", {{"n", 5}}}}, key("order-2"));
  ASSERT_EQ(b.status, 422) << b.body;
  EXPECT_EQ(b.header("Content-Type"), "application/problem+json");
  EXPECT_EQ(b.json_body()["code"], "idempotency-key-reused");
  ASSERT_EQ(b.json_body()["errors"].size(), 1u) << b.body;
  EXPECT_EQ(b.json_body()["errors"][0]["pointer"], "/data");
  EXPECT_EQ(b.json_body()["errors"][0]["code"], "differs");
  EXPECT_EQ(c.get("/v1/instances").json_body()["items"].size(), 1u);

  std::string id = a.json_body()["id"];
  ASSERT_EQ(c.post("/v1/instances/" + id + "/events", {{"event", "bump"}, {"payload", {{"by", 1}}}},
                   key("bump-2"))
                .status,
            200);
  auto other = c.post("/v1/instances/" + id + "/events",
                      {{"event", "bump"}, {"payload", {{"by", 2}}}}, key("bump-2"));
  ASSERT_EQ(other.status, 422) << other.body;
  EXPECT_EQ(other.json_body()["errors"][0]["pointer"], "/payload");
  EXPECT_EQ(c.get("/v1/instances/" + id).json_body()["data"]["n"], 1);
}

TEST_F(IdempotencyApiTest, AReplayByACallerWithoutTheRoleIsRefused) {
  HttpClient clerk(port_, "clerk-token"), visitor(port_, "visitor-token"),
      demoted(port_, "demoted-token");
  std::string id = start_counter(clerk);
  ASSERT_EQ(
      clerk.post("/v1/instances/" + id + "/events", {{"event", "bump"}}, key("bump-3")).status,
      200);
  EXPECT_EQ(
      visitor.post("/v1/instances/" + id + "/events", {{"event", "bump"}}, key("bump-new")).status,
      403);
  auto same_key =
      visitor.post("/v1/instances/" + id + "/events", {{"event", "bump"}}, key("bump-3"));
  EXPECT_EQ(same_key.status, 403) << same_key.body;
  EXPECT_EQ(same_key.json_body()["code"], "role-not-allowed");
  auto lost_role =
      demoted.post("/v1/instances/" + id + "/events", {{"event", "bump"}}, key("bump-3"));
  EXPECT_EQ(lost_role.status, 403) << lost_role.body;
  EXPECT_EQ(clerk.get("/v1/instances/" + id).json_body()["data"]["n"], 1);
}

TEST_F(IdempotencyApiTest, AReplayAfterFurtherStepsAnswersWhatTheStepAnswered) {
  HttpClient c(port_, "clerk-token");
  auto s =
      c.post("/v1/instances", {{"definition", "t.counter"}, {"data", {{"n", 0}}}}, key("order-4"));
  ASSERT_EQ(s.status, 201);
  std::string id = s.json_body()["id"];
  auto first = c.post("/v1/instances/" + id + "/events", {{"event", "bump"}}, key("bump-4"));
  ASSERT_EQ(first.status, 200);
  ASSERT_EQ(c.post("/v1/instances/" + id + "/events", {{"event", "bump"}}).status, 200);

  auto replay = c.post("/v1/instances/" + id + "/events", {{"event", "bump"}}, key("bump-4"));
  ASSERT_EQ(replay.status, 200) << replay.body;
  EXPECT_EQ(replay.header("ETag"), "\"2\"");
  auto body = replay.json_body();
  EXPECT_EQ(body["replayed"], true);
  EXPECT_EQ(body["version"], 2);
  EXPECT_EQ(body["state"], "open");
  EXPECT_EQ(body["updatedAt"], first.json_body()["updatedAt"]);
  EXPECT_EQ(body["currentVersion"], 3);
  EXPECT_TRUE(body["data"].is_null()) << replay.body;

  auto start_again =
      c.post("/v1/instances", {{"definition", "t.counter"}, {"data", {{"n", 0}}}}, key("order-4"));
  ASSERT_EQ(start_again.status, 201) << start_again.body;
  EXPECT_EQ(start_again.header("ETag"), "\"1\"");
  EXPECT_EQ(start_again.header("Location"), "/v1/instances/" + id);
  EXPECT_EQ(start_again.json_body()["version"], 1);
  EXPECT_EQ(start_again.json_body()["replayed"], true);
  EXPECT_EQ(c.get("/v1/instances/" + id).json_body()["version"], 3);
}
