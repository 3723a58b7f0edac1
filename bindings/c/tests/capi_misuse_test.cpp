// The C API used wrongly: NULL handles and arguments, calls after close, malformed JSON,
// members of the wrong type, a definition with errors, a program built for another ABI.
// Each is a status and an error object naming the problem, never a crash.
#include "capi_fixture.hpp"

namespace capi_test {
namespace {

void noop(void*, int, const char*) {}

TEST(CapiMisuse, NullHandleIsInvalidEverywhere) {
  char* result = reinterpret_cast<char*>(1);
  char* error = nullptr;
  EXPECT_EQ(bihuan_get(nullptr, "x", &result, &error), BIHUAN_EINVAL);
  EXPECT_EQ(result, nullptr);
  json e = take(error);
  EXPECT_EQ(e["code"], "invalid");
  EXPECT_NE(e["message"].get<std::string>().find("NULL"), std::string::npos);
  EXPECT_EQ(bihuan_start(nullptr, "{}", nullptr, nullptr), BIHUAN_EINVAL);
  EXPECT_EQ(bihuan_send_async(nullptr, "{}", noop, nullptr, nullptr), BIHUAN_EINVAL);
  EXPECT_EQ(bihuan_verify(nullptr, nullptr, nullptr), BIHUAN_EINVAL);
  EXPECT_EQ(bihuan_close(nullptr, nullptr), BIHUAN_EINVAL);
  std::int64_t now = 0;
  EXPECT_EQ(bihuan_clock_now(nullptr, &now, nullptr), BIHUAN_EINVAL);
  bihuan_release(nullptr);  // nothing
  bihuan_free(nullptr);
}

TEST(CapiMisuse, WrongAbiIsRefused) {
  std::string dir = fresh_dir("abi");
  json options = {{"dataDir", dir}};
  bihuan_engine* engine = reinterpret_cast<bihuan_engine*>(1);
  char* error = nullptr;
  unsigned newer_minor = BIHUAN_ABI_VERSION + 1, next_major = (BIHUAN_ABI_MAJOR + 1u) << 16;
  EXPECT_EQ(bihuan_open(options.dump().c_str(), newer_minor, &engine, &error), BIHUAN_EABI);
  EXPECT_EQ(engine, nullptr);
  EXPECT_EQ(take(error)["type"], "abi-mismatch");
  EXPECT_EQ(bihuan_open(options.dump().c_str(), next_major, &engine, nullptr), BIHUAN_EABI);
  EXPECT_EQ(bihuan_open(options.dump().c_str(), BIHUAN_ABI_VERSION, nullptr, nullptr),
            BIHUAN_EINVAL);
  EXPECT_FALSE(std::filesystem::exists(dir));  // refused before anything was created
}

TEST(CapiMisuse, BadOptionsNameTheMember) {
  bihuan_engine* engine = nullptr;
  auto open = [&](const char* options) {
    return call(
        [&](char**, char** e) { return bihuan_open(options, BIHUAN_ABI_VERSION, &engine, e); });
  };
  auto missing = open("{}");
  EXPECT_EQ(missing.status, BIHUAN_EINVAL);
  EXPECT_EQ(missing.error["problems"][0]["pointer"], "/dataDir");
  auto typed = open(R"({"dataDir": "/tmp/x", "durable": "yes"})");
  EXPECT_EQ(typed.status, BIHUAN_EINVAL);
  EXPECT_EQ(typed.error["problems"][0]["pointer"], "/durable");
  auto clock = open(R"({"dataDir": "/tmp/x", "virtualClock": "soon"})");
  EXPECT_EQ(clock.error["problems"][0]["pointer"], "/virtualClock");
  auto unknown = open(R"({"dataDir": "/tmp/x", "dataDri": "/tmp/y"})");
  EXPECT_EQ(unknown.error["problems"][0]["pointer"], "/dataDri");
  auto broken = open(R"({"dataDir": )");
  EXPECT_EQ(broken.status, BIHUAN_EINVAL);
  EXPECT_EQ(broken.error["type"], "invalid-json");
  EXPECT_GE(broken.error["problems"][0]["line"].get<int>(), 1);
  EXPECT_EQ(open(nullptr).status, BIHUAN_EINVAL);
  auto unopenable = open(R"({"dataDir": "/proc/bihuan-cannot-be-here"})");
  EXPECT_EQ(unopenable.status, BIHUAN_EIO);
  EXPECT_EQ(engine, nullptr);
}

TEST_F(CapiTest, CallsAfterCloseAreClosed) {
  std::string id = started();
  ASSERT_EQ(bihuan_close(engine_, nullptr), BIHUAN_OK);
  ASSERT_EQ(bihuan_close(engine_, nullptr), BIHUAN_OK);  // idempotent
  auto got = call([&](char** r, char** e) { return bihuan_get(engine_, id.c_str(), r, e); });
  EXPECT_EQ(got.status, BIHUAN_ECLOSED);
  EXPECT_EQ(got.error["code"], "closed");
  EXPECT_EQ(start({{"definition", "t.capi"}}).status, BIHUAN_ECLOSED);
  EXPECT_EQ(bihuan_send_async(engine_, "{}", noop, nullptr, nullptr), BIHUAN_ECLOSED);
  EXPECT_EQ(bihuan_clock_advance(engine_, 1, nullptr, nullptr), BIHUAN_ECLOSED);
  EXPECT_EQ(deploy(kDefinition).status, BIHUAN_ECLOSED);
}

TEST_F(CapiTest, MalformedRequestsNameThePointer) {
  auto broken =
      call([&](char** r, char** e) { return bihuan_start(engine_, "{\"definition\":", r, e); });
  EXPECT_EQ(broken.status, BIHUAN_EINVAL);
  EXPECT_EQ(broken.error["type"], "invalid-json");
  EXPECT_EQ(broken.result, nullptr);
  auto not_object = call([&](char** r, char** e) { return bihuan_start(engine_, "[1]", r, e); });
  EXPECT_EQ(not_object.status, BIHUAN_EINVAL);
  auto null_text = call([&](char** r, char** e) { return bihuan_send(engine_, nullptr, r, e); });
  EXPECT_EQ(null_text.status, BIHUAN_EINVAL);

  auto data = start({{"definition", "t.capi"}, {"data", "not an object"}});
  EXPECT_EQ(data.status, BIHUAN_EINVAL);
  EXPECT_EQ(data.error["problems"][0]["pointer"], "/data");
  auto roles = start({{"definition", "t.capi"}, {"actor", {{"id", "a"}, {"roles", {1}}}}});
  EXPECT_EQ(roles.error["problems"][0]["pointer"], "/actor/roles/0");
  auto both = send({{"event", "approve"}});
  EXPECT_EQ(both.status, BIHUAN_EINVAL);
  auto version = send({{"instance", "x"}, {"event", "e"}, {"expectedVersion", -1}});
  EXPECT_EQ(version.error["problems"][0]["pointer"], "/expectedVersion");
  auto group = call([&](char** r, char** e) {
    return bihuan_stats(engine_, R"({"groupBy": ["state", "colour"]})", r, e);
  });
  EXPECT_EQ(group.status, BIHUAN_EINVAL);
  EXPECT_EQ(group.error["problems"][0]["pointer"], "/groupBy/1");
  auto limit =
      call([&](char** r, char** e) { return bihuan_query(engine_, R"({"limit": 0})", r, e); });
  EXPECT_EQ(limit.error["problems"][0]["pointer"], "/limit");
  auto history = call([&](char** r, char** e) {
    return bihuan_history(engine_, R"({"instance": "00000000000000ff"})", r, e);
  });
  EXPECT_EQ(history.status, BIHUAN_ENOTFOUND);
  EXPECT_EQ(
      bihuan_send_async(engine_, R"({"instance":"x","event":"e"})", nullptr, nullptr, nullptr),
      BIHUAN_EINVAL);
  EXPECT_EQ(bihuan_clock_now(engine_, nullptr, nullptr), BIHUAN_EINVAL);
  EXPECT_EQ(bihuan_clock_advance(engine_, -5, nullptr, nullptr), BIHUAN_EINVAL);
}

TEST_F(CapiTest, BadDefinitionIsRefusedWithPointers) {
  auto d = deploy(R"({"id": "t.bad", "version": 1, "initial": "nowhere",
                      "states": {"a": {"on": {"go": {"target": "missing"}}}}})");
  EXPECT_EQ(d.status, BIHUAN_EREFUSED);
  EXPECT_EQ(d.error["type"], "definition-invalid");
  ASSERT_FALSE(d.error["problems"].empty());
  bool named_target = false;
  for (const auto& p : d.error["problems"]) {
    EXPECT_FALSE(p["pointer"].get<std::string>().empty() &&
                 p["message"].get<std::string>().empty());
    named_target = named_target || p["pointer"] == "/states/a/on/go/target";
  }
  EXPECT_TRUE(named_target) << d.error.dump();
  auto broken = deploy("{\"id\": \"t.bad\",\n \"version\": }");
  EXPECT_EQ(broken.status, BIHUAN_EINVAL);
  EXPECT_EQ(broken.error["problems"][0]["line"], 2);
}

}  // namespace
}  // namespace capi_test
