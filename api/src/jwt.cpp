#include "jwt.hpp"

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <filesystem>
#include <set>

namespace bihuan::api {

namespace {

struct PkeyFree {
  void operator()(EVP_PKEY* p) const { EVP_PKEY_free(p); }
};

int b64_value(char c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '-') return 62;
  if (c == '_') return 63;
  return -1;
}

std::string resolve(const std::string& base, const std::string& path) {
  if (path.empty() || path[0] == '/' || base.empty()) return path;
  return (std::filesystem::path(base) / path).lexically_normal().string();
}

// The claim at a dotted path ("realm_access.roles"); nullptr when absent.
const json* claim_at(const json& claims, const std::string& path) {
  const json* cur = &claims;
  std::size_t i = 0;
  while (i <= path.size()) {
    std::size_t dot = path.find('.', i);
    if (dot == std::string::npos) dot = path.size();
    std::string part = path.substr(i, dot - i);
    if (!cur->is_object()) return nullptr;
    auto it = cur->find(part);
    if (it == cur->end()) return nullptr;
    cur = &*it;
    i = dot + 1;
  }
  return cur;
}

// A big-endian unsigned integer from a JWK member (base64url).
std::optional<std::string> jwk_bytes(const json& k, const char* member, const std::string& at,
                                     Problems& problems) {
  if (!k.contains(member) || !k[member].is_string()) {
    problems.error(at + "/" + member, "jwks-key",
                   std::string("expected \"") + member + "\", a base64url string");
    return std::nullopt;
  }
  auto bytes = base64url_decode(k[member].get<std::string>());
  if (!bytes || bytes->empty()) {
    problems.error(at + "/" + member, "jwks-key",
                   std::string("\"") + member + "\" is not valid base64url (no padding)");
    return std::nullopt;
  }
  return bytes;
}

std::shared_ptr<EVP_PKEY> make_key(const char* type, OSSL_PARAM_BLD* bld) {
  OSSL_PARAM* params = OSSL_PARAM_BLD_to_param(bld);
  EVP_PKEY_CTX* ctx = EVP_PKEY_CTX_new_from_name(nullptr, type, nullptr);
  EVP_PKEY* pkey = nullptr;
  if (ctx && params && EVP_PKEY_fromdata_init(ctx) == 1)
    EVP_PKEY_fromdata(ctx, &pkey, EVP_PKEY_PUBLIC_KEY, params);
  EVP_PKEY_CTX_free(ctx);
  OSSL_PARAM_free(params);
  return std::shared_ptr<EVP_PKEY>(pkey, PkeyFree{});
}

std::shared_ptr<EVP_PKEY> rsa_key(const std::string& n, const std::string& e) {
  BIGNUM* bn_n = BN_bin2bn(reinterpret_cast<const unsigned char*>(n.data()),
                           static_cast<int>(n.size()), nullptr);
  BIGNUM* bn_e = BN_bin2bn(reinterpret_cast<const unsigned char*>(e.data()),
                           static_cast<int>(e.size()), nullptr);
  OSSL_PARAM_BLD* bld = OSSL_PARAM_BLD_new();
  std::shared_ptr<EVP_PKEY> key;
  if (bn_n && bn_e && bld && OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, bn_n) == 1 &&
      OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, bn_e) == 1)
    key = make_key("RSA", bld);
  OSSL_PARAM_BLD_free(bld);
  BN_free(bn_n);
  BN_free(bn_e);
  return key && key.get() ? key : nullptr;
}

std::shared_ptr<EVP_PKEY> ec_key(const std::string& x, const std::string& y) {
  std::string point = "\x04" + x + y;
  OSSL_PARAM_BLD* bld = OSSL_PARAM_BLD_new();
  std::shared_ptr<EVP_PKEY> key;
  if (bld &&
      OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME, "prime256v1", 0) == 1 &&
      OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY, point.data(), point.size()) ==
          1)
    key = make_key("EC", bld);
  OSSL_PARAM_BLD_free(bld);
  if (!key || !key.get()) return nullptr;
  // The point must be on the curve (fromdata does not always check).
  EVP_PKEY_CTX* check = EVP_PKEY_CTX_new_from_pkey(nullptr, key.get(), nullptr);
  bool ok = check && EVP_PKEY_public_check(check) == 1;
  EVP_PKEY_CTX_free(check);
  return ok ? key : nullptr;
}

