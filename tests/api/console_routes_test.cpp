// The web console's routes: its files compiled into the server (content types, CSP,
// ETag and 304), and GET /v1/instances/{id}/events (roles, inherited events,
// visibility, ended instances). The browser scenario is tests/browser/console_test.py.
#include <fstream>
#include <sstream>

#include "server_fixture.hpp"

using namespace bihuan;
using namespace bihuan::test;

namespace {

const char* kConsoleDefinition = R"({"id": "t.console", "version": 1, "initial": "work",
  "access": {"readers": [{"cat": ["actor:", {"var": "data.owner"}]}]},
  "states": {
    "work": {"type": "compound", "initial": "draft",
      "on": {"withdraw": {"roles": ["clerk"], "target": "gone"}},
      "states": {"draft": {"on": {
        "note": {"title": {"zh": "备注", "en": "Note"}, "roles": ["clerk"],
                 "payloadSchema": {"type": "object", "required": ["text"],
                                   "properties": {"text": {"type": "string", "x-title": {"zh": "内容"}}}},
                 "target": "draft"},
        "approve": {"roles": ["manager"], "target": "gone"},
        "tick": {"roles": ["system"], "target": "draft"},
        "mine": {"actors": {"var": "data.owner"}, "target": "draft"}}}}},
    "gone": {"type": "final", "outcome": "gone"}}})";

std::string source_file(const std::string& name) {
  std::ifstream in(std::string(BIHUAN_SOURCE_DIR) + "/console/" + name, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

}  // namespace

TEST_F(ServerTest, ConsoleFilesComeFromTheBinaryWithAStrictCspAndValidators) {
  serve();
  HttpClient c(port_);  // no token: the files are public
  auto index = c.get("/");
  ASSERT_EQ(index.status, 200);
  EXPECT_EQ(index.header("Content-Type"), "text/html; charset=utf-8");
  EXPECT_EQ(index.body, source_file("index.html"));
  std::string csp = index.header("Content-Security-Policy");
  EXPECT_NE(csp.find("default-src 'self'"), std::string::npos) << csp;
  EXPECT_NE(csp.find("frame-ancestors 'none'"), std::string::npos) << csp;
  EXPECT_EQ(csp.find("unsafe"), std::string::npos) << csp;
  EXPECT_EQ(index.header("Cache-Control"), "no-cache");
  std::string etag = index.header("ETag");
  ASSERT_EQ(etag.size(), 34u) << etag;
  auto again = c.get("/", {{"If-None-Match", "\"other\", " + etag}});
  EXPECT_EQ(again.status, 304);
  EXPECT_TRUE(again.body.empty());
  EXPECT_EQ(again.header("ETag"), etag);

  auto js = c.get("/console/app.js");
  ASSERT_EQ(js.status, 200);
  EXPECT_EQ(js.header("Content-Type"), "text/javascript; charset=utf-8");
  EXPECT_EQ(js.body, source_file("app.js"));
  EXPECT_NE(js.header("ETag"), etag);
  EXPECT_EQ(c.get("/console/style.css").header("Content-Type"), "text/css; charset=utf-8");
  auto missing = c.get("/console/..%2Fserver.cpp");
  EXPECT_EQ(missing.status, 404);
  EXPECT_EQ(missing.json_body()["code"], "not-found");
}

TEST_F(ServerTest, AvailableEventsAreThoseTheCallersRolesAllowWhereItMaySeeTheInstance) {
  ASSERT_TRUE(engine_->deploy(json::parse(kConsoleDefinition), "console").ok);
  serve();
  HttpClient admin(port_, "admin-token"), clerk(port_, "clerk-token");
  auto mine =
      admin.post("/v1/instances", {{"definition", "t.console"}, {"data", {{"owner", "clerk-1"}}}});
  ASSERT_EQ(mine.status, 201) << mine.body;
  std::string id = mine.json_body()["id"];
  auto theirs =
      admin.post("/v1/instances", {{"definition", "t.console"}, {"data", {{"owner", "x"}}}});
  std::string other = theirs.json_body()["id"];

  auto r = clerk.get("/v1/instances/" + id + "/events");
  ASSERT_EQ(r.status, 200) << r.body;
  json body = r.json_body();
  EXPECT_EQ(body["state"], "draft");
  EXPECT_EQ(body["version"], 1);
  std::map<std::string, json> items;
  for (const auto& e : body["items"]) items[e["name"]] = e;
  // approve needs manager, tick is the engine's; withdraw comes from the parent state;
  // mine has no roles and an actors rule the server applies on submit.
  ASSERT_EQ(items.size(), 3u) << body.dump();
  EXPECT_EQ(items["note"]["title"], json({{"zh", "备注"}, {"en", "Note"}}));
  EXPECT_EQ(items["note"]["payloadSchema"]["properties"]["text"]["x-title"]["zh"], "内容");
  EXPECT_EQ(items["note"]["actorsRule"], false);
  EXPECT_EQ(items["withdraw"]["title"], "withdraw");
  EXPECT_TRUE(items["withdraw"]["payloadSchema"].is_null());
  EXPECT_EQ(items["mine"]["actorsRule"], true);

  // The administrator sees the instance but has none of the roles: only the open event.
  auto a = admin.get("/v1/instances/" + id + "/events");
  ASSERT_EQ(a.status, 200);
  ASSERT_EQ(a.json_body()["items"].size(), 1u) << a.body;
  EXPECT_EQ(a.json_body()["items"][0]["name"], "mine");

  // Another's instance: 404 worded as an unknown one; no token: 401.
  auto hidden = clerk.get("/v1/instances/" + other + "/events");
  EXPECT_EQ(hidden.status, 404);
  EXPECT_EQ(hidden.json_body()["detail"], "no instance " + other);
  EXPECT_EQ(clerk.get("/v1/instances/0000000000000000/events").json_body()["detail"],
            "no instance 0000000000000000");
  EXPECT_EQ(HttpClient(port_).get("/v1/instances/" + id + "/events").status, 401);

  // Ended: nothing to send.
  ASSERT_EQ(clerk.post("/v1/instances/" + id + "/events", {{"event", "withdraw"}}).status, 200);
  auto ended = clerk.get("/v1/instances/" + id + "/events");
  ASSERT_EQ(ended.status, 200);
  EXPECT_TRUE(ended.json_body()["items"].empty()) << ended.body;
}
