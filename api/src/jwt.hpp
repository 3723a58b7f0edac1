// JSON Web Tokens (RFC 7519) signed with RS256 or ES256 (P-256), verified with OpenSSL
// against the public keys of a JWKS (RFC 7517), and their claims mapped to an Actor.
//
// Refused, each with its own reason: alg "none", every HMAC alg (HS256... also when the
// "secret" is a public key), any other alg, an alg that does not match the key's type, an
// unknown kid, a missing kid when more than one key fits, a bad signature, broken
// base64url or JSON, an issuer or audience other than the configured ones, a missing or
// passed exp, nbf or iat in the future (each beyond the leeway), a missing actor claim, a
// claim of the wrong type. The token text never appears in a refusal.
//
// Thread-safety: JwtSettings is immutable after from_json(); verify() is const and may run
// on many threads at once.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "bihuan/instance.hpp"
#include "bihuan/json.hpp"
#include "bihuan/problem.hpp"
#include "bihuan/time.hpp"

struct evp_pkey_st;

namespace bihuan::api {

// An attribute value an Actor may carry: string, number, boolean or array of strings
// (server_config.cpp; also what configured tokens are checked against).
bool attr_value_ok(const json& v);

struct JwtKey {
  std::string kid;  // "" = none
  std::string kty;  // "RSA" or "EC"
  std::string alg;  // the JWK's "alg" ("" = any that fits kty)
  std::shared_ptr<evp_pkey_st> pkey;
};

// Why a JWT was refused: `reason` is the metrics label ("jwt-expired"), `detail` the sentence
// for the 401 problem.
struct JwtRefusal {
  std::string reason;
  std::string detail;
};

// The identity provider people sign in with from the console (OAuth 2.0 authorization
// code with PKCE, RFC 7636; docs/console.md): the identity file's "jwt"/"signIn".
struct SignInProvider {
  std::string authorization_endpoint;  // absolute http(s) URL
  std::string token_endpoint;          // absolute http(s) URL
  std::string client_id;
  std::string scope = "openid";
  json title;  // Text shown on the button ({"zh", "en"} or a string); null: a default
  // "scheme://host[:port]" of the token endpoint: the console's CSP connect-src adds it.
  std::string token_origin() const;
  json to_json() const;
};

class JwtSettings {
 public:
  // The "jwt" object of the identity file (at JSON Pointer `at`):
  //   {"issuer": "https://sso", "audience": "bihuan" | ["bihuan", ...],
  //    "keys": "jwks.json" | {"keys": [...]}, "leewaySeconds": 60,
  //    "claims": {"actor": "sub", "roles": "realm_access.roles",
  //               "attrs": {"unit": "org_path"}},
  //    "signIn": {"authorizationEndpoint": "https://sso/auth", "tokenEndpoint":
  //               "https://sso/token", "clientId": "bihuan-console", "scope": "openid",
  //               "title": {"zh": "统一身份认证", "en": "Single sign-on"}}}
  // A keys file path resolves against `base_dir`; its problems name that file.
  static std::optional<JwtSettings> from_json(const json& doc, const std::string& base_dir,
                                              const std::string& at, Problems& problems);
  // The keys of a JWKS document: RSA (n, e; at least 2048 bits) and EC P-256 (x, y).
  // Keys for encryption ("use": "enc") and other key types are skipped with a warning.
  static std::vector<JwtKey> keys_from_jwks(const json& jwks, const std::string& at,
                                            Problems& problems);

  // Verifies the compact JWS `token` at `now`; on success fills `actor` (id, roles,
  // attrs from the mapped claims) and returns nullopt.
  std::optional<JwtRefusal> verify(std::string_view token, TimePoint now, Actor& actor) const;

  std::size_t key_count() const { return keys_.size(); }
  const std::optional<SignInProvider>& sign_in() const { return sign_in_; }

 private:
  std::string issuer_;
  std::vector<std::string> audiences_;
  std::vector<JwtKey> keys_;
  std::int64_t leeway_seconds_ = 60;
  std::string actor_claim_ = "sub";
  std::string roles_claim_ = "roles";                             // "" = no roles
  std::vector<std::pair<std::string, std::string>> attr_claims_;  // attribute -> claim path
  std::optional<SignInProvider> sign_in_;
};

// True when `token` has the shape of a compact JWS (exactly two dots).
bool looks_like_jwt(std::string_view token);

// base64url without padding (RFC 7515 section 2); nullopt on any other character, on
// padding, or on an impossible length.
std::optional<std::string> base64url_decode(std::string_view text);
std::string base64url_encode(std::string_view bytes);

}  // namespace bihuan::api
