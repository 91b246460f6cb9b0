// Online signing of one zone (issue 12): what Route53's DNSSEC signing does, from keys the operator holds.
//
// At load, on the loading thread: add_key_records() publishes the DNSKEY set (KSK and ZSK), CDS and CDNSKEY
// (RFC 7344, so the parent can take the DS automatically) at the apex; sign() then gives every authoritative RRset
// its RRSIG (the DNSKEY set by the KSK, the rest by the ZSK; at a zone cut only DS) and every authoritative name its
// NSEC, signed, for NODATA answers and insecure referrals. The query path then signs nothing for positive answers,
// NODATA or referrals.
//
// With compact denial (the default) that NSEC is the name's compact-denial NSEC (dns/dnssec/compact_denial.h), and
// what exists only per query — the NSEC of a name that does not exist, and records synthesized from a wildcard
// (signed as if the name existed, RFC 9824 §3.2, so no proof of the wildcard's use is needed) — is signed by
// sign_online() as it is answered. With an NSEC chain (DenialMode::nsec) it is the name's link in the chain, and
// NXDOMAIN and wildcard answers are proven by NSECs of the chain and the wildcard's own RRSIGs, all made at load.
//
// Signatures are valid from one hour before signing (clocks of validators run behind) for `validity`; the daemon
// re-signs (dns_app's re-sign timer) once `refresh` or less of that remains.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "dns/dnssec/dnssec_key.h"
#include "dns/dnssec/rrsig.h"

namespace dns {

class Zone;
struct RRset;

// How names that do not exist (and types a name lacks) are proven absent.
enum class DenialMode : uint8_t {
    compact, // RFC 9824 compact denial: one NSEC at the query name, signed per query for names that do not exist
    nsec,    // the classic NSEC chain (dns/dnssec/nsec_chain.h), all signed at load: no signing per query
};

struct ZoneSigningPolicy {
    DenialMode denial = DenialMode::compact;
    uint32_t validity_s = 14 * 86400;
    uint32_t refresh_s = 7 * 86400;
    uint32_t dnskey_ttl = 3600;
    bool publish_cds = true; // CDS and CDNSKEY of the KSK at the apex
};

inline constexpr uint32_t kSignatureBackdate = 3600;

class ZoneSigner {
  public:
    // `zsk` may be null: the KSK then signs everything (a combined signing key). Both must belong to the zone.
    static std::unique_ptr<ZoneSigner> make(std::shared_ptr<const DnssecKey> ksk, std::shared_ptr<const DnssecKey> zsk,
                                            const ZoneSigningPolicy& policy, std::string* err);

    // Before Zone::finalize(): adds the key records at the apex (merged with DNSKEYs the zone file publishes, e.g.
    // a key being introduced). False with *err when the zone holds RRSIG, NSEC or NSEC3 records of its own.
    bool add_key_records(Zone& zone, std::string* err) const;
    // After finalize(), before the zone is shared: the RRSIGs and NODATA NSECs described above, valid from `now_s`.
    // False with *err when OpenSSL fails.
    bool sign(Zone& zone, uint64_t now_s, std::string* err) const;

    // RRSIG RDATA for an RRset answered per query, valid from now_s; appended to *out ([u16 length][rdata]).
    bool sign_online(std::string_view owner, uint16_t type, uint32_t ttl, std::string_view records, uint64_t now_s,
                     std::string* out) const;
    // Signs `set` in place (its RRSIGs replace any it had) with the key for its type.
    bool sign_rrset(std::string_view owner, RRset& set, uint64_t now_s) const;

    SignatureWindow window(uint64_t now_s) const noexcept;
    const ZoneSigningPolicy& policy() const noexcept { return policy_; }
    const DnssecKey& ksk() const noexcept { return *ksk_; }

  private:
    ZoneSigner() = default;
    // Installs `rd` as node i's NSEC RDATA, signed.
    bool set_denial(Zone& zone, size_t i, const std::string& rd, uint64_t now_s, std::string* err) const;
    std::shared_ptr<const DnssecKey> ksk_, zsk_;
    std::unique_ptr<RrsigSigner> ksk_signer_, zsk_signer_;
    ZoneSigningPolicy policy_;
};

} // namespace dns