bool verify_signature(EVP_PKEY* key, bool ec, std::string_view signing_input,
                      const std::string& sig) {
  std::string der;
  if (ec) {
    // JWS carries r || s (32 bytes each); OpenSSL wants a DER ECDSA-Sig-Value.
    if (sig.size() != 64) return false;
    ECDSA_SIG* s = ECDSA_SIG_new();
    BIGNUM* r = BN_bin2bn(reinterpret_cast<const unsigned char*>(sig.data()), 32, nullptr);
    BIGNUM* ss = BN_bin2bn(reinterpret_cast<const unsigned char*>(sig.data()) + 32, 32, nullptr);
    if (!s || !r || !ss || ECDSA_SIG_set0(s, r, ss) != 1) {
      BN_free(r);
      BN_free(ss);
      ECDSA_SIG_free(s);
      return false;
    }
    unsigned char* out = nullptr;
    int len = i2d_ECDSA_SIG(s, &out);
    ECDSA_SIG_free(s);
    if (len <= 0) return false;
    der.assign(reinterpret_cast<char*>(out), static_cast<std::size_t>(len));
    OPENSSL_free(out);
  }
  const std::string& signature = ec ? der : sig;
  EVP_MD_CTX* md = EVP_MD_CTX_new();
  bool ok = md && EVP_DigestVerifyInit(md, nullptr, EVP_sha256(), nullptr, key) == 1 &&
            EVP_DigestVerify(md, reinterpret_cast<const unsigned char*>(signature.data()),
                             signature.size(),
                             reinterpret_cast<const unsigned char*>(signing_input.data()),
                             signing_input.size()) == 1;
  EVP_MD_CTX_free(md);
  return ok;
}

JwtRefusal refuse(std::string reason, std::string detail) {
  return {std::move(reason), "the JWT was refused: " + std::move(detail)};
}

std::optional<json> parse_part(std::string_view part) {
  auto bytes = base64url_decode(part);
  if (!bytes) return std::nullopt;
  json j = json::parse(*bytes, nullptr, false);
  if (j.is_discarded() || !j.is_object()) return std::nullopt;
  return j;
}

}  // namespace

std::optional<std::string> base64url_decode(std::string_view text) {
  if (text.size() % 4 == 1) return std::nullopt;
  std::string out;
  out.reserve(text.size() * 3 / 4);
  std::uint32_t acc = 0;
  int bits = 0;
  for (char c : text) {
    int v = b64_value(c);
    if (v < 0) return std::nullopt;
    acc = (acc << 6) | static_cast<std::uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out += static_cast<char>((acc >> bits) & 0xff);
    }
  }
  if (bits > 0 && (acc & ((1u << bits) - 1)) != 0) return std::nullopt;  // non-canonical tail
  return out;
}

std::string base64url_encode(std::string_view bytes) {
  static const char* digits = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  std::string out;
  std::uint32_t acc = 0;
  int bits = 0;
  for (unsigned char c : bytes) {
    acc = (acc << 8) | c;
    bits += 8;
    while (bits >= 6) {
      bits -= 6;
      out += digits[(acc >> bits) & 63];
    }
  }
  if (bits > 0) out += digits[(acc << (6 - bits)) & 63];
  return out;
}

bool looks_like_jwt(std::string_view token) {
  return std::count(token.begin(), token.end(), '.') == 2;
}

