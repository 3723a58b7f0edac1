// notify.smtp, the real library the build made, against a real SMTP server on loopback
// (Debian's python3-aiosmtpd, run by /usr/bin/python3; scripts/setup.sh installs it),
// which decodes each message with Python's e-mail parser: envelope and recipients,
// Chinese subject (RFC 2047) and body (base64 and 8bit with dot-stuffing), AUTH PLAIN;
// refused recipients, a wrong password, a server that never greets (timeout), no server.
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <filesystem>

#include "child_process.hpp"
#include "plugin_support.hpp"

namespace bihuan::testing {
namespace {

using namespace std::chrono_literals;

const std::string kSubject =
    "请假审批：王五申请 3 天年假（2026 年 12 月 1 日至 3 日），请在两个工作日内处理";
const std::string kText =
    "王经理，您好：\n\n王五申请休假 3 天。\n.以点开头的一行\n..两个点\n.\n请登录系统审批。";

OutboxMessage smtp_message(std::vector<std::string> to,
                           const std::string& key = "0000000000000009:2:/states/OPEN/onEntry/0") {
  OutboxMessage m;
  m.seq = 9;
  m.kind = "notify";
  m.channel = "mail";
  m.instance_id = "0000000000000009";
  m.idempotency_key = key;
  m.body = {{"to", to},
            {"text", kText},
            {"subject", kSubject},
            {"definition", "t.notify"},
            {"state", "OPEN"}};
  return m;
}

std::string unix_lines(std::string s) {
  std::string out;
  for (std::size_t i = 0; i < s.size(); ++i)
    if (!(s[i] == '\r' && i + 1 < s.size() && s[i + 1] == '\n')) out += s[i];
  while (!out.empty() && out.back() == '\n') out.pop_back();
  return out;
}

class SmtpTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new std::string(make_temp_dir("smtp"));
    server_ = new ChildProcess(
        {"/usr/bin/python3", BIHUAN_SOURCE_DIR "/tests/plugins/smtp_server.py", log()});
    auto port = server_->read_line(60s);
    port_ = new std::string(port.value_or(""));
  }
  static void TearDownTestSuite() {
    delete server_;
    std::filesystem::remove_all(*dir_);
    delete dir_;
    delete port_;
  }
  static std::string log() { return *dir_ + "/received.jsonl"; }
  void SetUp() override {
    ASSERT_FALSE(port_->empty())
        << "the aiosmtpd server did not start: is python3-aiosmtpd installed "
           "(scripts/setup.sh) for /usr/bin/python3?";
    std::filesystem::remove(log());
  }

  std::shared_ptr<PluginObject> create(const json& config, Problems* problems = nullptr) {
    return create_bundled(lib_, "notify.smtp", "mail", config, nullptr, problems);
  }
  json config(json extra = json::object()) const {
    json c = {{"host", "127.0.0.1"},
              {"port", std::stoi(*port_)},
              {"from", "workflow@example.org"},
              {"timeoutMs", 30000}};
    c.update(extra);
    return c;
  }

  static std::string* dir_;
  static std::string* port_;
  static ChildProcess* server_;
  std::shared_ptr<PluginLibrary> lib_;
};
std::string* SmtpTest::dir_ = nullptr;
std::string* SmtpTest::port_ = nullptr;
ChildProcess* SmtpTest::server_ = nullptr;

TEST_F(SmtpTest, SendsChineseSubjectAndBodyToEveryRecipientWithAuthPlain) {
  auto mail = create(
      config({{"fromName", "闭环 工作流"}, {"username", "bihuan"}, {"password", "密码-pw"}}));
  ASSERT_TRUE(mail);
  auto r = mail->notify(smtp_message({"wang.jingli@example.org", "hr@example.com"}), 1);
  ASSERT_TRUE(r.ok()) << r.body;
  auto got = read_json_lines(log());
  ASSERT_EQ(got.size(), 1u);
  const json& m = got[0];
  EXPECT_EQ(m["mailFrom"], "workflow@example.org");
  EXPECT_EQ(m["rcptTos"], json::array({"wang.jingli@example.org", "hr@example.com"}));
  EXPECT_EQ(m["authenticated"], true);
  EXPECT_EQ(m["subject"], kSubject);  // decoded from RFC 2047 encoded words by Python
  EXPECT_EQ(m["from"], "闭环 工作流 <workflow@example.org>");
  EXPECT_HAS(m["to"].get<std::string>(), "wang.jingli@example.org");
  EXPECT_HAS(m["to"].get<std::string>(), "hr@example.com");
  EXPECT_EQ(m["contentType"], "text/plain");
  EXPECT_EQ(m["charset"], "utf-8");
  EXPECT_EQ(m["transferEncoding"], "base64");
  EXPECT_EQ(unix_lines(m["body"]), kText);
  EXPECT_EQ(m["bihuanKey"], "0000000000000009:2:/states/OPEN/onEntry/0");
  EXPECT_HAS(m["messageId"].get<std::string>(), "@bihuan>");
  EXPECT_FALSE(m["date"].get<std::string>().empty());
  // The raw message is 7-bit: the subject is in encoded words, folded into lines of at
  // most 78 characters; no line is over SMTP's 998.
  std::string raw = m["raw"];
  EXPECT_HAS(raw, "Subject: =?UTF-8?B?");
  EXPECT_EQ(raw.find("王五"), std::string::npos);
  bool in_subject = false;
  for (std::size_t pos = 0, nl; (nl = raw.find('\n', pos)) != std::string::npos; pos = nl + 1) {
    std::string line = raw.substr(pos, nl - pos);
    in_subject = line.rfind("Subject:", 0) == 0 || (in_subject && line.rfind(" ", 0) == 0);
    EXPECT_LE(line.size(), in_subject ? 78u : 998u) << line;
  }

  // The same key gives the same Message-ID on a retry (receivers deduplicate on it).
  ASSERT_TRUE(mail->notify(smtp_message({"wang.jingli@example.org"}), 2).ok());
  got = read_json_lines(log());
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[1]["messageId"], got[0]["messageId"]);
}

