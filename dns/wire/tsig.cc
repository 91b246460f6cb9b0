#include "dns/wire/tsig.h"

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/params.h>

#include <cstring>

#include "dns/wire/dns_constants.h"
#include "dns/wire/dns_name.h"

namespace dns {
namespace {

struct AlgorithmInfo {
    const char* text;
    std::string_view wire;
    const char* digest;
    uint16_t mac_size;
};

using namespace std::string_view_literals;
constexpr AlgorithmInfo kAlgorithms[] = {
    {"hmac-md5", "\x08hmac-md5\x07sig-alg\x03reg\x03int\x00"sv, "MD5", 16},
    {"hmac-sha1", "\x09hmac-sha1\x00"sv, "SHA1", 20},
    {"hmac-sha224", "\x0bhmac-sha224\x00"sv, "SHA224", 28},
    {"hmac-sha256", "\x0bhmac-sha256\x00"sv, "SHA256", 32},
    {"hmac-sha384", "\x0bhmac-sha384\x00"sv, "SHA384", 48},
    {"hmac-sha512", "\x0bhmac-sha512\x00"sv, "SHA512", 64},
};
constexpr size_t kAlgorithmCount = std::size(kAlgorithms);
constexpr size_t kMaxMac = 64;

const AlgorithmInfo& info(TsigAlgorithm a) noexcept {
    return kAlgorithms[static_cast<size_t>(a)];
}

bool equal_nocase(std::string_view a, std::string_view b) noexcept {
    if (a.size() != b.size()) return false;
    for (size_t i = 0; i < a.size(); i++)
        if (ascii_lower(static_cast<uint8_t>(a[i])) != ascii_lower(static_cast<uint8_t>(b[i]))) return false;
    return true;
}

// One HMAC context per algorithm and thread, keyed anew for each message: creating a context fetches the digest
// (a lock and allocations in OpenSSL 3), re-keying one does not.
struct MacContexts {
    EVP_MAC* mac = nullptr;
    EVP_MAC_CTX* ctx[kAlgorithmCount] = {};
    MacContexts() = default;
    MacContexts(const MacContexts&) = delete;
    MacContexts& operator=(const MacContexts&) = delete;
    ~MacContexts() {
        for (auto* c : ctx)
            EVP_MAC_CTX_free(c);
        EVP_MAC_free(mac);
    }
    EVP_MAC_CTX* get(TsigAlgorithm a) noexcept {
        size_t i = static_cast<size_t>(a);
        if (ctx[i]) return ctx[i];
        if (!mac) mac = EVP_MAC_fetch(nullptr, "HMAC", nullptr);
        if (!mac) return nullptr;
        EVP_MAC_CTX* c = EVP_MAC_CTX_new(mac);
        if (!c) return nullptr;
        OSSL_PARAM params[] = {
            OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, const_cast<char*>(info(a).digest), 0),
            OSSL_PARAM_construct_end()};
        if (!EVP_MAC_CTX_set_params(c, params)) {
            EVP_MAC_CTX_free(c);
            return nullptr;
        }
        ctx[i] = c;
        return c;
    }
};
thread_local MacContexts t_mac;

class Hmac {
  public:
    Hmac(const TsigKey& key) noexcept : ctx_(t_mac.get(key.algorithm)) {
        ok_ = ctx_ && EVP_MAC_init(ctx_, key.secret.data(), key.secret.size(), nullptr) == 1;
    }
    void update(const void* p, size_t n) noexcept {
        if (ok_ && n) ok_ = EVP_MAC_update(ctx_, static_cast<const uint8_t*>(p), n) == 1;
    }
    void u16(uint16_t v) noexcept {
        uint8_t b[2] = {static_cast<uint8_t>(v >> 8), static_cast<uint8_t>(v)};
        update(b, 2);
    }
    void u48(uint64_t v) noexcept {
        uint8_t b[6];
        for (int i = 0; i < 6; i++)
            b[i] = static_cast<uint8_t>(v >> (8 * (5 - i)));
        update(b, 6);
    }
    // The full MAC into out (kMaxMac bytes); its length, or 0 on failure.
    size_t final(uint8_t* out) noexcept {
        size_t n = 0;
        if (!ok_ || EVP_MAC_final(ctx_, out, &n, kMaxMac) != 1) return 0;
        return n;
    }