std::vector<JwtKey> JwtSettings::keys_from_jwks(const json& jwks, const std::string& at,
                                                Problems& problems) {
  std::vector<JwtKey> out;
  if (!jwks.is_object() || !jwks.contains("keys") || !jwks["keys"].is_array()) {
    problems.error(at, "jwks", "expected a JWKS: {\"keys\": [{\"kty\": \"RSA\", ...}]}");
    return out;
  }
  std::set<std::string> kids;
  const json& keys = jwks["keys"];
  for (std::size_t i = 0; i < keys.size(); ++i) {
    const json& k = keys[i];
    std::string ka = at + "/keys/" + std::to_string(i);
    if (!k.is_object() || !k.contains("kty") || !k["kty"].is_string()) {
      problems.error(ka, "jwks-key", "expected a JWK object with \"kty\"");
      continue;
    }
    JwtKey key;
    key.kty = k["kty"].get<std::string>();
    if (k.contains("use") && k["use"] != "sig") {
      problems.warning(ka + "/use", "jwks-key-skipped", "not a signing key (\"use\"); skipped");
      continue;
    }
    if (k.contains("kid")) {
      if (!k["kid"].is_string()) {
        problems.error(ka + "/kid", "jwks-key", "expected a string");
        continue;
      }
      key.kid = k["kid"].get<std::string>();
      if (!kids.insert(key.kid).second) {
        problems.error(ka + "/kid", "jwks-duplicate-kid",
                       "another key already has the kid \"" + key.kid + "\"");
        continue;
      }
    }
    if (k.contains("alg")) {
      std::string alg = k["alg"].is_string() ? k["alg"].get<std::string>() : "";
      if (!((alg == "RS256" && key.kty == "RSA") || (alg == "ES256" && key.kty == "EC"))) {
        problems.warning(ka + "/alg", "jwks-key-skipped",
                         "only RS256 (kty RSA) and ES256 (kty EC) keys are used; skipped");
        continue;
      }
      key.alg = alg;
    }
    if (k.contains("d"))
      problems.warning(ka + "/d", "jwks-private-key",
                       "this JWK holds a private key; the server needs only the public part");
    if (key.kty == "RSA") {
      auto n = jwk_bytes(k, "n", ka, problems), e = jwk_bytes(k, "e", ka, problems);
      if (!n || !e) continue;
      key.pkey = rsa_key(*n, *e);
      if (!key.pkey) {
        problems.error(ka, "jwks-key", "OpenSSL refused this RSA key");
        continue;
      }
      if (EVP_PKEY_get_bits(key.pkey.get()) < 2048) {
        problems.error(ka + "/n", "jwks-weak-key", "RSA keys need at least 2048 bits");
        continue;
      }
    } else if (key.kty == "EC") {
      if (!k.contains("crv") || k["crv"] != "P-256") {
        problems.error(ka + "/crv", "jwks-key", "expected \"P-256\" (ES256)");
        continue;
      }
      auto x = jwk_bytes(k, "x", ka, problems), y = jwk_bytes(k, "y", ka, problems);
      if (!x || !y) continue;
      if (x->size() != 32 || y->size() != 32) {
        problems.error(ka, "jwks-key", "P-256 coordinates x and y are 32 bytes each");
        continue;
      }
      key.pkey = ec_key(*x, *y);
      if (!key.pkey) {
        problems.error(ka, "jwks-key", "x, y is not a point on P-256");
        continue;
      }
    } else {
      problems.warning(ka + "/kty", "jwks-key-skipped",
                       "key type \"" + key.kty + "\" is not used (RSA and EC only); skipped");
      continue;
    }
    out.push_back(std::move(key));
  }
  if (out.empty() && !problems.has_errors())
    problems.error(at + "/keys", "jwks-empty", "no usable RS256 or ES256 key");
  return out;
}

namespace {

// "scheme://authority" of an absolute http(s) URL without user info or fragment; "" if
// it is not one.
std::string url_origin(const std::string& url) {
  auto scheme_end = url.find("://");
  if (scheme_end == std::string::npos) return "";
  std::string scheme = url.substr(0, scheme_end);
  if (scheme != "http" && scheme != "https") return "";
  auto host_end = url.find_first_of("/?#", scheme_end + 3);
  std::string authority =
      url.substr(scheme_end + 3,
                 host_end == std::string::npos ? std::string::npos : host_end - scheme_end - 3);
  if (authority.empty() || authority.find('@') != std::string::npos ||
      url.find('#') != std::string::npos)
    return "";
  for (char c : authority)
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '-' || c == ':' ||
          c == '[' || c == ']'))
      return "";
  return scheme + "://" + authority;
}

