// JWT bearer tokens through the real server: RS256 and ES256 tokens signed with keys the
// test generated are accepted and their claims become the caller (GET /v1/me); every
// forged, stale or foreign token is a 401 problem whose detail names the failed check,
// never echoes the token, and is counted and logged as a refusal.
#include "identity_fixture.hpp"
#include "server_fixture.hpp"

using namespace bihuan;
using namespace bihuan::test;

namespace {

struct Refused {
  const char* name;
  std::string token;
  const char* reason;  // errors[0].code and the metrics label
  const char* words;   // in the detail
};

}  // namespace

TEST_F(IdentityTest, Rs256AndEs256TokensAreAcceptedAndTheirClaimsMapToTheCaller) {
  serve();
  HttpClient rs(port_, make_jwt(rsa_, claims()));
  auto me = rs.get("/v1/me");
  ASSERT_EQ(me.status, 200) << me.body;
  json j = me.json_body();
  EXPECT_EQ(j["id"], "CD0022");
  EXPECT_EQ(j["roles"], json({"CADRE"}));
  EXPECT_EQ(j["attrs"], json({{"unit", "golmud/T03/V12"}, {"station", "ST01"}}));
  EXPECT_EQ(j["token"], "jwt:CD0022");

  json c = claims();
  c["sub"] = "ST01";
  c["aud"] = {"other", "console"};  // any configured audience will do
  c["realm_access"]["roles"] = {"STATION", "INSPECTOR"};
  c.erase("org_path");
  HttpClient es(port_, make_jwt(ec_, c));
  me = es.get("/v1/me");
  ASSERT_EQ(me.status, 200) << me.body;
  j = me.json_body();
  EXPECT_EQ(j["id"], "ST01");
  EXPECT_EQ(j["roles"], json({"STATION", "INSPECTOR"}));
  EXPECT_EQ(j["attrs"], json({{"station", "ST01"}}));

  // Without a kid: accepted when exactly one configured key fits the alg.
  HttpClient nokid(port_, make_jwt(rsa_, claims(), {{"kid", nullptr}}));
  EXPECT_EQ(nokid.get("/v1/me").status, 200);
  // Opaque tokens keep working beside JWTs, with their attributes.
  auto office = HttpClient(port_, "office-token").get("/v1/me").json_body();
  EXPECT_EQ(office["attrs"], json({{"unit", "golmud/T03"}, {"level", "township"}}));
}