  private:
    EVP_MAC_CTX* ctx_;
    bool ok_ = false;
};

// The "DNS Message" digest component (RFC 8945 §4.3.2): the message without its TSIG record, with ARCOUNT as it
// was before the record was added and the original ID in place of the message ID.
void digest_message(Hmac& h, const uint8_t* msg, size_t len, uint16_t original_id, uint16_t arcount) noexcept {
    uint8_t hdr[kHeaderSize];
    std::memcpy(hdr, msg, kHeaderSize);
    hdr[0] = static_cast<uint8_t>(original_id >> 8);
    hdr[1] = static_cast<uint8_t>(original_id);
    hdr[10] = static_cast<uint8_t>(arcount >> 8);
    hdr[11] = static_cast<uint8_t>(arcount);
    h.update(hdr, kHeaderSize);
    h.update(msg + kHeaderSize, len - kHeaderSize);
}

// The "TSIG Variables" component (§4.3.3): names in canonical (lower-case) form.
void digest_variables(Hmac& h, std::string_view key_name, std::string_view alg, uint64_t time, uint16_t fudge,
                      uint16_t error, const uint8_t* other, uint16_t other_len) noexcept {
    uint8_t name[kMaxNameLen + 1];
    size_t n = std::min(key_name.size(), sizeof name);
    for (size_t i = 0; i < n; i++)
        name[i] = ascii_lower(static_cast<uint8_t>(key_name[i]));
    h.update(name, n);
    h.u16(rrclass::ANY);
    h.u16(0); // TTL, 32 bits
    h.u16(0);
    n = std::min(alg.size(), sizeof name);
    for (size_t i = 0; i < n; i++)
        name[i] = ascii_lower(static_cast<uint8_t>(alg[i]));
    h.update(name, n);
    h.u48(time);
    h.u16(fudge);
    h.u16(error);
    h.u16(other_len);
    h.update(other, other_len);
}

uint16_t rd16(const uint8_t* p) noexcept {
    return static_cast<uint16_t>((p[0] << 8) | p[1]);
}
void wr16(uint8_t* p, uint16_t v) noexcept {
    p[0] = static_cast<uint8_t>(v >> 8);
    p[1] = static_cast<uint8_t>(v);
}
void wr48(uint8_t* p, uint64_t v) noexcept {
    for (int i = 0; i < 6; i++)
        p[i] = static_cast<uint8_t>(v >> (8 * (5 - i)));
}

// Length of the uncompressed name at msg[pos]; 0 when it is not one (TSIG names are never compressed, §4.2).
size_t plain_name(const uint8_t* msg, size_t len, size_t pos) noexcept {
    size_t start = pos;
    while (pos < len) {
        uint8_t l = msg[pos];
        if (l == 0) return pos + 1 - start;
        if (l > 63 || pos + 1 + l - start > kMaxNameLen) return 0;
        pos += 1u + l;
    }
    return 0;
}

struct RecordFields {
    std::string_view owner, alg;
    uint64_t time = 0;
    uint16_t fudge = 0, mac_len = 0, original_id = 0, error = 0, other_len = 0;
    const uint8_t* mac = nullptr;
    const uint8_t* other = nullptr;
};

// Writes a TSIG record at buf[len], bumps ARCOUNT; 0 when it does not fit.
size_t write_record(uint8_t* buf, size_t len, size_t cap, const RecordFields& f) noexcept {
    size_t rdlen = f.alg.size() + 6 + 2 + 2 + f.mac_len + 2 + 2 + 2 + f.other_len;
    size_t need = f.owner.size() + 10 + rdlen;
    if (len < kHeaderSize || cap < len || cap - len < need || rdlen > 0xFFFF) return 0;
    uint16_t ar = rd16(buf + 10);
    if (ar == 0xFFFF) return 0;
    uint8_t* p = buf + len;
    std::memcpy(p, f.owner.data(), f.owner.size());
    p += f.owner.size();
    wr16(p, rrtype::TSIG);
    wr16(p + 2, rrclass::ANY);
    std::memset(p + 4, 0, 4);
    wr16(p + 8, static_cast<uint16_t>(rdlen));
    p += 10;
    std::memcpy(p, f.alg.data(), f.alg.size());
    p += f.alg.size();
    wr48(p, f.time);
    wr16(p + 6, f.fudge);
    wr16(p + 8, f.mac_len);
    p += 10;
    if (f.mac_len) std::memcpy(p, f.mac, f.mac_len);
    p += f.mac_len;
    wr16(p, f.original_id);
    wr16(p + 2, f.error);
    wr16(p + 4, f.other_len);
    p += 6;
    if (f.other_len) std::memcpy(p, f.other, f.other_len);
    wr16(buf + 10, static_cast<uint16_t>(ar + 1));
    return len + need;
}

int decode_base64(std::string_view in, std::vector<uint8_t>* out) {
    if (in.empty() || in.size() % 4 != 0) return -1;
    out->assign(in.size() / 4 * 3, 0);
    int n =
        EVP_DecodeBlock(out->data(), reinterpret_cast<const unsigned char*>(in.data()), static_cast<int>(in.size()));
    if (n < 0) return -1;
    size_t pad = 0;
    while (pad < 2 && pad < in.size() && in[in.size() - 1 - pad] == '=')
        pad++;
    out->resize(static_cast<size_t>(n) - pad);
    return static_cast<int>(out->size());
}

} // namespace

