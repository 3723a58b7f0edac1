// Evidence files through the real server (docs/attachments.md): upload limits and types,
// once-by-content storage, and reading a file through an instance by every kind of caller.
#include <filesystem>

#include "attachments/attachment_samples.hpp"  // tests/ is on the include path
#include "server_fixture.hpp"

namespace bihuan::test {
namespace {

const char* kEvidence = R"({
  "id": "t.evidence", "version": 1,
  "access": {"readers": [{"cat": ["actor:", {"var": "data.owner"}]}]},
  "initial": "OPEN",
  "states": {
    "OPEN": {"on": {"submit": {
      "roles": ["clerk"],
      "payloadSchema": {"type": "object", "required": ["photos"], "properties": {
        "photos": {"type": "array", "minItems": 2,
                   "items": {"type": "string", "format": "bihuan-attachment"}}}},
      "set": {"/photos": {"var": "event.payload.photos"}},
      "target": "DONE"}}},
    "DONE": {"type": "final", "outcome": "done"}
  }
})";

class AttachmentsTest : public ServerTest {
 protected:
  void SetUp() override {
    ServerTest::SetUp();
    auto res = engine_->deploy(json::parse(kEvidence), "evidence");
    ASSERT_TRUE(res.ok) << (res.problems.items().empty() ? ""
                                                         : res.problems.items()[0].to_string());
  }
  ServerConfig config_with_other() const {
    ServerConfig c = config();
    c.tokens.push_back(
        {"other", ServerConfig::hash_token("other-token"), Actor{"other-1", {"clerk"}}, 0, 0});
    return c;
  }
  static Response upload(HttpClient& c, const std::string& bytes,
                         const char* type = "application/octet-stream") {
    return c.request(http::verb::post, "/v1/attachments", bytes, {}, type);
  }
};

TEST_F(AttachmentsTest, UploadAnswersTheAddressAndStoresEachFileOnce) {
  serve();
  HttpClient c(port_, "clerk-token");
  std::string png = samples::png(100);
  auto r = upload(c, png, "image/png");
  ASSERT_EQ(r.status, 201) << r.body;
  std::string address = r.json_body()["address"];
  EXPECT_EQ(address.rfind("sha256:", 0), 0u);
  EXPECT_EQ(r.json_body()["size"], png.size());
  EXPECT_EQ(r.json_body()["contentType"], "image/png");
  auto again = upload(c, png);
  EXPECT_EQ(again.status, 200) << again.body;
  EXPECT_EQ(again.json_body()["address"], address);
  std::size_t files = 0;
  for (auto& e : std::filesystem::recursive_directory_iterator(dir_ + "/data/attachments/sha256"))
    files += e.is_regular_file() && e.path().extension() != ".json";
  EXPECT_EQ(files, 1u);
  auto pdf = upload(c, samples::pdf(), "application/pdf");
  EXPECT_EQ(pdf.status, 201);
  EXPECT_EQ(pdf.json_body()["contentType"], "application/pdf");
  EXPECT_EQ(upload(c, samples::jpeg()).json_body()["contentType"], "image/jpeg");
  HttpClient anonymous(port_);
  EXPECT_EQ(upload(anonymous, png).status, 401);
}

TEST_F(AttachmentsTest, LimitsAndWrongTypesAreRefused) {
  ServerConfig cfg = config();
  cfg.attachments.max_bytes = 8192;
  cfg.attachments.types = {"image/png", "application/pdf"};
  serve(cfg);
  HttpClient c(port_, "clerk-token");
  auto big = upload(c, samples::png(20000));
  EXPECT_EQ(big.status, 413) << big.body;
  EXPECT_EQ(big.json_body()["code"], "attachment-too-large");
  EXPECT_EQ(big.json_body()["maxBytes"], 8192);
  HttpClient c2(port_, "clerk-token");
  auto text = upload(c2, "plain words, not a scan\n", "application/pdf");
  EXPECT_EQ(text.status, 415) << text.body;
  EXPECT_EQ(text.json_body()["code"], "attachment-type");
  EXPECT_EQ(text.json_body()["detected"], "text/plain");
  EXPECT_NE(text.json_body()["detail"].get<std::string>().find("text/plain"), std::string::npos);
  auto jpeg = upload(c2, samples::jpeg(), "image/jpeg");
  EXPECT_EQ(jpeg.status, 415) << "JPEG is not configured here";
  EXPECT_EQ(jpeg.json_body()["detected"], "image/jpeg");
  auto lie = upload(c2, samples::png(1), "application/pdf");
  EXPECT_EQ(lie.status, 415) << "declared PDF, really PNG";
  EXPECT_EQ(lie.json_body()["detected"], "image/png");
  EXPECT_EQ(upload(c2, "").status, 422);
  // The bigger upload limit does not raise the limit of other routes.
  std::string body = "{\"definition\": \"t.counter\", \"data\": {\"x\": \"" +
                     std::string(cfg.body_limit + 10, 'a') + "\"}}";
  HttpClient c3(port_, "clerk-token");
  EXPECT_EQ(c3.request(http::verb::post, "/v1/instances", body).status, 413);
  HttpClient c4(port_, "clerk-token");
  EXPECT_EQ(c4.get("/healthz").status, 200);
}

