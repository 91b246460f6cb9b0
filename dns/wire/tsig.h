// TSIG (RFC 8945) on wire bytes: checking a request's TSIG record against the configured keys (key and algorithm,
// MAC, time window, truncation policy) and appending TSIG records to responses, signed (one answer, or each message
// of a multi-message stream, chained to the previous MAC per §5.3.1) or unsigned (the BADKEY/BADSIG error records
// of §5.3.2). HMAC is OpenSSL 3's EVP_MAC; each thread keeps one context per algorithm, so after its first signed
// message a thread computes MACs without allocating. Only signed messages come here: unsigned queries never touch
// this code. Any thread; no shared mutable state.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace dns {

enum class TsigAlgorithm : uint8_t { hmac_md5, hmac_sha1, hmac_sha224, hmac_sha256, hmac_sha384, hmac_sha512 };

// "hmac-sha256" (config spelling, case-insensitive; "hmac-md5.sig-alg.reg.int" is accepted for hmac-md5).
std::optional<TsigAlgorithm> tsig_algorithm_from_text(std::string_view text);
const char* tsig_algorithm_text(TsigAlgorithm a) noexcept;
// The algorithm's name in lower-case wire form as it goes into TSIG records (RFC 8945 §6).
std::string_view tsig_algorithm_wire(TsigAlgorithm a) noexcept;
// The HMAC's full output length in bytes.
uint16_t tsig_mac_size(TsigAlgorithm a) noexcept;
// RFC 8945 §5.2.2.1: the shortest MAC accepted at all, max(10, half the output length).
uint16_t tsig_min_mac_size(TsigAlgorithm a) noexcept;

// A configured key, ready for use.
struct TsigKey {
    std::string name;      // lower-case wire form
    std::string text_name; // "transfer-key." (for logs)
    TsigAlgorithm algorithm = TsigAlgorithm::hmac_sha256;
    std::vector<uint8_t> secret;
    // Local truncation policy (§5.2.4): a request whose MAC is shorter gets BADTRUNC. Between
    // tsig_min_mac_size() and tsig_mac_size(); the full length (no truncation accepted) unless configured.
    uint16_t min_mac_size = 0;
};

// Builds a key from its config form; nullopt with *err set when the name, algorithm, secret (base64) or
// min_mac_size (0 = the full length) is invalid.
std::optional<TsigKey> make_tsig_key(std::string_view name, std::string_view algorithm, std::string_view secret_b64,
                                     uint16_t min_mac_size, std::string* err);

// TSIG error codes (RFC 8945 §3; the 16-bit Error field).
namespace tsig_error {
inline constexpr uint16_t BADSIG = 16, BADKEY = 17, BADTIME = 18, BADTRUNC = 22;
}

inline constexpr uint16_t kTsigFudge = 300; // RFC 8945 §10: the recommended fudge, for what we sign

// The outcome of checking a request's TSIG record. Points into the request and the key list: valid while both are.
struct TsigCheck {
    enum class Status : uint8_t {
        ok,      // signed with `key`: answer normally and sign the answer
        formerr, // malformed TSIG, or a MAC size §5.2.2.1 forbids: answer FORMERR, unsigned, no TSIG record
        error,   // NOTAUTH with a TSIG record carrying `error`: unsigned for BADKEY/BADSIG, signed otherwise
    };
    Status status = Status::formerr;
    uint16_t error = 0;
    const TsigKey* key = nullptr; // the key that matched (name and algorithm); null for BADKEY and formerr
    // The request's record, for the response's record: key and algorithm names (wire, as sent), MAC, ids, times.
    std::string_view key_name, algorithm;
    const uint8_t* mac = nullptr;
    uint16_t mac_len = 0;
    uint16_t original_id = 0;
    uint64_t time_signed = 0;
    uint16_t fudge = 0;
    bool signed_error() const noexcept { return status == Status::error && key; }
};

// Checks the TSIG record at `tsig_offset` (the last record of the additional section) of `msg`, in RFC 8945 §5.2's
// order: key and algorithm (BADKEY), MAC size (FORMERR), MAC (BADSIG), time within fudge of `now_s` (BADTIME),
// local truncation policy (BADTRUNC).
TsigCheck tsig_check_request(const uint8_t* msg, size_t len, size_t tsig_offset, std::span<const TsigKey> keys,
                             uint64_t now_s) noexcept;

// Signs the answers to one request: the first message's MAC covers the request's MAC (§4.3.1), each later one the
// previous message's MAC and the timers only (§5.3.1). Fixed storage, no allocation; copyable.
class TsigSigner {
  public:
    TsigSigner() = default;
    // For a request tsig_check_request accepted (or rejected with a signed error: BADTIME, BADTRUNC).
    explicit TsigSigner(const TsigCheck& request) noexcept;
    bool valid() const noexcept { return key_ != nullptr; }
    const TsigKey* key() const noexcept { return key_; }
    // The most bytes sign() appends: keep this much room free in every message to be signed.
    size_t reserve() const noexcept;
    // Appends the TSIG record to the complete message buf[0, len) (cap bytes of room), adds it to ARCOUNT and
    // remembers its MAC for the next message. `error` != 0 only for the request's own signed error (BADTIME puts
    // the request's time in Time Signed and `now_s` in Other Data, §5.2.3). Returns the new length, or 0 when the
    // record does not fit (the message is unchanged then).
    size_t sign(uint8_t* buf, size_t len, size_t cap, uint64_t now_s, uint16_t error = 0) noexcept;

  private:
    const TsigKey* key_ = nullptr;
    uint8_t prior_mac_[64] = {};
    uint16_t prior_len_ = 0;
    uint16_t original_id_ = 0;
    uint64_t request_time_ = 0;
    bool first_ = true;
};

// Appends the unsigned error record of §5.3.2 (BADKEY, BADSIG: MAC size 0) for the request `request` to the
// message buf[0, len) and adds it to ARCOUNT. Returns the new length, or 0 when it does not fit.
size_t tsig_append_unsigned(uint8_t* buf, size_t len, size_t cap, const TsigCheck& request, uint64_t now_s) noexcept;

// Bytes tsig_append_unsigned() appends for `request`.
size_t tsig_unsigned_size(const TsigCheck& request) noexcept;

// For tests and clients: the TSIG record signing the request buf[0, len) with `key` at time `now_s` (MAC truncated
// to `mac_len` bytes when nonzero), appended and counted. Returns the new length or 0.
size_t tsig_sign_request(uint8_t* buf, size_t len, size_t cap, const TsigKey& key, uint64_t now_s,
                         uint16_t mac_len = 0) noexcept;

} // namespace dns