std::optional<TsigAlgorithm> tsig_algorithm_from_text(std::string_view text) {
    if (!text.empty() && text.back() == '.') text.remove_suffix(1);
    for (size_t i = 0; i < kAlgorithmCount; i++)
        if (equal_nocase(text, kAlgorithms[i].text)) return static_cast<TsigAlgorithm>(i);
    if (equal_nocase(text, "hmac-md5.sig-alg.reg.int")) return TsigAlgorithm::hmac_md5;
    return std::nullopt;
}

const char* tsig_algorithm_text(TsigAlgorithm a) noexcept {
    return info(a).text;
}
std::string_view tsig_algorithm_wire(TsigAlgorithm a) noexcept {
    return info(a).wire;
}
uint16_t tsig_mac_size(TsigAlgorithm a) noexcept {
    return info(a).mac_size;
}
uint16_t tsig_min_mac_size(TsigAlgorithm a) noexcept {
    return std::max<uint16_t>(10, static_cast<uint16_t>((info(a).mac_size + 1) / 2));
}

std::optional<TsigKey> make_tsig_key(std::string_view name, std::string_view algorithm, std::string_view secret_b64,
                                     uint16_t min_mac_size, std::string* err) {
    TsigKey k;
    std::string text(name);
    if (text.empty() || text.back() != '.') text += '.';
    auto wire = name_from_text(text);
    if (!wire) {
        *err = "\"" + std::string(name) + "\" is not a valid key name";
        return std::nullopt;
    }
    k.name = to_lower(*wire);
    k.text_name = text;
    auto alg = tsig_algorithm_from_text(algorithm);
    if (!alg) {
        *err = "unknown algorithm \"" + std::string(algorithm) +
               "\" (hmac-md5, hmac-sha1, hmac-sha224, hmac-sha256, hmac-sha384, hmac-sha512)";
        return std::nullopt;
    }
    k.algorithm = *alg;
    if (decode_base64(secret_b64, &k.secret) <= 0) {
        *err = "the secret is not base64";
        return std::nullopt;
    }
    uint16_t full = tsig_mac_size(k.algorithm), least = tsig_min_mac_size(k.algorithm);
    if (min_mac_size == 0) min_mac_size = full;
    if (min_mac_size < least || min_mac_size > full) {
        *err = "min_mac_size for " + std::string(tsig_algorithm_text(k.algorithm)) + " must be between " +
               std::to_string(least) + " and " + std::to_string(full);
        return std::nullopt;
    }
    k.min_mac_size = min_mac_size;
    return k;
}

