// RRSIG records (RFC 4034 §3) made with a zone's keys: the RRset in canonical form (§6), the data that is signed
// (§3.1.8.1) and the signature in DNSSEC's encoding (RFC 6605 §4: r||s for ECDSA P-256; RFC 8080: Ed25519's own),
// computed by OpenSSL. Used at load for every RRset of a signed zone, when geo answers are rendered, and on the
// query path for the few answers that only exist per query (compact denial, wildcard expansions).
//
// Thread: an RrsigSigner is immutable once made; sign() may run on any number of threads at once (OpenSSL 3 shares
// an EVP_PKEY between signing contexts).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

struct evp_md_ctx_st;

namespace dns {

class DnssecKey;

struct SignatureWindow {
    uint32_t inception = 0; // seconds since the epoch (RFC 4034 §3.1.5: serial-number arithmetic)
    uint32_t expiration = 0;
};

// The canonical RDATA of one record (RFC 4034 §6.2 with RFC 6840 §5.1's list): names inside it lower-cased for the
// types whose RDATA names are compared that way; other types unchanged.
std::string canonical_rdata(uint16_t type, std::string_view rdata);

class RrsigSigner {
  public:
    // `key` must outlive the signer. `signer_name`: the zone apex (lower-case wire).
    RrsigSigner(const DnssecKey& key, std::string signer_name);

    // Appends one RRSIG RDATA covering the RRset (`count` records, each [u16 length][rdata], names uncompressed) of
    // `owner` (lower-case wire; a wildcard owner "*.x" gives the labels count of x) to *out as [u16 length][rdata].
    // False when OpenSSL fails (nothing appended).
    bool sign(std::string_view owner, uint16_t type, uint32_t ttl, std::string_view records, SignatureWindow window,
              std::string* out) const;

    uint16_t key_tag() const noexcept { return tag_; }
    uint8_t algorithm() const noexcept { return alg_; }

    ~RrsigSigner();
    RrsigSigner(const RrsigSigner&) = delete;
    RrsigSigner& operator=(const RrsigSigner&) = delete;

  private:
    // A signing context set up once (key and digest bound): each signature copies it, which skips OpenSSL 3's
    // per-init provider fetch and key setup (a third of a signature's cost).
    evp_md_ctx_st* proto_ = nullptr;
    const DnssecKey& key_;
    std::string signer_;
    uint16_t tag_ = 0;
    uint8_t alg_ = 0;
};

} // namespace dns
