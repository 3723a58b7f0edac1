// `bihuan serve` as the README runs it: the embedded default (bundled workflows, plugins,
// a development admin token), a real HTTP client, SIGTERM, a clean stop; and a restart
// with --clock-start continuing its timeline.
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>
#include <thread>

#include "serve_process.hpp"
#include "server_fixture.hpp"

using namespace bihuan;
using namespace bihuan::test;

namespace {

std::string read_first_line(const std::string& path) {
  std::ifstream in(path);
  std::string s;
  std::getline(in, s);
  return s;
}

}  // namespace

TEST_F(ServerTest, BihuanServeRunsTheEmbeddedDefaultAndStopsCleanlyOnSigterm) {
  std::string data = dir_ + "/serve-data";
  ServeProcess p;
  ASSERT_TRUE(p.start({"--listen", "127.0.0.1:0", "--data-dir", data}, dir_ + "/serve.log"))
      << "no listening line in " << dir_ << "/serve.log";
  auto first = p.lines();
  ASSERT_FALSE(first.empty());
  EXPECT_EQ(first[0]["msg"], "starting on the embedded default configuration");
  std::string token = read_first_line(data + "/dev-admin-token");
  ASSERT_GE(token.size(), 32u);

  HttpClient c(p.port, token);
  EXPECT_EQ(c.get("/healthz").status, 200);
  auto defs = c.get("/v1/definitions");
  ASSERT_EQ(defs.status, 200);
  std::set<std::string> ids;
  json body = defs.json_body();
  for (const auto& d : body["items"]) ids.insert(d["id"].get<std::string>());
  EXPECT_TRUE(ids.count("demo.leave-request")) << "the bundled workflows are deployed";
  auto started = c.post("/v1/instances", {{"definition", "demo.leave-request"},
                                          {"data", {{"employee", "e1"}, {"days", 2}}}});
  EXPECT_EQ(started.status, 201) << started.body;

  EXPECT_EQ(p.stop(), 0);
  auto all = p.lines();
  ASSERT_FALSE(all.empty());
  EXPECT_EQ(all.back()["msg"], "stopped cleanly");

  // A restart with --clock-start keeps the data and runs the clock from that instant; a
  // second restart continues the same timeline (clock.json) instead of starting over.
  ServeProcess again;
  ASSERT_TRUE(again.start({"--listen", "127.0.0.1:0", "--data-dir", data, "--no-workflows",
                           "--clock-start", "2023-05-15T09:00:00+08:00"},
                          dir_ + "/serve2.log"));
  HttpClient c2(again.port, token);
  auto second = c2.post("/v1/instances", {{"definition", "demo.leave-request"},
                                          {"data", {{"employee", "e2"}, {"days", 1}}}});
  ASSERT_EQ(second.status, 201) << second.body;
  EXPECT_EQ(second.json_body()["createdAt"].get<std::string>().substr(0, 10), "2023-05-15");
  EXPECT_EQ(c2.get("/v1/stats?definition=demo.leave-request").json_body()["total"], 2)
      << "the data survived the restart";
  EXPECT_EQ(again.stop(), 0);
  EXPECT_TRUE(std::filesystem::exists(data + "/clock.json"));
}

TEST_F(ServerTest, BihuanServeRefusesABadConfigurationNamingThePointer) {
  std::string cfg = dir_ + "/bad.json";
  std::ofstream(cfg)
      << R"({"dataDir": "d", "server": {"listen": "nowhere", "tokens": [{"name": "x"}]}})";
  ServeProcess p;
  EXPECT_FALSE(p.start({"--config", cfg}, dir_ + "/bad.log"));
  EXPECT_TRUE(p.exited);
  EXPECT_EQ(p.exit_status, 1);
  std::ifstream in(dir_ + "/bad.log");
  std::stringstream ss;
  ss << in.rdbuf();
  EXPECT_NE(ss.str().find("/server/listen"), std::string::npos) << ss.str();
  EXPECT_NE(ss.str().find("/server/tokens/0/sha256"), std::string::npos) << ss.str();
}

TEST_F(ServerTest, BihuanServeDemoServesTheSimulatedCityWithTokensForBusyPeople) {
  std::string data = dir_ + "/demo";
  ServeProcess p;
  ASSERT_TRUE(p.start({"--demo", "--demo-at", "2022-12-12T09:00:00+08:00", "--listen",
                       "127.0.0.1:0", "--data-dir", data},
                      dir_ + "/demo.log"))
      << "see " << dir_ << "/demo.log";
  std::ifstream in(data + "/demo-tokens.json");
  json tokens = json::parse(in, nullptr, false);
  ASSERT_TRUE(tokens.is_array());
  std::map<std::string, std::string> by_name;
  for (const auto& t : tokens)
    by_name[t["name"].get<std::string>()] = t["token"].get<std::string>();
  ASSERT_TRUE(by_name.count("city-office"));
  ASSERT_TRUE(by_name.count("cadre")) << "some cadre has work on 12 December 2022";

  HttpClient admin(p.port, by_name["city-office"]);
  auto stats = admin.get("/v1/stats?definition=food-safety.supervision&groupBy=status");
  ASSERT_EQ(stats.status, 200);
  EXPECT_GT(stats.json_body()["total"].get<int>(), 2000)
      << "the first round's supervision tasks are open";
  HttpClient cadre(p.port, by_name["cadre"]);
  auto inbox = cadre.get("/v1/inbox");
  ASSERT_EQ(inbox.status, 200);
  EXPECT_FALSE(inbox.json_body()["items"].empty());
  auto got = cadre.get("/v1/instances/" +
                       inbox.json_body()["items"][0]["instance"]["id"].get<std::string>());
  EXPECT_EQ(got.status, 200);
  EXPECT_EQ(p.stop(), 0);
}