TsigCheck tsig_check_request(const uint8_t* msg, size_t len, size_t tsig_offset, std::span<const TsigKey> keys,
                             uint64_t now_s) noexcept {
    TsigCheck c;
    c.status = TsigCheck::Status::formerr;
    if (len < kHeaderSize || tsig_offset < kHeaderSize || tsig_offset >= len || rd16(msg + 10) == 0) return c;
    size_t pos = tsig_offset;
    size_t owner = plain_name(msg, len, pos);
    if (!owner || len - pos - owner < 10) return c;
    c.key_name = {reinterpret_cast<const char*>(msg + pos), owner};
    pos += owner;
    if (rd16(msg + pos) != rrtype::TSIG || rd16(msg + pos + 2) != rrclass::ANY) return c;
    size_t rdlen = rd16(msg + pos + 8);
    pos += 10;
    if (len - pos != rdlen) return c; // the record is the message's last bytes
    size_t alg = plain_name(msg, len, pos);
    if (!alg || len - pos - alg < 10) return c;
    c.algorithm = {reinterpret_cast<const char*>(msg + pos), alg};
    pos += alg;
    uint64_t t = 0;
    for (int i = 0; i < 6; i++)
        t = (t << 8) | msg[pos + i];
    c.time_signed = t;
    c.fudge = rd16(msg + pos + 6);
    c.mac_len = rd16(msg + pos + 8);
    pos += 10;
    if (len - pos < size_t(c.mac_len) + 6) return c;
    c.mac = msg + pos;
    pos += c.mac_len;
    c.original_id = rd16(msg + pos);
    uint16_t other_len = rd16(msg + pos + 4);
    pos += 6;
    if (len - pos != other_len) return c;

    // §5.2.1: the key by name, and the algorithm it is configured with.
    c.status = TsigCheck::Status::error;
    c.error = tsig_error::BADKEY;
    const TsigKey* key = nullptr;
    for (const auto& k : keys)
        if (equal_nocase(c.key_name, k.name)) key = &k;
    if (!key || !equal_nocase(c.algorithm, tsig_algorithm_wire(key->algorithm))) return c;
    // §5.2.2.1: a MAC longer than the hash, or shorter than the shortest truncation allowed, is a format error.
    if (c.mac_len > tsig_mac_size(key->algorithm) || c.mac_len < tsig_min_mac_size(key->algorithm)) {
        c.status = TsigCheck::Status::formerr;
        c.error = 0;
        return c;
    }
    // §5.2.2: the MAC, compared over the length sent.
    Hmac h(*key);
    digest_message(h, msg, tsig_offset, c.original_id, static_cast<uint16_t>(rd16(msg + 10) - 1));
    digest_variables(h, c.key_name, c.algorithm, c.time_signed, c.fudge, rd16(msg + pos - 6 + 2), msg + pos, other_len);
    uint8_t mac[kMaxMac];
    size_t n = h.final(mac);
    if (n < c.mac_len || CRYPTO_memcmp(mac, c.mac, c.mac_len) != 0) {
        c.error = tsig_error::BADSIG;
        return c;
    }
    c.key = key;
    // §5.2.3: the time window, checked only once the MAC proved the time is the signer's.
    uint64_t skew = now_s > c.time_signed ? now_s - c.time_signed : c.time_signed - now_s;
    if (skew > c.fudge) {
        c.error = tsig_error::BADTIME;
        return c;
    }
    // §5.2.4: truncation allowed by the RFC but shorter than this key's policy.
    if (c.mac_len < key->min_mac_size) {
        c.error = tsig_error::BADTRUNC;
        return c;
    }
    c.status = TsigCheck::Status::ok;
    c.error = 0;
    return c;
}

