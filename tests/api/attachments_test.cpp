// Evidence files through the real server (docs/attachments.md): upload limits and types,
// once-by-content storage, and reading a file through an instance by every kind of caller.
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "attachments/attachment_samples.hpp"  // tests/ is on the include path
#include "bihuan/attachment_check.hpp"
#include "bihuan/attachments.hpp"
#include "preview/images.hpp"
#include "serve_process.hpp"
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

// A start whose data names a scanned letter.
const char* kScanned = R"({
  "id": "t.scanned", "version": 1,
  "dataSchema": {"type": "object", "properties": {
    "scan": {"type": "string", "format": "bihuan-attachment"}}},
  "initial": "OPEN",
  "states": {"OPEN": {"on": {"close": {"target": "DONE"}}},
             "DONE": {"type": "final", "outcome": "done"}}
})";

class AttachmentsTest : public ServerTest {
 protected:
  void SetUp() override {
    ServerTest::SetUp();
    for (const char* doc : {kEvidence, kScanned}) {
      auto res = engine_->deploy(json::parse(doc), "evidence");
      ASSERT_TRUE(res.ok) << (res.problems.items().empty() ? ""
                                                           : res.problems.items()[0].to_string());
    }
  }
  std::string stored_path(const std::string& address) const {
    std::string hex = address.substr(7);
    return dir_ + "/data/attachments/sha256/" + hex.substr(0, 2) + "/" + hex.substr(2, 2) + "/" +
           hex;
  }
  ServerConfig config_with_other() const {
    ServerConfig c = config();
    c.tokens.push_back(
        {"other", ServerConfig::hash_token("other-token"), Actor{"other-1", {"clerk"}}, 0, 0});
    return c;
  }
  // A clerk's evidence case (t.evidence) with `photos` submitted: its id, or "" and a
  // test failure when the start or the step is refused.
  static std::string submitted_case(HttpClient& clerk, const json& photos) {
    auto s = clerk.post("/v1/instances",
                        {{"definition", "t.evidence"}, {"data", {{"owner", "clerk-1"}}}});
    EXPECT_EQ(s.status, 201) << s.body;
    std::string id = s.json_body().value("id", "");
    auto e = clerk.post("/v1/instances/" + id + "/events",
                        {{"event", "submit"}, {"payload", {{"photos", photos}}}});
    EXPECT_EQ(e.status, 200) << e.body;
    return s.status == 201 && e.status == 200 ? id : "";
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
  std::string id = submitted_case(clerk, {a, b});
  ASSERT_FALSE(id.empty());

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
  // Named by a step: in the reference index, which the orphan sweep asks.
  EXPECT_EQ(attachment_named(*engine_, a), std::optional<bool>(true));
  EXPECT_EQ(attachment_named(*engine_, missing), std::optional<bool>(false));
}

TEST_F(AttachmentsTest, StartDataNamingAFileNotStoredIsRefusedWithItsPointer) {
  serve();
  HttpClient clerk(port_, "clerk-token");
  std::string missing = "sha256:" + std::string(64, 'd');
  auto r =
      clerk.post("/v1/instances", {{"definition", "t.scanned"}, {"data", {{"scan", missing}}}});
  EXPECT_EQ(r.status, 422) << r.body;
  EXPECT_NE(r.body.find("/data/scan"), std::string::npos) << r.body;
  EXPECT_NE(r.body.find("not stored"), std::string::npos) << r.body;
  auto bad =
      clerk.post("/v1/instances", {{"definition", "t.scanned"}, {"data", {{"scan", "x.pdf"}}}});
  EXPECT_EQ(bad.status, 422) << bad.body;
  std::string scan = upload(clerk, samples::pdf()).json_body()["address"];
  auto ok = clerk.post("/v1/instances", {{"definition", "t.scanned"}, {"data", {{"scan", scan}}}});
  EXPECT_EQ(ok.status, 201) << ok.body;
  EXPECT_EQ(attachment_named(*engine_, scan), std::optional<bool>(true))
      << "named by the start: in the reference index";
}

TEST_F(AttachmentsTest, VerifyRehashesEveryNamedFileAndNamesEntryAndPointer) {
  serve();
  HttpClient clerk(port_, "clerk-token"), admin(port_, "admin-token");
  std::string a = upload(clerk, samples::png(21)).json_body()["address"];
  std::string b = upload(clerk, samples::png(22)).json_body()["address"];
  std::string scan = upload(clerk, samples::pdf()).json_body()["address"];
  auto s1 = clerk.post("/v1/instances", {{"definition", "t.scanned"}, {"data", {{"scan", scan}}}});
  ASSERT_EQ(s1.status, 201) << s1.body;
  std::string scanned = s1.json_body()["id"];
  auto s2 =
      clerk.post("/v1/instances", {{"definition", "t.evidence"}, {"data", {{"owner", "clerk-1"}}}});
  ASSERT_EQ(s2.status, 201) << s2.body;
  std::string id = s2.json_body()["id"];
  ASSERT_EQ(clerk
                .post("/v1/instances/" + id + "/events",
                      {{"event", "submit"}, {"payload", {{"photos", {a, b}}}}})
                .status,
            200);
  auto intact = admin.get("/v1/verify");
  ASSERT_EQ(intact.status, 200) << intact.body;
  EXPECT_TRUE(intact.json_body()["ok"].get<bool>()) << intact.body;

  // Damage: photo a's bytes change (same size), the scan is deleted; b stays intact.
  std::filesystem::permissions(stored_path(a), std::filesystem::perms::owner_write,
                               std::filesystem::perm_options::add);
  {
    std::fstream f(stored_path(a), std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(40);
    f.put('\x7f');
  }
  std::filesystem::remove(stored_path(scan));
  auto damaged = admin.get("/v1/verify");
  ASSERT_EQ(damaged.status, 200) << damaged.body;
  json rep = damaged.json_body();
  EXPECT_FALSE(rep["ok"].get<bool>());
  std::vector<json> found;
  for (const auto& p : rep["problems"])
    if (p["kind"] == "attachment") found.push_back(p);
  ASSERT_EQ(found.size(), 2u) << damaged.body;
  std::string corrupt, gone;
  for (const auto& p : found) (p["key"] == id ? corrupt : gone) = p["text"].get<std::string>();
  EXPECT_NE(corrupt.find("entry 2: /payload/photos/0 names " + a), std::string::npos) << corrupt;
  EXPECT_NE(corrupt.find("corrupt"), std::string::npos) << corrupt;
  EXPECT_NE(gone.find("instance " + scanned + ": entry 1: /data/scan names " + scan),
            std::string::npos)
      << gone;
  EXPECT_NE(gone.find("not stored"), std::string::npos) << gone;
  EXPECT_EQ(damaged.body.find(b), std::string::npos) << "b is intact";
}

TEST_F(AttachmentsTest, ABackupHoldsTheFilesAndVerifiesOnItsOwn) {
  SKIP_ON_PG("Bihuan's own backup (PostgreSQL: pg_basebackup)");
  serve();
  HttpClient clerk(port_, "clerk-token"), admin(port_, "admin-token");
  std::string a = upload(clerk, samples::png(31)).json_body()["address"];
  std::string b = upload(clerk, samples::jpeg()).json_body()["address"];
  std::string unnamed = upload(clerk, samples::png(32)).json_body()["address"];
  std::string id = submitted_case(clerk, {a, b});
  ASSERT_FALSE(id.empty());
  auto backup = admin.post("/v1/backup", {{"dir", "evidence"}});
  ASSERT_EQ(backup.status, 200) << backup.body;
  std::string copy = dir_ + "/data-backups/evidence";
  std::string hex = unnamed.substr(7);
  EXPECT_TRUE(std::filesystem::exists(copy + "/attachments/pending/" + hex))
      << "the orphan candidate keeps its marker in the copy";
  EXPECT_TRUE(std::filesystem::exists(copy + "/attachments/sha256/" + hex.substr(0, 2) + "/" +
                                      hex.substr(2, 2) + "/" + hex + ".json"));
  Problems problems;
  EngineOptions eo;
  eo.data_dir = copy;
  auto restored = Engine::open(eo, problems);
  ASSERT_TRUE(restored) << (problems.items().empty() ? "" : problems.items()[0].to_string());
  VerifyReport clean = restored->verify();
  EXPECT_TRUE(clean.ok()) << (clean.broken.empty() ? "" : clean.broken[0]);
  EXPECT_EQ(clean.instances, 1u);
  // The copy's files are the ones checked: damage one there, the original stays clean.
  std::string ahex = a.substr(7);
  std::filesystem::remove(copy + "/attachments/sha256/" + ahex.substr(0, 2) + "/" +
                          ahex.substr(2, 2) + "/" + ahex);
  VerifyReport damaged = restored->verify();
  ASSERT_EQ(damaged.problems.size(), 1u);
  EXPECT_EQ(damaged.problems[0].kind, "attachment");
  EXPECT_NE(damaged.problems[0].text.find("/payload/photos/0 names " + a), std::string::npos)
      << damaged.problems[0].text;
  restored->close();
  EXPECT_TRUE(admin.get("/v1/verify").json_body()["ok"].get<bool>());
}

// The files in <data>/attachments/tmp (streamed uploads being written).
std::size_t temp_files(const std::string& data) {
  std::size_t n = 0;
  std::error_code ec;
  for (auto& e : std::filesystem::directory_iterator(data + "/attachments/tmp", ec))
    n += e.is_regular_file();
  return n;
}

// Sends a request's head and `body` on a raw socket; answers the socket (still open).
std::unique_ptr<boost::asio::ip::tcp::socket> send_raw(boost::asio::io_context& io,
                                                       std::uint16_t port, const std::string& head,
                                                       const std::string& body) {
  auto sock = std::make_unique<boost::asio::ip::tcp::socket>(io);
  sock->connect({boost::asio::ip::make_address("127.0.0.1"), port});
  // A server that refuses the body (over the limit) may answer and close before all of it
  // is written: the write then fails (EPIPE, ECONNRESET) but the answer is there to read.
  // So write errors are not thrown; the caller's read tells what happened.
  boost::beast::error_code ignored;
  boost::asio::write(*sock, boost::asio::buffer(head), ignored);
  if (!ignored) boost::asio::write(*sock, boost::asio::buffer(body), ignored);
  return sock;
}

// send_raw, then the answer read into `res` (the body sent may be less than the head
// announces); the read's error.
boost::beast::error_code exchange_raw(std::uint16_t port, const std::string& head,
                                      const std::string& body,
                                      http::response<http::string_body>& res) {
  boost::asio::io_context io;
  auto sock = send_raw(io, port, head, body);
  boost::beast::flat_buffer buf;
  boost::beast::error_code ec;
  http::read(*sock, buf, res, ec);
  return ec;
}

TEST_F(AttachmentsTest, AStreamedUploadOverTheLimitLeavesNoTempFile) {
  ServerConfig cfg = config();
  cfg.attachments.max_bytes = 100000;
  serve(cfg);
  // Chunked: the size is known only while reading; the read stops at the limit.
  std::string chunk = samples::png(60000);
  std::ostringstream body;
  for (int i = 0; i < 2; ++i) body << std::hex << chunk.size() << "\r\n" << chunk << "\r\n";
  body << "0\r\n\r\n";
  http::response<http::string_body> res;
  auto ec = exchange_raw(port_,
                         "POST /v1/attachments HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer "
                         "clerk-token\r\nTransfer-Encoding: chunked\r\n\r\n",
                         body.str(), res);
  ASSERT_FALSE(ec) << ec.message();
  EXPECT_EQ(res.result_int(), 413u) << res.body();
  EXPECT_NE(res.body().find("attachment-too-large"), std::string::npos) << res.body();
  HttpClient c(port_, "clerk-token");
  EXPECT_EQ(upload(c, "words, not a photo\n").status, 415);
  EXPECT_EQ(upload(c, samples::png(70000)).status, 201) << "under the limit: stored";
  EXPECT_EQ(temp_files(dir_ + "/data"), 0u) << "refused uploads leave nothing in tmp/";
}

TEST_F(AttachmentsTest, KillNineDuringAnUploadLosesNothingAcknowledgedAndLeavesNoHalfFile) {
  std::string data = dir_ + "/served";
  std::vector<std::string> args = {"--listen", "127.0.0.1:0", "--data-dir", data, "--no-workflows"};
  ServeProcess first;
  ASSERT_TRUE(first.start(args, dir_ + "/first.log")) << first.text();
  std::string token;
  std::getline(std::ifstream(data + "/dev-admin-token") >> std::ws, token);
  ASSERT_GE(token.size(), 32u);
  HttpClient c(first.port, token);
  std::vector<std::string> acknowledged;
  for (std::size_t pad : {1000u, 200000u, 3000000u}) {
    auto r = upload(c, samples::png(pad));
    ASSERT_EQ(r.status, 201) << r.body;
    acknowledged.push_back(r.json_body()["address"]);
  }
  // An 8 MiB upload, half sent: the server is killed while its temp file is being written.
  const std::size_t total = 8u << 20, half = 4u << 20;
  boost::asio::io_context io;
  auto sock = send_raw(io, first.port,
                       "POST /v1/attachments HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " +
                           token + "\r\nContent-Length: " + std::to_string(total) + "\r\n\r\n",
                       samples::png(half - 33));
  // The server writes whole 64 KiB pieces: up to one piece may still be in its buffer.
  const std::uintmax_t enough = half - (64u << 10);
  std::uintmax_t written = 0;
  for (int i = 0; i < 3000 && written < enough; ++i) {  // polling the server's I/O, up to 30 s
    written = 0;
    std::error_code ec;
    for (auto& e : std::filesystem::directory_iterator(data + "/attachments/tmp", ec))
      written = std::max(written, e.file_size(ec));
    if (written < enough) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  ASSERT_GE(written, enough) << "the half upload reached tmp/";
  ASSERT_LE(written, half);
  first.kill9();
  EXPECT_EQ(temp_files(data), 1u) << "the half file is there until the restart";

  ServeProcess again;
  ASSERT_TRUE(again.start(args, dir_ + "/again.log")) << again.text();
  EXPECT_EQ(temp_files(data), 0u) << "tmp/ emptied at start";
  std::size_t stored = 0;
  for (auto& e : std::filesystem::recursive_directory_iterator(data + "/attachments/sha256"))
    stored += e.is_regular_file() && e.path().extension() != ".json";
  EXPECT_EQ(stored, 3u) << "no half file under an address";
  for (const auto& a : acknowledged)
    EXPECT_EQ(AttachmentStore::check_file(data, a), AttachmentStore::Check::ok) << a;
  HttpClient c2(again.port, token);
  auto v = c2.get("/v1/verify");
  ASSERT_EQ(v.status, 200) << v.body;
  EXPECT_TRUE(v.json_body()["ok"].get<bool>()) << v.body;
  EXPECT_EQ(upload(c2, samples::png(1000)).status, 200) << "still stored: answered as existing";
  EXPECT_EQ(again.stop(), 0);
}

// The console judges "overdue" at the engine's clock: /v1/me answers it (RFC 3339, ms).
TEST_F(AttachmentsTest, MeAnswersTheEnginesClockWithMilliseconds) {
  serve();
  HttpClient clerk(port_, "clerk-token");
  auto before = std::chrono::time_point_cast<Millis>(engine_->clock().now());
  auto me = clerk.get("/v1/me");
  auto after = engine_->clock().now();
  ASSERT_EQ(me.status, 200) << me.body;
  std::string now = me.json_body()["now"];
  EXPECT_EQ(now.size(), 24u) << now;  // 2026-12-05T22:20:56.123Z
  EXPECT_EQ(now.back(), 'Z') << now;
  auto at = parse_time(now);
  ASSERT_TRUE(at) << now;
  EXPECT_LE(before, *at);
  EXPECT_LE(*at, after);
}

TEST_F(AttachmentsTest, APreviewOfAnImageHasTheFilesRightsAndStandsUpright) {
  serve(config_with_other());
  HttpClient clerk(port_, "clerk-token"), other(port_, "other-token"), admin(port_, "admin-token");
  // A phone photo stored landscape with "turn 90 degrees clockwise" in its EXIF.
  std::string photo = images::jpeg(
      1200, 800, [](unsigned x, unsigned y) { return images::red_blue(x, y, 1200); }, 6);
  auto up = upload(clerk, photo, "image/jpeg");
  ASSERT_EQ(up.status, 201) << up.body;
  EXPECT_EQ(up.json_body()["preview"], true);
  std::string a = up.json_body()["address"];
  auto pdf = upload(clerk, samples::pdf());
  EXPECT_EQ(pdf.json_body()["preview"], false);
  std::string b = pdf.json_body()["address"];
  std::string broken = upload(clerk, samples::jpeg()).json_body()["address"];  // a header only
  std::string unnamed = upload(clerk, images::jpeg(50, 50,
                                                   [](unsigned, unsigned) {
                                                     return images::Pixel{9, 9, 9};
                                                   }))
                            .json_body()["address"];
  std::string id = submitted_case(clerk, {a, b, broken});
  ASSERT_FALSE(id.empty());

  std::string path = "/v1/instances/" + id + "/attachments/";
  for (HttpClient* c : {&clerk, &admin}) {
    auto p = c->get(path + a + "/preview");
    ASSERT_EQ(p.status, 200) << p.body;
    EXPECT_EQ(p.header("Content-Type"), "image/jpeg");
    EXPECT_EQ(p.header("X-Content-Type-Options"), "nosniff");
    auto d = images::decode(p.body);
    EXPECT_EQ(d.width, 213u);
    EXPECT_EQ(d.height, 320u);
    EXPECT_TRUE(images::reddish(d.at(100, 30))) << "the photo's left side is up";
    EXPECT_TRUE(images::bluish(d.at(100, 290)));
    EXPECT_LT(p.body.size(), photo.size() / 4);
    EXPECT_EQ(c->get(path + a + "/preview", {{"If-None-Match", p.header("ETag")}}).status, 304);
  }
  auto none = clerk.get(path + b + "/preview");
  EXPECT_EQ(none.status, 404) << none.body;
  EXPECT_EQ(none.json_body()["code"], "no-preview");
  auto bad = clerk.get(path + broken + "/preview");
  EXPECT_EQ(bad.status, 422) << bad.body;
  EXPECT_EQ(bad.json_body()["code"], "no-preview");
  EXPECT_EQ(bad.json_body()["errors"][0]["pointer"], "path:address") << bad.body;
  // The same refusals as the file itself.
  auto hidden = other.get(path + a + "/preview");
  EXPECT_EQ(hidden.status, 404);
  EXPECT_EQ(hidden.json_body()["code"], "not-found");
  EXPECT_EQ(clerk.get(path + unnamed + "/preview").status, 404);
  EXPECT_EQ(admin.get(path + unnamed + "/preview").status, 404);
  EXPECT_EQ(clerk.get(path + "sha256:xyz/preview").status, 400);
  HttpClient anonymous(port_);
  EXPECT_EQ(anonymous.get(path + a + "/preview").status, 401);
}

TEST_F(AttachmentsTest, AnUploadWithoutAValidTokenIsRefusedBeforeItsBodyIsRead) {
  serve();
  for (const char* auth : {"", "Authorization: Bearer wrong-token\r\n"}) {
    // The head announces 5 MB and only 1 KB follows: the answer must not wait for the rest.
    http::response<http::string_body> res;
    auto ec = exchange_raw(port_,
                           std::string("POST /v1/attachments HTTP/1.1\r\nHost: x\r\n") + auth +
                               "Content-Type: image/png\r\nContent-Length: 5000000\r\n\r\n",
                           samples::png(1000), res);
    ASSERT_FALSE(ec) << ec.message();
    EXPECT_EQ(res.result_int(), 401u) << res.body();
    EXPECT_FALSE(res.keep_alive()) << "the unread body would be taken for the next request";
    EXPECT_EQ(temp_files(dir_ + "/data"), 0u);
  }
  HttpClient c(port_, "clerk-token");
  EXPECT_EQ(upload(c, samples::png(3)).status, 201) << "a valid token still uploads";
}

TEST_F(AttachmentsTest, AFileTheStoreCannotGiveIsA503NotAMissingFile) {
  serve();
  HttpClient clerk(port_, "clerk-token");
  std::string a = upload(clerk, samples::png(11)).json_body()["address"];
  std::string b = upload(clerk, samples::png(12)).json_body()["address"];
  std::string id = submitted_case(clerk, {a, b});
  ASSERT_FALSE(id.empty());
  // a: in place of the file, something that cannot be read as one (a damaged disk's EIO).
  std::filesystem::remove(stored_path(a));
  std::filesystem::create_directory(stored_path(a));
  std::filesystem::remove(stored_path(b));  // b: simply not there
  std::string path = "/v1/instances/" + id + "/attachments/";
  for (std::string suffix : {"", "/preview"}) {
    auto broken = clerk.get(path + a + suffix);
    EXPECT_EQ(broken.status, 503) << suffix << broken.body;
    EXPECT_EQ(broken.json_body()["code"], "attachment-store-failed");
    EXPECT_EQ(broken.header("Retry-After"), "5");
    auto gone = clerk.get(path + b + suffix);
    EXPECT_EQ(gone.status, 404) << suffix << gone.body;
    EXPECT_EQ(gone.json_body()["code"], "attachment-missing");
  }
}

}  // namespace
}  // namespace bihuan::test
