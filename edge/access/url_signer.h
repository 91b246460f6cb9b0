// Producing CloudFront-style signed URLs and signed cookies with a private key (RSA: RSA-SHA1, CloudFront's
// scheme; EC P-256: ECDSA/SHA-256): the `meridian-edge sign` command and tests. Main thread or tests only.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <openssl/evp.h>

namespace edge {

using PrivateKey = std::shared_ptr<EVP_PKEY>;

// A PEM private key (PKCS#8 or traditional RSA/EC). Null with *err otherwise.
PrivateKey load_private_key(const std::string& path, std::string* err);

// The URL-safe base64 signature of `data` (RSA-SHA1 for RSA keys, ECDSA/SHA-256 DER for EC keys). "" on failure.
std::string sign_policy(EVP_PKEY* key, std::string_view data);

struct SignedValues {
    std::string expires;     // canned policy only
    std::string policy;      // custom policy only: URL-safe base64 of its JSON
    std::string signature;   // URL-safe base64
    std::string key_pair_id; //
};

// Signs `url` until `expires` (canned), or `policy_json` when not empty (custom; `url` is then only where the
// parameters are appended). Empty signature on failure.
SignedValues sign_request(EVP_PKEY* key, std::string_view key_pair_id, std::string_view url, int64_t expires,
                          std::string_view policy_json);

// `url` with the values appended as query parameters ('?' or '&').
std::string signed_url(std::string_view url, const SignedValues& v);

// The CloudFront-* cookies as "name=value" strings (for Set-Cookie or Cookie).
std::vector<std::string> signed_cookies(const SignedValues& v);

} // namespace edge