TEST_F(SmtpTest, EightBitBodyIsDotStuffedAndArrivesIntact) {
  auto mail = create(config({{"bodyEncoding", "8bit"}}));
  ASSERT_TRUE(mail);
  auto r = mail->notify(smtp_message({"a@example.org"}), 1);
  ASSERT_TRUE(r.ok()) << r.body;
  auto got = read_json_lines(log());
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0]["transferEncoding"], "8bit");
  EXPECT_EQ(got[0]["mailOptions"], json::array({"BODY=8BITMIME"}));
  EXPECT_EQ(got[0]["authenticated"], false);
  EXPECT_EQ(unix_lines(got[0]["body"]), kText);  // the lines starting with "." survived
  EXPECT_EQ(got[0]["subject"], kSubject);
}

TEST_F(SmtpTest, ARefusedRecipientFailsOrRetriesAndNobodyGetsTheMessage) {
  auto mail = create(config());
  ASSERT_TRUE(mail);
  auto r = mail->notify(smtp_message({"ok@example.org", "reject-me@example.org"}), 1);
  EXPECT_EQ(r.status, PluginResult::Status::fail) << r.body;
  EXPECT_HAS(r.body, "RCPT TO:<reject-me@example.org>");
  EXPECT_HAS(r.body, "550");
  r = mail->notify(smtp_message({"busy@example.org"}), 1);
  EXPECT_EQ(r.status, PluginResult::Status::retry) << r.body;
  EXPECT_HAS(r.body, "451");
  r = mail->notify(smtp_message({"张三"}), 1);
  EXPECT_EQ(r.status, PluginResult::Status::fail);
  EXPECT_HAS(r.body, "recipient \"张三\" is not an e-mail address");
  EXPECT_TRUE(read_json_lines(log()).empty());
}

TEST_F(SmtpTest, AWrongPasswordFailsPermanently) {
  auto mail = create(config({{"username", "bihuan"}, {"password", "wrong"}}));
  ASSERT_TRUE(mail);
  auto r = mail->notify(smtp_message({"a@example.org"}), 1);
  EXPECT_EQ(r.status, PluginResult::Status::fail) << r.body;
  EXPECT_HAS(r.body, "AUTH PLAIN");
  EXPECT_HAS(r.body, "535");
  EXPECT_TRUE(read_json_lines(log()).empty());
}

TEST_F(SmtpTest, AServerThatNeverGreetsTimesOutAndNoServerIsARetry) {
  // A socket that listens but never accepts: the connection completes, no greeting comes.
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
  ASSERT_EQ(::listen(fd, 4), 0);
  socklen_t len = sizeof a;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  int port = ntohs(a.sin_port);
  auto mail = create(config({{"port", port}, {"timeoutMs", 1000}}));
  ASSERT_TRUE(mail);
  auto t0 = std::chrono::steady_clock::now();
  auto r = mail->notify(smtp_message({"a@example.org"}), 1);
  auto elapsed = std::chrono::steady_clock::now() - t0;
  EXPECT_EQ(r.status, PluginResult::Status::retry) << r.body;
  EXPECT_HAS(r.body, "timed out");
  EXPECT_GE(elapsed, 900ms);
  EXPECT_LT(elapsed, 10s);
  ::close(fd);
  r = mail->notify(smtp_message({"a@example.org"}), 2);  // nothing listens there now
  EXPECT_EQ(r.status, PluginResult::Status::retry) << r.body;
  EXPECT_HAS(r.body, "cannot connect");
}

TEST_F(SmtpTest, BadConfigurationsAreRefused) {
  Problems p;
  EXPECT_FALSE(create({{"host", "127.0.0.1"}, {"from", "not an address"}}, &p));
  EXPECT_HAS(problems_text(p), "/plugins/mail/config/from");
  Problems p2;
  EXPECT_FALSE(create({{"host", "127.0.0.1"}, {"from", "a@b.c"}, {"username", "u"}}, &p2));
  EXPECT_HAS(problems_text(p2), "username is set but password is not");
}

}  // namespace
}  // namespace bihuan::testing