TEST_F(IdentityTest, EveryBadJwtIsA401NamingTheCheckThatFailed) {
  serve();
  auto with = [](json c, std::initializer_list<std::pair<const char*, json>> changes) {
    for (const auto& [k, v] : changes) {
      if (v.is_null())
        c.erase(k);
      else
        c[k] = v;
    }
    return c;
  };
  TestKey stranger = TestKey::rsa("r1");  // same kid, another key
  std::string good = make_jwt(rsa_, claims());
  std::string tampered;
  {
    auto d1 = good.find('.'), d2 = good.find('.', d1 + 1);
    json c = claims();
    c["realm_access"]["roles"] = {"admin"};
    tampered = good.substr(0, d1 + 1) + b64url(c.dump()) + good.substr(d2);
  }
  std::vector<Refused> cases = {
      {"expired", make_jwt(rsa_, with(claims(), {{"exp", kT0 - 61}})), "jwt-expired", "expired"},
      {"not yet valid", make_jwt(rsa_, with(claims(), {{"nbf", kT0 + 600}})), "jwt-not-yet-valid",
       "not valid yet"},
      {"issued in the future", make_jwt(ec_, with(claims(), {{"iat", kT0 + 600}})),
       "jwt-issued-in-future", "issued in the future"},
      {"wrong audience", make_jwt(rsa_, with(claims(), {{"aud", "someone-else"}})), "jwt-audience",
       "audience"},
      {"no audience", make_jwt(rsa_, with(claims(), {{"aud", nullptr}})), "jwt-audience",
       "audience"},
      {"wrong issuer", make_jwt(rsa_, with(claims(), {{"iss", "https://evil.test"}})), "jwt-issuer",
       "issuer"},
      {"no expiry", make_jwt(ec_, with(claims(), {{"exp", nullptr}})), "jwt-expiry-missing",
       "expiry"},
      {"tampered payload", tampered, "jwt-signature", "signature"},
      {"signed by another key", make_jwt(stranger, claims()), "jwt-signature", "signature"},
      {"unknown kid", make_jwt(rsa_, claims(), {{"kid", "r9"}}), "jwt-unknown-kid", "kid"},
      {"alg none", unsigned_jwt(claims(), {{"kid", "r1"}}), "jwt-alg-none", "none"},
      {"HS256 with the RSA public key as secret",
       hs256_jwt(rsa_.public_pem(), claims(), {{"kid", "r1"}}), "jwt-alg-hmac", "HMAC"},
      {"ES256 header on the RSA key", make_jwt(rsa_, claims(), {{"alg", "ES256"}}),
       "jwt-alg-key-mismatch", "does not match"},
      {"RS512", make_jwt(rsa_, claims(), {{"alg", "RS512"}}), "jwt-alg", "RS256 or ES256"},
      {"missing actor claim", make_jwt(rsa_, with(claims(), {{"sub", nullptr}})),
       "jwt-actor-missing", "sub"},
      {"the engine's own actor", make_jwt(rsa_, with(claims(), {{"sub", "system"}})),
       "jwt-actor-reserved", "engine"},
      {"attribute of the wrong type", make_jwt(rsa_, with(claims(), {{"station", {{"x", 1}}}})),
       "jwt-claim-type", "station"},
      {"broken base64url", "e$J.eyJ.c2ln", "jwt-malformed", "header"},
      {"payload not JSON", b64url("{\"alg\":\"RS256\"}") + "." + b64url("not json") + ".c2ln",
       "jwt-malformed", "payload"},
  };
  for (const auto& c : cases) {
    HttpClient client(port_, c.token);
    auto r = client.get("/v1/me");
    EXPECT_EQ(r.status, 401) << c.name << ": " << r.body;
    EXPECT_EQ(r.header("Content-Type"), "application/problem+json") << c.name;
    json p = r.json_body();
    EXPECT_NE(p.value("detail", "").find(c.words), std::string::npos) << c.name << ": " << r.body;
    ASSERT_TRUE(p["errors"].is_array()) << c.name;
    EXPECT_EQ(p["errors"][0]["code"], c.reason) << c.name << ": " << r.body;
    EXPECT_EQ(r.body.find(c.token.substr(0, c.token.find('.'))), std::string::npos)
        << c.name << ": the token is echoed";
    EXPECT_NE(r.header("WWW-Authenticate").find("invalid_token"), std::string::npos) << c.name;
  }
  // Counted by reason, and one log line each, none with the token.
  std::string metrics = HttpClient(port_, "admin-token").get("/metrics").body;
  EXPECT_NE(metrics.find("bihuan_http_refused_total{reason=\"jwt-signature\"} 2"),
            std::string::npos)
      << metrics;
  EXPECT_NE(metrics.find("bihuan_http_refused_total{reason=\"jwt-alg-hmac\"} 1"),
            std::string::npos);
  auto lines = log_lines("request refused");
  ASSERT_EQ(lines.size(), cases.size());
  EXPECT_EQ(lines[0]["actor"], "anonymous");
  EXPECT_EQ(lines[0]["method"], "GET");
  EXPECT_EQ(lines[0]["route"], "/v1/me");
  EXPECT_EQ(lines[0]["status"], 401);
  EXPECT_EQ(lines[0]["reason"], "jwt-expired");
  std::lock_guard lock(log_mu_);
  for (const auto& c : cases) {
    std::string sig = c.token.substr(c.token.rfind('.') + 1);
    if (sig.size() < 16) continue;
    for (const auto& l : log_) EXPECT_EQ(l.find(sig), std::string::npos) << c.name;
  }
}

TEST_F(IdentityTest, ExpiryFollowsTheEngineClockWithItsLeeway) {
  serve();
  HttpClient c(port_, make_jwt(ec_, [] {
                 json j = claims();
                 j["exp"] = kT0 + 100;
                 return j;
               }()));
  EXPECT_EQ(c.get("/v1/me").status, 200);
  clock_->advance(std::chrono::seconds(159));  // within the 60 s leeway
  EXPECT_EQ(c.get("/v1/me").status, 200);
  clock_->advance(std::chrono::seconds(1));
  auto r = c.get("/v1/me");
  EXPECT_EQ(r.status, 401);
  EXPECT_EQ(r.json_body()["errors"][0]["code"], "jwt-expired");
}