TEST_F(AttachmentsTest, EveryCallerReadsFilesOnlyThroughAnInstanceItMaySee) {
  serve(config_with_other());
  HttpClient clerk(port_, "clerk-token"), other(port_, "other-token"), admin(port_, "admin-token");
  std::string a = upload(clerk, samples::png(7)).json_body()["address"];
  std::string b = upload(clerk, samples::pdf()).json_body()["address"];
  std::string unnamed = upload(clerk, samples::png(8)).json_body()["address"];
  auto s =
      clerk.post("/v1/instances", {{"definition", "t.evidence"}, {"data", {{"owner", "clerk-1"}}}});
  ASSERT_EQ(s.status, 201) << s.body;
  std::string id = s.json_body()["id"];
  auto e = clerk.post("/v1/instances/" + id + "/events",
                      {{"event", "submit"}, {"payload", {{"photos", {a, b}}}}});
  ASSERT_EQ(e.status, 200) << e.body;

  std::string path = "/v1/instances/" + id + "/attachments/";
  auto got = clerk.get(path + a);
  ASSERT_EQ(got.status, 200) << got.body;
  EXPECT_EQ(got.body, samples::png(7));
  EXPECT_EQ(got.header("Content-Type"), "image/png");
  EXPECT_EQ(got.header("ETag"), "\"" + a + "\"");
  EXPECT_EQ(got.header("X-Content-Type-Options"), "nosniff");
  EXPECT_NE(got.header("Content-Disposition").find(".png\""), std::string::npos);
  EXPECT_EQ(clerk.get(path + a, {{"If-None-Match", "\"" + a + "\""}}).status, 304);
  EXPECT_EQ(admin.get(path + b).header("Content-Type"), "application/pdf");
  // Out of scope: answered as if the instance did not exist.
  auto hidden = other.get(path + a);
  EXPECT_EQ(hidden.status, 404);
  EXPECT_EQ(hidden.json_body()["code"], "not-found");
  EXPECT_EQ(other.get("/v1/instances/" + id).status, 404);
  // Stored, but never named by this instance: 404, also for the administrator.
  EXPECT_EQ(clerk.get(path + unnamed).status, 404);
  EXPECT_EQ(admin.get(path + unnamed).status, 404);
  EXPECT_EQ(clerk.get("/v1/instances/nope/attachments/" + a).status, 404);
  EXPECT_EQ(clerk.get(path + "sha256:xyz").status, 400);
}

TEST_F(AttachmentsTest, AStepNamingAFileNotStoredIsRefusedWithItsPointer) {
  serve();
  HttpClient clerk(port_, "clerk-token");
  std::string a = upload(clerk, samples::png(11)).json_body()["address"];
  std::string missing = "sha256:" + std::string(64, 'e');
  auto s =
      clerk.post("/v1/instances", {{"definition", "t.evidence"}, {"data", {{"owner", "clerk-1"}}}});
  ASSERT_EQ(s.status, 201) << s.body;
  std::string id = s.json_body()["id"];
  std::string events = "/v1/instances/" + id + "/events";
  auto r = clerk.post(events, {{"event", "submit"}, {"payload", {{"photos", {a, missing}}}}});
  EXPECT_EQ(r.status, 422) << r.body;
  EXPECT_NE(r.body.find("/payload/photos/1"), std::string::npos) << r.body;
  EXPECT_NE(r.body.find("not stored"), std::string::npos) << r.body;
  auto one = clerk.post(events, {{"event", "submit"}, {"payload", {{"photos", {a}}}}});
  EXPECT_EQ(one.status, 422) << "at least 2 photos: " << one.body;
  auto bad = clerk.post(events, {{"event", "submit"}, {"payload", {{"photos", {a, "photo.jpg"}}}}});
  EXPECT_EQ(bad.status, 422);
  EXPECT_NE(bad.body.find("/payload/photos/1"), std::string::npos) << bad.body;
  EXPECT_EQ(clerk.get("/v1/instances/" + id).json_body()["version"], 1) << "nothing applied";
  std::string b = upload(clerk, samples::png(12)).json_body()["address"];
  EXPECT_EQ(clerk.post(events, {{"event", "submit"}, {"payload", {{"photos", {a, b}}}}}).status,
            200);
  // Named by a step: no longer an orphan candidate.
  EXPECT_FALSE(std::filesystem::exists(dir_ + "/data/attachments/pending/" + a.substr(7)));
}

}  // namespace
}  // namespace bihuan::test
