// CloudFront's trusted key groups: named sets of public keys (each with its Key-Pair-Id) whose signatures a behavior
// accepts for signed URLs and cookies (signed_request.h). RSA keys (CloudFront's RSA-SHA1 scheme) and EC P-256
// keys (ECDSA with SHA-256) are accepted.
//
// Config (conf/README.md):
//   [[key_group]]
//   name = "signers"
//   keys = [{ id = "K2JCJMDEHXQW5F", public_key = "keys/cf.pem" }]
// and per behavior `trusted_key_groups = ["signers"]`. Built once per config load on the main thread; immutable and
// shared by all workers afterwards (EVP_PKEY verification with a shared key is thread-safe in OpenSSL 3).
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <openssl/evp.h>

namespace shared {
class ConfigSection;
}

namespace edge {

using PublicKey = std::shared_ptr<EVP_PKEY>;

struct TrustedKey {
    std::string id; // Key-Pair-Id
    PublicKey key;
    bool ec = false; // EC P-256 (ECDSA/SHA-256); else RSA
};

struct KeyGroup {
    std::string name;
    std::vector<TrustedKey> keys;
};

using KeyGroups = std::vector<KeyGroup>;

// The keys of every group a behavior trusts, looked up by Key-Pair-Id.
struct TrustedKeys {
    std::vector<std::string> group_names; // as configured
    std::vector<TrustedKey> keys;         // the union; an id may appear twice (two groups, two keys)
};

// Reads a PEM public key ("-----BEGIN PUBLIC KEY-----", SubjectPublicKeyInfo) from `path`. Null with *err
// when the file cannot be read, is no public key, or is neither RSA (at least 1024 bits) nor EC P-256.
PublicKey load_public_key(const std::string& path, std::string* err);

// The top-level [[key_group]] tables of a config; problems are reported on `root`'s diagnostics by key.
KeyGroups parse_key_groups(shared::ConfigSection& root);

// A behavior's `trusted_key_groups` (null when absent: a public behavior). Unknown names and an empty list are
// errors reported on `sec`.
std::shared_ptr<const TrustedKeys> parse_trusted_key_groups(shared::ConfigSection& sec, const KeyGroups& groups);

} // namespace edge