TEST_F(IdentityTest, ForbiddenIsCountedAndLoggedWithTheActor) {
  serve();
  HttpClient clerk(port_, "clerk-token");
  auto r = clerk.post("/v1/admin/identity/reload", json::object());
  EXPECT_EQ(r.status, 403) << r.body;
  // A unit administrator is no global administrator.
  json c = claims();
  c["realm_access"]["roles"] = {"admin"};
  HttpClient unit_admin(port_, make_jwt(rsa_, c));
  r = unit_admin.post("/v1/admin/identity/reload", json::object());
  EXPECT_EQ(r.status, 403) << r.body;
  EXPECT_EQ(r.json_body()["type"], "https://bihuan.dev/problems/global-admin-required");
  auto lines = log_lines("request refused");
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_EQ(lines[0]["actor"], "clerk-1");
  EXPECT_EQ(lines[0]["token"], "clerk");
  EXPECT_EQ(lines[0]["route"], "/v1/admin/identity/reload");
  EXPECT_EQ(lines[0]["status"], 403);
  EXPECT_EQ(lines[1]["actor"], "CD0022");
  EXPECT_EQ(lines[1]["reason"], "global-admin-required");
  std::string metrics = server_->metrics_text();
  EXPECT_NE(metrics.find("bihuan_http_refused_total{reason=\"global-admin-required\"} 2"),
            std::string::npos)
      << metrics;
  // A missing token on a token route too.
  EXPECT_EQ(HttpClient(port_).get("/v1/me").status, 401);
  EXPECT_NE(server_->metrics_text().find("bihuan_http_refused_total{reason=\"missing-token\"} 1"),
            std::string::npos);
}

TEST_F(IdentityTest, BadJwtSettingsAndKeysAreRefusedAtStartWithTheirPointers) {
  json doc = identity_doc();
  doc["jwt"].erase("issuer");
  doc["jwt"]["audience"] = 7;
  doc["jwt"]["claims"]["attrs"]["unit"] = "a..b";
  write_identity(doc);
  json weak = rsa_.jwk();
  {
    TestKey small{std::shared_ptr<EVP_PKEY>(EVP_RSA_gen(1024), EVP_PKEY_free), false, "small"};
    weak = small.jwk();
  }
  json off_curve = ec_.jwk();
  off_curve["kid"] = "e2";
  off_curve["y"] = off_curve["x"];
  write_jwks({rsa_.jwk(), weak, off_curve, {{"kty", "OKP"}, {"crv", "Ed25519"}, {"x", "AA"}}});
  Problems problems;
  auto s = Server::start(*engine_, config(), {}, problems);
  EXPECT_FALSE(s);
  std::set<std::string> where;
  for (const auto& p : problems.items())
    if (p.severity == Severity::error) where.insert(p.file + "#" + p.pointer);
  std::string id = dir_ + "/identity.json#", jwks = dir_ + "/jwks.json#";
  EXPECT_TRUE(where.count(id + "/jwt/issuer")) << ::testing::PrintToString(where);
  EXPECT_TRUE(where.count(id + "/jwt/audience"));
  EXPECT_TRUE(where.count(id + "/jwt/claims/attrs/unit"));
  EXPECT_TRUE(where.count(jwks + "/keys/1/n")) << "RSA-1024 is too weak";
  EXPECT_TRUE(where.count(jwks + "/keys/2")) << "not a point on P-256";
  EXPECT_EQ(where.size(), 5u) << ::testing::PrintToString(where);
}

TEST(ServerConfigTokens, AttributesAreCheckedWithTheirPointers) {
  Problems p;
  auto c = ServerConfig::from_json(
      {{"tokens",
        {{{"name", "a"},
          {"sha256", ServerConfig::hash_token("a")},
          {"actor", "a"},
          {"attrs",
           {{"unit", "golmud"}, {"n", 3}, {"ok", true}, {"stations", {"ST01", "ST02"}}}}}}}},
      "", "/server", p);
  ASSERT_TRUE(c);
  EXPECT_EQ(c->tokens[0].actor.attrs["stations"], json({"ST01", "ST02"}));
  EXPECT_EQ(c->tokens[0].actor.unit(), "golmud");

  Problems bad;
  EXPECT_FALSE(ServerConfig::from_json(
      {{"tokens",
        {{{"name", "a"},
          {"sha256", ServerConfig::hash_token("a")},
          {"actor", "a"},
          {"attrs", {{"unit", 5}, {"deep", {{"x", 1}}}, {"mixed", {"a", 1}}}}}}}},
      "", "/server", bad));
  std::set<std::string> where;
  for (const auto& it : bad.items()) where.insert(it.pointer);
  EXPECT_EQ(where,
            (std::set<std::string>{"/server/tokens/0/attrs/unit", "/server/tokens/0/attrs/deep",
                                   "/server/tokens/0/attrs/mixed"}));
  Problems file;
  auto f =
      ServerConfig::from_json({{"identityFile", "identity.json"}}, "/etc/bihuan", "/server", file);
  ASSERT_TRUE(f);
  EXPECT_EQ(f->identity_file, "/etc/bihuan/identity.json");
}