TsigSigner::TsigSigner(const TsigCheck& request) noexcept {
    if (!request.key || request.mac_len > sizeof prior_mac_) return;
    key_ = request.key;
    std::memcpy(prior_mac_, request.mac, request.mac_len);
    prior_len_ = request.mac_len;
    original_id_ = request.original_id;
    request_time_ = request.time_signed;
}

size_t TsigSigner::reserve() const noexcept {
    if (!key_) return 0;
    return key_->name.size() + 10 + tsig_algorithm_wire(key_->algorithm).size() + 10 + tsig_mac_size(key_->algorithm) +
           6 + 6;
}

size_t TsigSigner::sign(uint8_t* buf, size_t len, size_t cap, uint64_t now_s, uint16_t error) noexcept {
    if (!key_ || len < kHeaderSize) return 0;
    RecordFields f;
    f.owner = key_->name;
    f.alg = tsig_algorithm_wire(key_->algorithm);
    f.time = error == tsig_error::BADTIME ? request_time_ : now_s;
    f.fudge = kTsigFudge;
    f.original_id = original_id_;
    f.error = error;
    uint8_t other[6];
    if (error == tsig_error::BADTIME) {
        wr48(other, now_s);
        f.other = other;
        f.other_len = 6;
    }
    Hmac h(*key_);
    h.u16(prior_len_);
    h.update(prior_mac_, prior_len_);
    digest_message(h, buf, len, original_id_, rd16(buf + 10));
    if (first_) {
        digest_variables(h, f.owner, f.alg, f.time, f.fudge, f.error, f.other, f.other_len);
    } else {
        h.u48(f.time); // §5.3.1: later messages cover the timers only
        h.u16(f.fudge);
    }
    uint8_t mac[kMaxMac];
    size_t n = h.final(mac);
    if (!n) return 0;
    f.mac = mac;
    f.mac_len = static_cast<uint16_t>(n);
    size_t out = write_record(buf, len, cap, f);
    if (!out) return 0;
    std::memcpy(prior_mac_, mac, n);
    prior_len_ = static_cast<uint16_t>(n);
    first_ = false;
    return out;
}

size_t tsig_unsigned_size(const TsigCheck& request) noexcept {
    return request.key_name.size() + 10 + request.algorithm.size() + 10 + 6;
}

size_t tsig_append_unsigned(uint8_t* buf, size_t len, size_t cap, const TsigCheck& request, uint64_t now_s) noexcept {
    if (request.key_name.empty() || request.algorithm.empty()) return 0;
    RecordFields f;
    f.owner = request.key_name;
    f.alg = request.algorithm;
    f.time = now_s ? now_s : request.time_signed; // 0: the server reads no clock (it has no keys at all)
    f.fudge = kTsigFudge;
    f.original_id = request.original_id;
    f.error = request.error;
    return write_record(buf, len, cap, f);
}

size_t tsig_sign_request(uint8_t* buf, size_t len, size_t cap, const TsigKey& key, uint64_t now_s,
                         uint16_t mac_len) noexcept {
    if (len < kHeaderSize) return 0;
    RecordFields f;
    f.owner = key.name;
    f.alg = tsig_algorithm_wire(key.algorithm);
    f.time = now_s;
    f.fudge = kTsigFudge;
    f.original_id = rd16(buf);
    Hmac h(key);
    digest_message(h, buf, len, f.original_id, rd16(buf + 10));
    digest_variables(h, f.owner, f.alg, f.time, f.fudge, 0, nullptr, 0);
    uint8_t mac[kMaxMac];
    size_t n = h.final(mac);
    if (!n) return 0;
    f.mac = mac;
    f.mac_len = static_cast<uint16_t>(mac_len && mac_len < n ? mac_len : n);
    return write_record(buf, len, cap, f);
}

} // namespace dns
