#include "dns/dnssec/rrsig.h"

#include <openssl/ecdsa.h>
#include <openssl/evp.h>

#include <algorithm>
#include <vector>

#include "dns/dnssec/dnssec_key.h"
#include "dns/wire/dns_constants.h"
#include "dns/wire/dns_name.h"

// Last: ldns's headers define `bool` as a macro that breaks <optional>.
#include <ldns/ldns.h>

namespace dns {

namespace {

// Lower-cases the uncompressed name starting at `pos`; returns the offset after it, or npos when there is none.
size_t lower_name_at(std::string& s, size_t pos) {
    while (pos < s.size()) {
        uint8_t l = static_cast<uint8_t>(s[pos]);
        if (l == 0) return pos + 1;
        if (l > 63 || pos + 1 + l > s.size()) return std::string::npos;
        for (size_t i = pos + 1; i <= pos + l; i++)
            s[i] = static_cast<char>(ascii_lower(static_cast<uint8_t>(s[i])));
        pos += 1u + l;
    }
    return std::string::npos;
}

size_t skip_char_string(const std::string& s, size_t pos) {
    if (pos >= s.size()) return std::string::npos;
    size_t end = pos + 1u + static_cast<uint8_t>(s[pos]);
    return end <= s.size() ? end : std::string::npos;
}

void put_u16(std::string& s, uint16_t v) {
    s.push_back(static_cast<char>(v >> 8));
    s.push_back(static_cast<char>(v));
}
void put_u32(std::string& s, uint32_t v) {
    put_u16(s, static_cast<uint16_t>(v >> 16));
    put_u16(s, static_cast<uint16_t>(v));
}

struct MdCtx {
    EVP_MD_CTX* p = EVP_MD_CTX_new();
    ~MdCtx() { EVP_MD_CTX_free(p); }
};

// The signature over `data` in DNSSEC's encoding, from a copy of the prepared context `proto`.
bool raw_signature(const EVP_MD_CTX* proto, bool ed25519, const std::string& data, std::string* out) {
    MdCtx ctx;
    if (!ctx.p || !proto || EVP_MD_CTX_copy_ex(ctx.p, proto) != 1) return false;
    unsigned char sig[128];
    size_t len = sizeof sig;
    const auto* in = reinterpret_cast<const unsigned char*>(data.data());
    if (EVP_DigestSign(ctx.p, sig, &len, in, data.size()) != 1) return false;
    if (ed25519) {
        out->append(reinterpret_cast<const char*>(sig), len);
        return true;
    }
    // OpenSSL gives ECDSA signatures in DER; DNSSEC carries r and s as two 32-byte numbers (RFC 6605 §4).
    const unsigned char* p = sig;
    ECDSA_SIG* es = d2i_ECDSA_SIG(nullptr, &p, static_cast<long>(len));
    if (!es) return false;
    unsigned char rs[64];
    const BIGNUM *r = nullptr, *s = nullptr;
    ECDSA_SIG_get0(es, &r, &s);
    bool ok = BN_bn2binpad(r, rs, 32) == 32 && BN_bn2binpad(s, rs + 32, 32) == 32;
    ECDSA_SIG_free(es);
    if (ok) out->append(reinterpret_cast<const char*>(rs), 64);
    return ok;
}

} // namespace

std::string canonical_rdata(uint16_t type, std::string_view rdata) {
    std::string s(rdata);
    size_t p = 0;
    switch (type) {
    case 2:
    case 3:
    case 4:
    case 5:
    case 7:
    case 8:
    case 9:
    case 12:
    case 39: // NS MD MF CNAME MB MG MR PTR DNAME
        lower_name_at(s, 0);
        break;
    case 6:  // SOA
    case 14: // MINFO
    case 17: // RP
        p = lower_name_at(s, 0);
        if (p != std::string::npos) lower_name_at(s, p);
        break;
    case 15:
    case 18:
    case 21:
    case 36: // MX AFSDB RT KX
        if (s.size() > 2) lower_name_at(s, 2);
        break;
    case 26: // PX
        if (s.size() > 2) p = lower_name_at(s, 2);
        if (p && p != std::string::npos) lower_name_at(s, p);
        break;
    case 33: // SRV
        if (s.size() > 6) lower_name_at(s, 6);
        break;
    case 35: // NAPTR: order, preference, flags, services, regexp, replacement
        p = 4;
        for (int i = 0; i < 3 && p != std::string::npos; i++)
            p = skip_char_string(s, p);
        if (p != std::string::npos) lower_name_at(s, p);
        break;
    default:
        break;
    }
    return s;
}

RrsigSigner::RrsigSigner(const DnssecKey& key, std::string signer_name)
    : key_(key), signer_(std::move(signer_name)), tag_(key.key_tag()), alg_(static_cast<uint8_t>(key.algorithm())) {
    EVP_PKEY* pkey = ldns_key_evp_key(key_.ldns());
    proto_ = EVP_MD_CTX_new();
    bool ed25519 = alg_ == static_cast<uint8_t>(DnssecAlgorithm::ed25519);
    if (proto_ &&
        (!pkey || EVP_DigestSignInit(proto_, nullptr, ed25519 ? nullptr : EVP_sha256(), nullptr, pkey) != 1)) {
        EVP_MD_CTX_free(proto_);
        proto_ = nullptr; // sign() then fails: the zone does not load
    }
}

RrsigSigner::~RrsigSigner() {
    EVP_MD_CTX_free(proto_);
}

bool RrsigSigner::sign(std::string_view owner, uint16_t type, uint32_t ttl, std::string_view records,
                       SignatureWindow window, std::string* out) const {
    unsigned labels = label_count(owner);
    if (owner.size() >= 2 && owner[0] == 1 && owner[1] == '*') labels--; // RFC 4034 §3.1.3
    std::string rd;
    put_u16(rd, type);
    rd.push_back(static_cast<char>(alg_));
    rd.push_back(static_cast<char>(labels));
    put_u32(rd, ttl);
    put_u32(rd, window.expiration);
    put_u32(rd, window.inception);
    put_u16(rd, tag_);
    rd.append(signer_);

    // RFC 4034 §6.3: the records in canonical order (their canonical RDATA as octet strings), duplicates once.
    std::vector<std::string> canon;
    for (size_t pos = 0; pos + 2 <= records.size();) {
        size_t len = (static_cast<uint8_t>(records[pos]) << 8) | static_cast<uint8_t>(records[pos + 1]);
        if (pos + 2 + len > records.size()) return false;
        canon.push_back(canonical_rdata(type, records.substr(pos + 2, len)));
        pos += 2 + len;
    }
    std::sort(canon.begin(), canon.end());
    canon.erase(std::unique(canon.begin(), canon.end()), canon.end());
    std::string data = rd;
    for (const std::string& c : canon) {
        data.append(owner);
        put_u16(data, type);
        put_u16(data, rrclass::IN);
        put_u32(data, ttl);
        put_u16(data, static_cast<uint16_t>(c.size()));
        data.append(c);
    }
    if (!raw_signature(proto_, alg_ == static_cast<uint8_t>(DnssecAlgorithm::ed25519), data, &rd)) return false;
    put_u16(*out, static_cast<uint16_t>(rd.size()));
    out->append(rd);
    return true;
}

} // namespace dns