// A step the engine refuses for the caller's role (403 from the step result) is audited
// with the JWT caller's id and the step's problem code.
TEST_F(IdentityTest, AStepRefusedForTheRoleIsAuditedWithTheCaller) {
  ASSERT_TRUE(engine_->deploy(json::parse(kCounterDefinition), "counter").ok);
  serve();
  auto started = HttpClient(port_, "admin-token")
                     .post("/v1/instances", {{"definition", "t.counter"}, {"data", {{"n", 0}}}});
  ASSERT_EQ(started.status, 201) << started.body;
  std::string id = started.json_body()["id"];
  auto r = HttpClient(port_, make_jwt(rsa_, claims()))
               .post("/v1/instances/" + id + "/events", {{"event", "bump"}});
  ASSERT_EQ(r.status, 403) << r.body;
  auto lines = log_lines("request refused");
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_EQ(lines[0]["actor"], "CD0022");
  EXPECT_EQ(lines[0]["token"], "jwt:CD0022");
  EXPECT_EQ(lines[0]["method"], "POST");
  EXPECT_EQ(lines[0]["route"], "/v1/instances/{id}/events");
  EXPECT_EQ(lines[0]["reason"], "role-not-allowed");
  EXPECT_NE(
      server_->metrics_text().find("bihuan_http_refused_total{reason=\"role-not-allowed\"} 1"),
      std::string::npos);
}

// The console's sign-in through the identity provider (docs/console.md): the identity
// file's jwt.signIn is told to anyone by GET /v1/auth/sign-in, the console's CSP lets the
// page reach the token endpoint's origin and no other, and a reload that drops the
// provider takes both away. Bad settings are refused with their pointers.
TEST_F(IdentityTest, TheSignInProviderIsToldOpenlyAndItsTokenEndpointJoinsTheCsp) {
  json doc = identity_doc();
  doc["jwt"]["signIn"] = {{"authorizationEndpoint", "https://sso.test/auth?realm=x"},
                          {"tokenEndpoint", "https://sso.test:8443/token"},
                          {"clientId", "bihuan-console"},
                          {"title", {{"zh", "统一身份认证"}, {"en", "SSO"}}}};
  write_identity(doc);
  serve();
  HttpClient anon(port_, "");
  auto r = anon.get("/v1/auth/sign-in");
  ASSERT_EQ(r.status, 200) << r.body;
  json p = r.json_body()["provider"];
  EXPECT_EQ(p["authorizationEndpoint"], "https://sso.test/auth?realm=x");
  EXPECT_EQ(p["tokenEndpoint"], "https://sso.test:8443/token");
  EXPECT_EQ(p["clientId"], "bihuan-console");
  EXPECT_EQ(p["scope"], "openid");
  EXPECT_EQ(p["title"]["zh"], "统一身份认证");
  std::string csp = anon.get("/").header("Content-Security-Policy");
  EXPECT_NE(csp.find("connect-src 'self' https://sso.test:8443;"), std::string::npos) << csp;

  doc["jwt"].erase("signIn");
  write_identity(doc);
  HttpClient admin(port_, "admin-token");
  ASSERT_EQ(admin.post("/v1/admin/identity/reload", json::object()).status, 200);
  EXPECT_TRUE(anon.get("/v1/auth/sign-in").json_body()["provider"].is_null());
  csp = anon.get("/").header("Content-Security-Policy");
  EXPECT_NE(csp.find("connect-src 'self';"), std::string::npos) << csp;

  doc["jwt"]["signIn"] = {{"authorizationEndpoint", "javascript:alert(1)"},
                          {"tokenEndpoint", "https://user@sso.test/token"},
                          {"scope", ""},
                          {"title", 5},
                          {"extra", true}};
  write_identity(doc);
  auto refused = admin.post("/v1/admin/identity/reload", json::object());
  EXPECT_EQ(refused.status, 422) << refused.body;
  std::set<std::string> where;
  const json problem = refused.json_body();
  for (const auto& e : problem["errors"]) where.insert(e["pointer"].get<std::string>());
  for (const char* ptr :
       {"/jwt/signIn/authorizationEndpoint", "/jwt/signIn/tokenEndpoint", "/jwt/signIn/scope",
        "/jwt/signIn/title", "/jwt/signIn/extra", "/jwt/signIn/clientId"})
    EXPECT_TRUE(where.count(ptr)) << ptr << " in " << ::testing::PrintToString(where);
  EXPECT_TRUE(anon.get("/v1/auth/sign-in").json_body()["provider"].is_null()) << "unchanged";
}
