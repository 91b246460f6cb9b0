// A DNSSEC signing key pair (RFC 4034 DNSKEY and its private half) in the BIND file format that dnssec-keygen,
// ldns-keygen and Knot's keymgr also read and write: K<zone>+<alg>+<tag>.key (the DNSKEY record) beside
// K<zone>+<alg>+<tag>.private. ldns does the formats and the key tag, OpenSSL (under ldns) the keys.
// Algorithms: ECDSA P-256/SHA-256 (13, the default, what Route53 and most signed zones use) and Ed25519 (15).
//
// Thread: a key is immutable once made; signing with it from several threads is the caller's to serialize.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

struct ldns_struct_key;
struct ldns_struct_rr;

namespace dns {

enum class DnssecAlgorithm : uint8_t { ecdsa_p256_sha256 = 13, ed25519 = 15 };

// "ecdsap256sha256" / "13", "ed25519" / "15" (case-insensitive). False for anything else.
bool parse_dnssec_algorithm(std::string_view s, DnssecAlgorithm* out);
const char* dnssec_algorithm_name(DnssecAlgorithm a);

class DnssecKey {
  public:
    ~DnssecKey();
    DnssecKey(const DnssecKey&) = delete;
    DnssecKey& operator=(const DnssecKey&) = delete;

    // A new key for `zone` ("example.com." or without the dot). `ksk`: flags 257 (SEP, signs the DNSKEY set and is
    // what the parent's DS names), else 256 (ZSK). Null with *err on failure.
    static std::unique_ptr<DnssecKey> generate(std::string_view zone, DnssecAlgorithm alg, bool ksk, std::string* err);
    // Loads a key pair from its .private file and the .key file beside it (either path may be given, or the
    // common stem). The .key file says the zone and the flags; errors name the file and line.
    static std::unique_ptr<DnssecKey> load(const std::string& path, std::string* err);

    // Writes `dir`/K<zone>+<alg>+<tag>.key and .private (mode 0600). Returns the stem path ("dir/K...").
    bool write(const std::string& dir, std::string* stem, std::string* err) const;

    const std::string& zone() const { return zone_; } // with the trailing dot, lower case
    DnssecAlgorithm algorithm() const { return alg_; }
    bool ksk() const { return flags_ == 257; }
    uint16_t flags() const { return flags_; }
    uint16_t key_tag() const { return tag_; }
    // "K<zone>+<alg>+<tag>" (zone with its trailing dot, as BIND names the files).
    std::string file_stem() const;
    // Presentation text of the DNSKEY, the CDNSKEY (RFC 7344) and the DS / CDS for `digest` (2 = SHA-256,
    // 4 = SHA-384), each one line with `ttl`.
    std::string dnskey_text(uint32_t ttl) const;
    std::string cdnskey_text(uint32_t ttl) const;
    std::string ds_text(uint8_t digest, uint32_t ttl) const;
    std::string cds_text(uint8_t digest, uint32_t ttl) const;

    ldns_struct_key* ldns() const { return key_; }
    // The DNSKEY as an ldns record (owned by the key).
    const ldns_struct_rr* dnskey_rr() const { return dnskey_; }

  private:
    DnssecKey() = default;
    bool finish(std::string* err); // owner, flags, DNSKEY record and tag from key_/zone_/flags_
    ldns_struct_key* key_ = nullptr;
    ldns_struct_rr* dnskey_ = nullptr;
    std::string zone_;
    DnssecAlgorithm alg_ = DnssecAlgorithm::ecdsa_p256_sha256;
    uint16_t flags_ = 256;
    uint16_t tag_ = 0;
};

} // namespace dns
