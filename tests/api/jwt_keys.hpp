// Test-side JWT issuing: RSA-2048 and P-256 key pairs generated with OpenSSL EVP, their
// public JWKs, and compact JWS tokens signed RS256, ES256, HS256 or unsigned. Nothing
// here shares code with the server's verifier (api/src/jwt.cpp).
#pragma once

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/pem.h>

#include <memory>
#include <stdexcept>
#include <string>

#include "bihuan/json.hpp"

namespace bihuan::test {

inline std::string b64url(std::string_view bytes) {
  static const char* d = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  std::string out;
  std::uint32_t acc = 0;
  int bits = 0;
  for (unsigned char c : bytes) {
    acc = (acc << 8) | c;
    bits += 8;
    while (bits >= 6) {
      bits -= 6;
      out += d[(acc >> bits) & 63];
    }
  }
  if (bits > 0) out += d[(acc << (6 - bits)) & 63];
  return out;
}

struct TestKey {
  std::shared_ptr<EVP_PKEY> pkey;
  bool ec = false;
  std::string kid;

  static TestKey rsa(std::string kid) {
    return {std::shared_ptr<EVP_PKEY>(EVP_RSA_gen(2048), EVP_PKEY_free), false, std::move(kid)};
  }
  static TestKey p256(std::string kid) {
    return {std::shared_ptr<EVP_PKEY>(EVP_EC_gen("P-256"), EVP_PKEY_free), true, std::move(kid)};
  }

  static std::string bn_bytes(EVP_PKEY* k, const char* name, int pad = 0) {
    BIGNUM* bn = nullptr;
    if (EVP_PKEY_get_bn_param(k, name, &bn) != 1) throw std::runtime_error("no param");
    std::string out(static_cast<std::size_t>(std::max(pad, BN_num_bytes(bn))), '\0');
    if (pad)
      BN_bn2binpad(bn, reinterpret_cast<unsigned char*>(out.data()), pad);
    else
      BN_bn2bin(bn, reinterpret_cast<unsigned char*>(out.data()));
    BN_free(bn);
    return out;
  }

  // The public JWK.
  json jwk() const {
    json j;
    if (ec) {
      j = {{"kty", "EC"},
           {"crv", "P-256"},
           {"x", b64url(bn_bytes(pkey.get(), OSSL_PKEY_PARAM_EC_PUB_X, 32))},
           {"y", b64url(bn_bytes(pkey.get(), OSSL_PKEY_PARAM_EC_PUB_Y, 32))}};
    } else {
      j = {{"kty", "RSA"},
           {"n", b64url(bn_bytes(pkey.get(), OSSL_PKEY_PARAM_RSA_N))},
           {"e", b64url(bn_bytes(pkey.get(), OSSL_PKEY_PARAM_RSA_E))}};
    }
    if (!kid.empty()) j["kid"] = kid;
    return j;
  }

  // The public key as PEM (SubjectPublicKeyInfo): what an attacker uses as an HMAC secret.
  std::string public_pem() const {
    BIO* bio = BIO_new(BIO_s_mem());
    PEM_write_bio_PUBKEY(bio, pkey.get());
    char* data = nullptr;
    long n = BIO_get_mem_data(bio, &data);
    std::string out(data, static_cast<std::size_t>(n));
    BIO_free(bio);
    return out;
  }

  std::string sign(std::string_view input) const {
    EVP_MD_CTX* md = EVP_MD_CTX_new();
    std::size_t len = 0;
    EVP_DigestSignInit(md, nullptr, EVP_sha256(), nullptr, pkey.get());
    EVP_DigestSign(md, nullptr, &len, reinterpret_cast<const unsigned char*>(input.data()),
                   input.size());
    std::string sig(len, '\0');
    EVP_DigestSign(md, reinterpret_cast<unsigned char*>(sig.data()), &len,
                   reinterpret_cast<const unsigned char*>(input.data()), input.size());
    sig.resize(len);
    EVP_MD_CTX_free(md);
    if (!ec) return sig;
    // DER ECDSA-Sig-Value -> r || s, 32 bytes each (JWS).
    const unsigned char* p = reinterpret_cast<const unsigned char*>(sig.data());
    ECDSA_SIG* s = d2i_ECDSA_SIG(nullptr, &p, static_cast<long>(sig.size()));
    std::string out(64, '\0');
    BN_bn2binpad(ECDSA_SIG_get0_r(s), reinterpret_cast<unsigned char*>(out.data()), 32);
    BN_bn2binpad(ECDSA_SIG_get0_s(s), reinterpret_cast<unsigned char*>(out.data()) + 32, 32);
    ECDSA_SIG_free(s);
    return out;
  }
};

// header.payload.signature with `key` (alg RS256/ES256 unless the header says otherwise).
inline std::string make_jwt(const TestKey& key, json claims, json header = json::object()) {
  if (!header.contains("alg")) header["alg"] = key.ec ? "ES256" : "RS256";
  if (!header.contains("kid") && !key.kid.empty()) header["kid"] = key.kid;
  if (header["kid"].is_null()) header.erase("kid");
  header["typ"] = "JWT";
  std::string input = b64url(header.dump()) + "." + b64url(claims.dump());
  return input + "." + b64url(key.sign(input));
}

inline std::string hs256_jwt(const std::string& secret, json claims, json header) {
  header["alg"] = "HS256";
  std::string input = b64url(header.dump()) + "." + b64url(claims.dump());
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int n = 0;
  HMAC(EVP_sha256(), secret.data(), static_cast<int>(secret.size()),
       reinterpret_cast<const unsigned char*>(input.data()), input.size(), mac, &n);
  return input + "." + b64url(std::string(reinterpret_cast<char*>(mac), n));
}

inline std::string unsigned_jwt(json claims, json header) {
  header["alg"] = "none";
  return b64url(header.dump()) + "." + b64url(claims.dump()) + ".";
}

}  // namespace bihuan::test