std::optional<SignInProvider> sign_in_from_json(const json& doc, const std::string& at,
                                                Problems& problems) {
  if (!doc.is_object()) {
    problems.error(at, "config-type",
                   "expected an object {authorizationEndpoint, tokenEndpoint, clientId, scope, "
                   "title}");
    return std::nullopt;
  }
  std::size_t before = problems.error_count();
  SignInProvider p;
  auto url = [&](const char* key, std::string& out) {
    const json* v = doc.contains(key) ? &doc[key] : nullptr;
    if (!v || !v->is_string() || url_origin(v->get<std::string>()).empty())
      problems.error(at + "/" + key, v ? "config-type" : "config-required",
                     "expected an absolute http or https URL without user info or fragment");
    else
      out = v->get<std::string>();
  };
  for (const auto& [k, v] : doc.items()) {
    if (k == "authorizationEndpoint")
      url("authorizationEndpoint", p.authorization_endpoint);
    else if (k == "tokenEndpoint")
      url("tokenEndpoint", p.token_endpoint);
    else if (k == "clientId" || k == "scope") {
      if (!v.is_string() || v.get<std::string>().empty() || v.get<std::string>().size() > 256)
        problems.error(at + "/" + k, "config-type",
                       "expected a non-empty string (at most 256 bytes)");
      else
        (k == "clientId" ? p.client_id : p.scope) = v.get<std::string>();
    } else if (k == "title") {
      bool ok = v.is_string();
      if (v.is_object()) {
        ok = !v.empty();
        for (const auto& [lang, t] : v.items()) ok = ok && t.is_string();
      }
      if (!ok)
        problems.error(at + "/title", "config-type",
                       "expected a string or an object of language -> string");
      else
        p.title = v;
    } else {
      problems.error(at + "/" + pointer_escape(k), "config-unknown-key",
                     "unknown key \"" + k +
                         "\" (expected one of: authorizationEndpoint, tokenEndpoint, clientId, "
                         "scope, title)");
    }
  }
  if (!doc.contains("authorizationEndpoint"))
    url("authorizationEndpoint", p.authorization_endpoint);
  if (!doc.contains("tokenEndpoint")) url("tokenEndpoint", p.token_endpoint);
  if (!doc.contains("clientId"))
    problems.error(at + "/clientId", "config-required",
                   "expected the client id the console is registered with at the provider");
  if (problems.error_count() != before) return std::nullopt;
  return p;
}

}  // namespace

std::string SignInProvider::token_origin() const { return url_origin(token_endpoint); }

json SignInProvider::to_json() const {
  return {{"authorizationEndpoint", authorization_endpoint},
          {"tokenEndpoint", token_endpoint},
          {"clientId", client_id},
          {"scope", scope},
          {"title", title}};
}

std::optional<JwtSettings> JwtSettings::from_json(const json& doc, const std::string& base_dir,
                                                  const std::string& at, Problems& problems) {
  if (!doc.is_object()) {
    problems.error(at, "config-type", "expected an object {issuer, audience, keys, claims}");
    return std::nullopt;
  }
  std::size_t before = problems.error_count();
  for (const auto& [k, v] : doc.items())
    if (k != "issuer" && k != "audience" && k != "keys" && k != "leewaySeconds" && k != "claims" &&
        k != "signIn")
      problems.error(
          at + "/" + pointer_escape(k), "config-unknown-key",
          "unknown key \"" + k +
              "\" (expected one of: issuer, audience, keys, leewaySeconds, claims, signIn)");
  JwtSettings s;
  if (!doc.contains("issuer") || !doc["issuer"].is_string() ||
      doc["issuer"].get<std::string>().empty())
    problems.error(at + "/issuer", "config-required",
                   "expected the issuer (\"iss\") tokens must carry, a non-empty string");
  else
    s.issuer_ = doc["issuer"].get<std::string>();
  const json* aud = doc.contains("audience") ? &doc["audience"] : nullptr;
  if (aud && aud->is_string() && !aud->get<std::string>().empty())
    s.audiences_.push_back(aud->get<std::string>());
  else if (aud && aud->is_array() && !aud->empty())
    for (std::size_t i = 0; i < aud->size(); ++i) {
      if (!(*aud)[i].is_string() || (*aud)[i].get<std::string>().empty())
        problems.error(at + "/audience/" + std::to_string(i), "config-type",
                       "expected an audience (a non-empty string)");
      else
        s.audiences_.push_back((*aud)[i].get<std::string>());
    }
  else
    problems.error(at + "/audience", "config-required",
                   "expected the audience (\"aud\") tokens must carry: a string or an array of "
                   "strings");
  if (doc.contains("leewaySeconds")) {
    const json& l = doc["leewaySeconds"];
    if (!l.is_number_integer() || l.get<std::int64_t>() < 0 || l.get<std::int64_t>() > 600)
      problems.error(at + "/leewaySeconds", "config-type", "expected an integer from 0 to 600");
    else
      s.leeway_seconds_ = l.get<std::int64_t>();
  }
  if (!doc.contains("keys")) {
    problems.error(at + "/keys", "config-required",
                   "expected the verification keys: a JWKS file path or an inline JWKS object");
  } else if (doc["keys"].is_string() && !doc["keys"].get<std::string>().empty()) {
    std::string file = resolve(base_dir, doc["keys"].get<std::string>());
    Problems file_problems(file);
    auto jwks = load_json_file(file, file_problems);
    if (jwks) s.keys_ = keys_from_jwks(*jwks, "", file_problems);
    if (file_problems.has_errors() && !jwks)
      problems.error(at + "/keys", "jwks-file", "cannot read the JWKS file " + file);
    problems.append(file_problems);
  } else if (doc["keys"].is_object()) {
    s.keys_ = keys_from_jwks(doc["keys"], at + "/keys", problems);
  } else {
    problems.error(at + "/keys", "config-type",
                   "expected a JWKS file path (a string) or an inline JWKS object");
  }
  if (doc.contains("signIn"))
    s.sign_in_ = sign_in_from_json(doc["signIn"], at + "/signIn", problems);
  if (doc.contains("claims")) {
    const json& c = doc["claims"];
    std::string ca = at + "/claims";
    auto path = [&](const json& v, const std::string& pa, std::string& out) {
      if (!v.is_string() || v.get<std::string>().empty() ||
          v.get<std::string>().find("..") != std::string::npos ||
          v.get<std::string>().front() == '.' || v.get<std::string>().back() == '.')
        problems.error(pa, "config-type",
                       "expected a claim path (names joined by dots, e.g. \"realm_access.roles\")");
      else
        out = v.get<std::string>();
    };
    if (!c.is_object()) {
      problems.error(ca, "config-type", "expected an object {actor, roles, attrs}");
    } else {
      for (const auto& [k, v] : c.items()) {
        if (k == "actor")
          path(v, ca + "/actor", s.actor_claim_);
        else if (k == "roles")
          path(v, ca + "/roles", s.roles_claim_);
        else if (k == "attrs") {
          if (!v.is_object())
            problems.error(ca + "/attrs", "config-type",
                           "expected an object: attribute name -> claim path");
          else
            for (const auto& [name, p] : v.items()) {
              std::string claim;
              path(p, ca + "/attrs/" + pointer_escape(name), claim);
              if (!claim.empty()) s.attr_claims_.emplace_back(name, claim);
            }
        } else {
          problems.error(ca + "/" + pointer_escape(k), "config-unknown-key",
                         "unknown key \"" + k + "\" (expected one of: actor, roles, attrs)");
        }
      }
    }
  }
  if (problems.error_count() > before) return std::nullopt;
  return s;
}

