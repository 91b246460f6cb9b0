#include "dns/dnssec/zone_signer.h"

#include <algorithm>
#include <atomic>
#include <vector>

#include "dns/dnssec/compact_denial.h"
#include "dns/wire/dns_constants.h"
#include "dns/wire/dns_name.h"
#include "dns/zone/zone_db.h"

// Last: ldns's headers define `bool` as a macro that breaks <optional>.
#include <ldns/ldns.h>

namespace dns {

namespace {

constexpr uint16_t kNsec3 = 50, kNsec3Param = 51;

// The wire RDATA of an ldns record.
std::string rdata_of(const ldns_rr* rr) {
    ldns_buffer* b = ldns_buffer_new(512);
    std::string out;
    if (b && ldns_rr_rdata2buffer_wire(b, rr) == LDNS_STATUS_OK)
        out.assign(reinterpret_cast<const char*>(ldns_buffer_begin(b)), ldns_buffer_position(b));
    ldns_buffer_free(b);
    return out;
}

void add_record(RRset& set, const std::string& rd) {
    // The same record once (a zone file may already publish one of our keys).
    for (size_t pos = 0; pos + 2 <= set.rdata.size();) {
        size_t len = (static_cast<uint8_t>(set.rdata[pos]) << 8) | static_cast<uint8_t>(set.rdata[pos + 1]);
        if (set.rdata.compare(pos + 2, len, rd) == 0 && len == rd.size()) return;
        pos += 2 + len;
    }
    set.rdata.push_back(static_cast<char>(rd.size() >> 8));
    set.rdata.push_back(static_cast<char>(rd.size()));
    set.rdata.append(rd);
    set.count++;
}

RRset& rrset_at(Node& n, uint16_t type, uint32_t ttl) {
    for (auto& s : n.rrsets)
        if (s.type == type) return s;
    n.rrsets.push_back(RRset{type, ttl, 0, {}, {}, 0});
    return n.rrsets.back();
}

// True when a zone cut lies strictly between the apex and `name` (the name's data is then glue or occluded).
bool below_cut(const Zone& z, std::string_view name) {
    size_t pos = 0;
    while (name.size() - pos > z.apex.size()) {
        pos += 1u + static_cast<uint8_t>(name[pos]);
        std::string_view anc = name.substr(pos);
        if (anc.size() <= z.apex.size()) break;
        const Node* a = z.find(anc);
        if (a && a->delegation) return true;
    }
    return false;
}

} // namespace

std::unique_ptr<ZoneSigner> ZoneSigner::make(std::shared_ptr<const DnssecKey> ksk, std::shared_ptr<const DnssecKey> zsk,
                                             const ZoneSigningPolicy& policy, std::string* err) {
    if (!ksk) {
        *err = "no key-signing key";
        return nullptr;
    }
    if (zsk && zsk->zone() != ksk->zone()) {
        *err = "the zone-signing key is for " + zsk->zone() + ", the key-signing key for " + ksk->zone();
        return nullptr;
    }
    if (policy.refresh_s >= policy.validity_s) {
        *err = "signature_refresh must be shorter than signature_validity";
        return nullptr;
    }
    std::unique_ptr<ZoneSigner> s(new ZoneSigner);
    auto apex = name_from_text(ksk->zone());
    if (!apex) {
        *err = "bad zone name in key: " + ksk->zone();
        return nullptr;
    }
    s->ksk_ = std::move(ksk);
    s->zsk_ = std::move(zsk);
    s->policy_ = policy;
    s->ksk_signer_ = std::make_unique<RrsigSigner>(*s->ksk_, to_lower(*apex));
    s->zsk_signer_ = std::make_unique<RrsigSigner>(s->zsk_ ? *s->zsk_ : *s->ksk_, to_lower(*apex));
    return s;
}

SignatureWindow ZoneSigner::window(uint64_t now_s) const noexcept {
    SignatureWindow w;
    w.inception = static_cast<uint32_t>(now_s - std::min<uint64_t>(now_s, kSignatureBackdate));
    w.expiration = static_cast<uint32_t>(now_s + policy_.validity_s);
    return w;
}

bool ZoneSigner::add_key_records(Zone& zone, std::string* err) const {
    for (const Node& n : zone.node_list())
        for (const RRset& s : n.rrsets)
            if (s.type == rrtype::RRSIG || s.type == kNsecType || s.type == kNsec3 || s.type == kNsec3Param) {
                *err = "zone " + zone.apex_text + " holds " +
                       (s.type == rrtype::RRSIG ? "RRSIG"
                        : s.type == kNsecType   ? "NSEC"
                                                : "NSEC3") +
                       " records at " + name_to_text(n.name) +
                       ": it is signed already (remove them, or remove [zone.dnssec])";
                return false;
            }
    Node& apex = zone.node(zone.apex);
    RRset& keys = rrset_at(apex, kDnskeyType, policy_.dnskey_ttl);
    add_record(keys, rdata_of(ksk_->dnskey_rr()));
    if (zsk_) add_record(keys, rdata_of(zsk_->dnskey_rr()));
    if (policy_.publish_cds) {
        RRset& cdnskey = rrset_at(apex, kCdnskeyType, policy_.dnskey_ttl);
        add_record(cdnskey, rdata_of(ksk_->dnskey_rr()));
        ldns_rr* ds = ldns_key_rr2ds(ksk_->dnskey_rr(), LDNS_SHA256);
        if (!ds) {
            *err = "cannot compute the CDS of the key-signing key";
            return false;
        }
        add_record(rrset_at(apex, kCdsType, policy_.dnskey_ttl), rdata_of(ds));
        ldns_rr_free(ds);
    }
    return true;
}

bool ZoneSigner::sign_rrset(std::string_view owner, RRset& set, uint64_t now_s) const {
    set.sigs.clear();
    set.sig_count = 0;
    // The DNSKEY set is what the parent's DS vouches for through the KSK; CDS/CDNSKEY too (RFC 7344 §4.1).
    bool by_ksk = set.type == kDnskeyType || set.type == kCdsType || set.type == kCdnskeyType;
    const RrsigSigner& s = by_ksk ? *ksk_signer_ : *zsk_signer_;
    if (!s.sign(owner, set.type, set.ttl, set.rdata, window(now_s), &set.sigs)) return false;
    set.sig_count = 1;
    return true;
}

bool ZoneSigner::sign_online(std::string_view owner, uint16_t type, uint32_t ttl, std::string_view records,
                             uint64_t now_s, std::string* out) const {
    return zsk_signer_->sign(owner, type, ttl, records, window(now_s), out);
}

bool ZoneSigner::set_denial(Zone& zone, size_t i, const std::string& rd, uint64_t now_s, std::string* err) const {
    const Node& n = zone.node_list()[i];
    RRset& d = zone.denial[i];
    d.type = kNsecType;
    d.ttl = zone.negative_ttl; // RFC 9077: the smaller of the SOA's TTL and MINIMUM
    d.count = 1;
    d.rdata.push_back(static_cast<char>(rd.size() >> 8));
    d.rdata.push_back(static_cast<char>(rd.size()));
    d.rdata.append(rd);
    if (sign_rrset(n.name, d, now_s)) return true;
    *err = "cannot sign the NSEC of " + name_to_text(n.name) + " (OpenSSL)";
    return false;
}

bool ZoneSigner::sign(Zone& zone, uint64_t now_s, std::string* err) const {
    std::vector<Node>& nodes = zone.node_list();
    zone.denial.assign(nodes.size(), RRset{});
    zone.nsec_chain = NsecChain{};
    const bool chain = policy_.denial == DenialMode::nsec;
    std::vector<std::string> bitmaps(chain ? nodes.size() : 0); // a chain's NSECs wait for the chain's order
    std::vector<uint16_t> types;
    for (size_t i = 0; i < nodes.size(); i++) {
        Node& n = nodes[i];
        if (!is_subdomain(n.name, zone.apex) || below_cut(zone, n.name)) continue; // glue and occluded data
        types.clear();
        for (RRset& set : n.rrsets) {
            // At a cut the parent is authoritative for DS alone (RFC 4035 §2.2); NS and glue stay unsigned.
            if (n.delegation && set.type != rrtype::DS) {
                if (set.type == rrtype::NS) types.push_back(set.type);
                continue;
            }
            types.push_back(set.type);
            if (!sign_rrset(n.name, set, now_s)) {
                *err = "cannot sign " + name_to_text(n.name) + " (OpenSSL)";
                return false;
            }
        }
        if (n.steered_types & kSteersA) types.push_back(rrtype::A);
        if (n.steered_types & kSteersAaaa) types.push_back(rrtype::AAAA);
        types.push_back(rrtype::RRSIG);
        types.push_back(kNsecType);
        if (chain) {
            if (types.size() == 2) continue; // an empty non-terminal owns no NSEC in a chain (RFC 4035 §2.3)
            bitmaps[i] = nsec_type_bitmap(types);
            zone.nsec_chain.add(n.name, static_cast<uint32_t>(i));
            continue;
        }
        std::string rd = compact_nsec_rdata(n.name, nsec_type_bitmap(types));
        if (rd.empty()) continue; // a name of 254 bytes or more has no successor: no NSEC, as for a name
        if (!set_denial(zone, i, rd, now_s, err)) return false;
    }
    if (chain) {
        zone.nsec_chain.seal();
        size_t count = zone.nsec_chain.size();
        for (size_t k = 0; k < count; k++) {
            uint32_t i = zone.nsec_chain.node_at(k);
            // The last name's NSEC points back at the apex, which sorts first (RFC 4034 §4.1.1).
            const std::string& next = nodes[zone.nsec_chain.node_at((k + 1) % count)].name;
            if (!set_denial(zone, i, next + bitmaps[i], now_s, err)) return false;
        }
    }
    zone.resign_at = now_s + policy_.validity_s - policy_.refresh_s;
    static std::atomic<uint64_t> signings{0};
    zone.signing_id = ++signings;
    return true;
}

} // namespace dns