std::optional<JwtRefusal> JwtSettings::verify(std::string_view token, TimePoint now,
                                              Actor& actor) const {
  std::size_t d1 = token.find('.'), d2 = token.find('.', d1 + 1);
  if (d1 == std::string_view::npos || d2 == std::string_view::npos ||
      token.find('.', d2 + 1) != std::string_view::npos)
    return refuse("jwt-malformed", "expected three base64url parts joined by dots");
  auto header = parse_part(token.substr(0, d1));
  if (!header) return refuse("jwt-malformed", "the header is not base64url-encoded JSON object");
  auto claims = parse_part(token.substr(d1 + 1, d2 - d1 - 1));
  if (!claims) return refuse("jwt-malformed", "the payload is not base64url-encoded JSON object");
  auto sig = base64url_decode(token.substr(d2 + 1));
  if (!sig) return refuse("jwt-malformed", "the signature is not base64url");

  if (!header->contains("alg") || !(*header)["alg"].is_string())
    return refuse("jwt-alg", "the header has no \"alg\"");
  std::string alg = (*header)["alg"].get<std::string>();
  if (alg == "none" || alg == "None" || alg == "NONE")
    return refuse("jwt-alg-none", "unsigned tokens (alg \"none\") are never accepted");
  if (alg.size() >= 2 && (alg[0] == 'H' || alg[0] == 'h') && (alg[1] == 'S' || alg[1] == 's'))
    return refuse("jwt-alg-hmac",
                  "HMAC algorithms (" + alg + ") are not accepted; use RS256 or ES256");
  if (alg != "RS256" && alg != "ES256")
    return refuse("jwt-alg", "alg \"" + alg + "\" is not accepted (RS256 or ES256)");
  if (header->contains("crit"))
    return refuse("jwt-crit", "the header has \"crit\" extensions this server does not understand");
  const char* kty = alg == "RS256" ? "RSA" : "EC";
  const JwtKey* key = nullptr;
  if (header->contains("kid")) {
    if (!(*header)["kid"].is_string()) return refuse("jwt-malformed", "\"kid\" is not a string");
    std::string kid = (*header)["kid"].get<std::string>();
    for (const auto& k : keys_)
      if (k.kid == kid) key = &k;
    if (!key) return refuse("jwt-unknown-kid", "no configured key has this kid");
    if (key->kty != kty || (!key->alg.empty() && key->alg != alg))
      return refuse("jwt-alg-key-mismatch",
                    "alg " + alg + " does not match the key's type (" + key->kty + ")");
  } else {
    std::size_t fits = 0;
    for (const auto& k : keys_)
      if (k.kty == kty && (k.alg.empty() || k.alg == alg)) {
        key = &k;
        ++fits;
      }
    if (fits != 1)
      return refuse("jwt-kid-required",
                    fits == 0 ? "no configured key fits alg " + alg
                              : "the header has no \"kid\" and several keys fit alg " + alg);
  }
  if (!verify_signature(key->pkey.get(), alg == "ES256", token.substr(0, d2), *sig))
    return refuse("jwt-signature", "the signature does not verify");

  // Claims (RFC 7519 section 4.1).
  double t = static_cast<double>(now.time_since_epoch().count()) / 1000.0;
  double leeway = static_cast<double>(leeway_seconds_);
  auto it = claims->find("iss");
  if (it == claims->end() || !it->is_string() || it->get<std::string>() != issuer_)
    return refuse("jwt-issuer", "the issuer (\"iss\") is not the configured one");
  bool aud_ok = false;
  it = claims->find("aud");
  if (it != claims->end()) {
    auto matches = [this](const json& a) {
      return a.is_string() && std::find(audiences_.begin(), audiences_.end(),
                                        a.get<std::string>()) != audiences_.end();
    };
    if (it->is_array())
      for (const auto& a : *it) aud_ok = aud_ok || matches(a);
    else
      aud_ok = matches(*it);
  }
  if (!aud_ok) return refuse("jwt-audience", "the audience (\"aud\") is not one configured");
  it = claims->find("exp");
  if (it == claims->end() || !it->is_number())
    return refuse("jwt-expiry-missing", "the token has no numeric expiry (\"exp\")");
  if (t >= it->get<double>() + leeway)
    return refuse("jwt-expired", "the token has expired (\"exp\")");
  it = claims->find("nbf");
  if (it != claims->end()) {
    if (!it->is_number()) return refuse("jwt-malformed", "\"nbf\" is not a number");
    if (t + leeway < it->get<double>())
      return refuse("jwt-not-yet-valid", "the token is not valid yet (\"nbf\")");
  }
  it = claims->find("iat");
  if (it != claims->end()) {
    if (!it->is_number()) return refuse("jwt-malformed", "\"iat\" is not a number");
    if (t + leeway < it->get<double>())
      return refuse("jwt-issued-in-future", "the token was issued in the future (\"iat\")");
  }

  Actor a;
  const json* id = claim_at(*claims, actor_claim_);
  if (!id || !id->is_string() || id->get<std::string>().empty())
    return refuse("jwt-actor-missing",
                  "the actor claim \"" + actor_claim_ + "\" is missing or not a non-empty string");
  a.id = id->get<std::string>();
  if (a.id == "system")
    return refuse("jwt-actor-reserved",
                  "the actor \"system\" is the engine itself, never a caller");
  if (!roles_claim_.empty()) {
    const json* roles = claim_at(*claims, roles_claim_);
    if (roles && roles->is_string()) {
      a.roles.push_back(roles->get<std::string>());
    } else if (roles && roles->is_array()) {
      for (const auto& r : *roles) {
        if (!r.is_string())
          return refuse("jwt-claim-type",
                        "the roles claim \"" + roles_claim_ + "\" must hold strings only");
        a.roles.push_back(r.get<std::string>());
      }
    } else if (roles && !roles->is_null()) {
      return refuse("jwt-claim-type",
                    "the roles claim \"" + roles_claim_ + "\" is not a string or an array");
    }
  }
  for (const auto& [name, path] : attr_claims_) {
    const json* v = claim_at(*claims, path);
    if (!v || v->is_null()) continue;
    if (!attr_value_ok(*v) || (name == "unit" && !v->is_string()))
      return refuse("jwt-claim-type", "the claim \"" + path + "\" (attribute \"" + name +
                                          "\") is not a string, number, boolean or array of "
                                          "strings");
    a.attrs[name] = *v;
  }
  actor = std::move(a);
  return std::nullopt;
}

}  // namespace bihuan::api
