#include "dns/engine/query_engine.h"

#include <algorithm>
#include <cstring>

#include "dns/dnssec/compact_denial.h"
#include "dns/dnssec/signature_cache.h"
#include "dns/dnssec/zone_signer.h"
#include "dns/engine/rr_writer.h"
#include "dns/wire/dns_constants.h"
#include "dns/wire/query.h"
#include "dns/wire/wire_writer.h"

namespace dns {
namespace {

constexpr unsigned kMaxCnameChain = 8;
constexpr uint16_t kMaxMessage = 65535;

enum class Section : uint8_t { answer, authority, additional };

std::string_view as_sv(const uint8_t* p, size_t n) noexcept {
    return {reinterpret_cast<const char*>(p), n};
}

class Responder {
  public:
    Responder(const ZoneDb& db, const EngineConfig& cfg, const QueryContext& ctx, const ParsedQuery& q,
              WireWriter& w) noexcept
        : db_(db), cfg_(cfg), ctx_(ctx), q_(q), w_(w) {}

    void run() noexcept;
    void truncate() noexcept {
        tc = true;
        w_.rewind(q_.question_end);
        an = ns = ar = 0;
    }
    uint16_t an = 0, ns = 0, ar = 0;
    uint16_t rcode = rcode::NOERROR;
    bool aa = false;
    bool tc = false;
    uint8_t ecs_scope = 0;
    const Zone* zone = nullptr;
    const Node* cut = nullptr; // the delegation of a referral
    bool transfer = false;

  private:
    // Writes a whole RRset (with its RRSIGs when the answer is signed); false (with nothing written) when it does
    // not fit. `synthesized`: the owner is a name a wildcard stands for, so the RRset is signed for it now.
    bool put_rrset(std::string_view owner, const RRset& set, uint32_t ttl, Section sec,
                   bool synthesized = false) noexcept;
    // Answer/authority data that must fit, else TC.
    bool must(std::string_view owner, const RRset& set, uint32_t ttl, Section sec, bool synthesized = false) noexcept {
        if (tc) return false;
        if (put_rrset(owner, set, ttl, sec, synthesized)) return true;
        truncate();
        return false;
    }
    // NODATA / NXDOMAIN authority: the SOA and, in a signed answer, the denial for `name` (see deny()).
    void negative(const Zone& z, std::string_view name, const Node* node, bool synthesized = false,
                  uint16_t absent = 0) noexcept {
        if (!must(z.apex, *z.soa, z.negative_ttl, Section::authority)) return;
        if (!dnssec_) return;
        if (nsec_chain_)
            chain_deny(z, name, node, synthesized, absent);
        else
            deny(z, name, node, synthesized, absent);
    }
    // RFC 9824: one NSEC at `name` listing what `node` holds (or NXNAME when there is no node): the one signed at
    // load for a node of the zone, else built and signed now (a name a wildcard answers, a name that does not
    // exist). `absent`: a type the node holds only for other clients (a steered address answered NODATA).
    void deny(const Zone& z, std::string_view name, const Node* node, bool synthesized, uint16_t absent) noexcept;
    // The same from the zone's NSEC chain (RFC 4035 §3.1.3): the name's own NSEC for NODATA, the NSEC covering it
    // (an empty non-terminal, a name that does not exist or that a wildcard answers), the wildcard's NSEC for a
    // wildcard NODATA, and for NXDOMAIN also the NSEC covering the wildcard of the closest encloser.
    void chain_deny(const Zone& z, std::string_view name, const Node* node, bool synthesized, uint16_t absent) noexcept;
    // The chain's NSEC at or before `name` (for a name the chain does not hold: the one that covers it), once per
    // answer.
    void chain_nsec(const Zone& z, std::string_view name) noexcept;
    // The NSEC of `node` (its bitmap without `absent`, next name from the chain), signed now: a steered type this
    // client gets no answer for.
    void nsec_without(const Zone& z, const Node& node, std::string_view next, uint16_t absent) noexcept;
    // Writes the NSEC record `rec` ([u16 length][rdata]) at `owner` in authority with its signature made now.
    void put_online_nsec(const Zone& z, std::string_view owner, const uint8_t* rec, size_t len) noexcept;
    // Writes the RRSIG of an RRset answered per query (`records` of `type` at `owner`), from the thread's cache or
    // signed now. 1 = written (*count += 1), 0 = no signature (signing failed), -1 = no room.
    int online_rrsig(std::string_view owner, uint16_t type, uint32_t set_ttl, std::string_view records,
                     uint32_t ttl) noexcept;
    void referral(const Zone& z, const Node& cut) noexcept;
    void dname(const Zone& z, const Node& owner, const NameBuf& name, unsigned prefix_labels, unsigned depth) noexcept;
    void answer_node(const Zone& z, const Node& node, std::string_view owner, unsigned depth,
                     bool synthesized = false) noexcept;
    void resolve(const Zone& z, const NameBuf& name, unsigned skip, unsigned depth) noexcept;
    void add_addresses(const Zone& z, std::string_view target) noexcept;
    void additional_for(const Zone& z, const RRset& set) noexcept;
    bool steered(const Node& node, std::string_view owner) noexcept;
    // Writes up to `count` pre-rendered records (each starting with a 2-byte owner placeholder) at `rrs` with owner
    // `owner`; returns how many were whole within `len`.
    uint16_t put_rendered(const uint8_t* rrs, size_t len, uint16_t count, std::string_view owner) noexcept;
    void chaos() noexcept;

    const ZoneDb& db_;
    const EngineConfig& cfg_;
    const QueryContext& ctx_;
    const ParsedQuery& q_;
    WireWriter& w_;
    bool additional_full_ = false;
    bool dnssec_ = false;                // DO=1 on a signed zone: RRSIGs and denial of existence (RFC 4035 §3.1)
    bool nsec_chain_ = false;            // ... whose denial is an NSEC chain
    const Node* nx_encloser_ = nullptr;  // NXDOMAIN: the closest encloser (its wildcard is proven absent)
    const RRset* chain_written_[4] = {}; // the chain's NSECs in the answer already
    unsigned chain_written_len_ = 0;
    const Node* chain_[kMaxCnameChain] = {}; // CNAME owners already answered (loop detection)
    unsigned chain_len_ = 0;
};

bool Responder::put_rrset(std::string_view owner, const RRset& set, uint32_t ttl, Section sec,
                          bool synthesized) noexcept {
    size_t mark = w_.pos();
    if (!write_rrset(w_, owner, set, ttl)) return false;
    uint16_t sigs = 0;
    // Compact denial: signed as the name itself (labels = its own), so no proof that the wildcard applied is needed.
    // A chain answers with the wildcard's own signatures and an NSEC proving no closer match (answer_node()), except
    // for a CNAME, whose proof could not follow the answers of the chase: signed as the name too.
    if (dnssec_ && synthesized && (!nsec_chain_ || set.type == rrtype::CNAME) && zone && zone->signer) {
        int r = online_rrsig(owner, set.type, set.ttl, set.rdata, ttl);
        if (r < 0) {
            w_.rewind(mark);
            return false;
        }
        sigs = static_cast<uint16_t>(r);
    } else if (dnssec_ && set.sig_count) {
        if (!write_rrsigs(w_, owner, set, ttl)) {
            w_.rewind(mark); // RFC 4035 §3.1.1: an RRset goes with its RRSIGs or not at all
            return false;
        }
        sigs = set.sig_count;
    }
    uint16_t& count = sec == Section::answer ? an : sec == Section::authority ? ns : ar;
    count = static_cast<uint16_t>(count + set.count + sigs);
    return true;
}

int Responder::online_rrsig(std::string_view owner, uint16_t type, uint32_t set_ttl, std::string_view records,
                            uint32_t ttl) noexcept {
    SignatureCache* cache = ctx_.signatures;
    std::string_view sigs;
    if (cache) sigs = cache->find(zone->signing_id, owner, type, set_ttl, records, ctx_.now_s);
    std::string made;
    if (sigs.empty()) {
        if (!zone->signer->sign_online(owner, type, set_ttl, records, ctx_.now_s, &made)) return 0;
        if (cache) cache->store(zone->signing_id, owner, type, set_ttl, records, made, ctx_.now_s);
        sigs = made;
    }
    return write_rrsigs(w_, owner, sigs, ttl) ? 1 : -1;
}

void Responder::deny(const Zone& z, std::string_view name, const Node* node, bool synthesized,
                     uint16_t absent) noexcept {
    if (node && !synthesized && !absent) {
        if (const RRset* d = z.denial_of(*node)) must(node->name, *d, d->ttl, Section::authority);
        return;
    }
    uint16_t types[64];
    size_t n = 0;
    if (node) {
        for (const RRset& s : node->rrsets)
            if (s.type != absent && n < 60) types[n++] = s.type;
        if ((node->steered_types & kSteersA) && absent != rrtype::A) types[n++] = rrtype::A;
        if ((node->steered_types & kSteersAaaa) && absent != rrtype::AAAA) types[n++] = rrtype::AAAA;
    } else {
        types[n++] = kNxnameType;
    }
    types[n++] = rrtype::RRSIG;
    types[n++] = kNsecType;
    if (name.size() + 2 > kMaxNameLen) return; // no successor name fits: no NSEC (compact_nsec_rdata's rule)
    // The NSEC as one [u16 length][rdata] record: next name "\000.<name>", then the bitmap. Built on the stack.
    uint8_t rec[2 + 2 + kMaxNameLen + 64 * 34];
    size_t len = 0;
    rec[2 + len++] = 1;
    rec[2 + len++] = 0;
    std::memcpy(rec + 2 + len, name.data(), name.size());
    len += name.size();
    len += nsec_type_bitmap(types, n, rec + 2 + len);
    put_online_nsec(z, name, rec, len);
}

void Responder::put_online_nsec(const Zone& z, std::string_view owner, const uint8_t* rec, size_t len) noexcept {
    uint8_t* r0 = const_cast<uint8_t*>(rec);
    r0[0] = static_cast<uint8_t>(len >> 8);
    r0[1] = static_cast<uint8_t>(len);
    if (tc) return;
    size_t mark = w_.pos();
    uint32_t ttl = z.negative_ttl;
    if (!write_record(w_, owner, kNsecType, ttl, rec + 2, static_cast<uint16_t>(len))) return truncate();
    int r = online_rrsig(owner, kNsecType, ttl, as_sv(rec, len + 2), ttl);
    if (r < 0) {
        w_.rewind(mark);
        return truncate();
    }
    ns = static_cast<uint16_t>(ns + 1 + r);
}

void Responder::chain_nsec(const Zone& z, std::string_view name) noexcept {
    if (z.nsec_chain.empty()) return;
    const Node& owner = z.node_list()[z.nsec_chain.node_at(z.nsec_chain.floor(name))];
    const RRset* d = z.denial_of(owner);
    if (!d) return;
    for (unsigned i = 0; i < chain_written_len_; i++)
        if (chain_written_[i] == d) return; // one NSEC may prove two things (RFC 4035 §3.1.3.2)
    if (chain_written_len_ < 4) chain_written_[chain_written_len_++] = d;
    must(owner.name, *d, d->ttl, Section::authority);
}

void Responder::nsec_without(const Zone& z, const Node& node, std::string_view next, uint16_t absent) noexcept {
    uint16_t types[64];
    size_t n = 0;
    for (const RRset& s : node.rrsets)
        if (s.type != absent && n < 60) types[n++] = s.type;
    if ((node.steered_types & kSteersA) && absent != rrtype::A) types[n++] = rrtype::A;
    if ((node.steered_types & kSteersAaaa) && absent != rrtype::AAAA) types[n++] = rrtype::AAAA;
    types[n++] = rrtype::RRSIG;
    types[n++] = kNsecType;
    uint8_t rec[2 + kMaxNameLen + 64 * 34];
    std::memcpy(rec + 2, next.data(), next.size());
    size_t len = next.size() + nsec_type_bitmap(types, n, rec + 2 + next.size());
    put_online_nsec(z, node.name, rec, len);
}

void Responder::chain_deny(const Zone& z, std::string_view name, const Node* node, bool synthesized,
                           uint16_t absent) noexcept {
    if (!node) {
        // RFC 4035 §3.1.3.2: no such name, and no wildcard at the closest encloser to stand for it.
        chain_nsec(z, name);
        if (nx_encloser_ && nx_encloser_->name.size() + 2 <= kMaxNameLen) {
            uint8_t wc[kMaxNameLen + 2];
            wc[0] = 1;
            wc[1] = '*';
            std::memcpy(wc + 2, nx_encloser_->name.data(), nx_encloser_->name.size());
            chain_nsec(z, as_sv(wc, nx_encloser_->name.size() + 2));
        }
        return;
    }
    const RRset* own = z.denial_of(*node);
    if (absent && own && own->count) {
        // The chain's record lists the steered type; this client's NODATA needs a bitmap without it.
        const auto* rd = reinterpret_cast<const uint8_t*>(own->rdata.data()) + 2;
        size_t rdlen = own->rdata.size() - 2;
        size_t next = rdata_name_len(rd, rdlen);
        if (next) nsec_without(z, *node, as_sv(rd, next), absent);
    } else if (own) {
        must(node->name, *own, own->ttl, Section::authority); // §3.1.3.1 (for a wildcard: §3.1.3.4)
    } else {
        chain_nsec(z, name); // an empty non-terminal: the NSEC before it, whose next name lies below it
    }
    if (synthesized) chain_nsec(z, name); // §3.1.3.4: and no closer match than the wildcard
}

void Responder::add_addresses(const Zone& z, std::string_view target) noexcept {
    if (additional_full_ || tc) return;
    if (!is_subdomain(target, z.apex)) return;
    const Node* n = z.find(target);
    if (!n) return;
    for (uint16_t t : {rrtype::A, rrtype::AAAA}) {
        const RRset* s = n->find(t);
        if (s && !put_rrset(target, *s, s->ttl, Section::additional)) {
            additional_full_ = true; // RFC 2181 §9: additional data is optional, so no TC
            return;
        }
    }
}

void Responder::additional_for(const Zone& z, const RRset& set) noexcept {
    set.for_each([&](const uint8_t* p, uint16_t len) {
        size_t off = 0;
        if (set.type == rrtype::MX)
            off = 2;
        else if (set.type == rrtype::SRV)
            off = 6;
        else if (set.type != rrtype::NS)
            return;
        if (len <= off) return;
        size_t n = rdata_name_len(p + off, len - off);
        if (n) {
            NameBuf lower;
            if (lower.assign_lower(p + off, n)) add_addresses(z, lower.view());
        }
    });
}

void Responder::referral(const Zone& z, const Node& cut) noexcept {
    const RRset* nsset = cut.find(rrtype::NS);
    if (!nsset) return;
    if (an == 0) aa = false; // RFC 1034 §4.3.2 step 3b: a referral is not authoritative
    this->cut = &cut;
    if (!must(cut.name, *nsset, nsset->ttl, Section::authority)) return;
    if (dnssec_) {
        // RFC 4035 §3.1.4: the child's DS, signed, or the signed proof that it has none (an insecure delegation).
        if (const RRset* ds = cut.find(rrtype::DS)) {
            if (!must(cut.name, *ds, ds->ttl, Section::authority)) return;
        } else if (const RRset* d = z.denial_of(cut)) {
            if (!must(cut.name, *d, d->ttl, Section::authority)) return;
        }
    }
    // Glue: address records of the NS targets we hold (in-bailiwick or elsewhere in the zone).
    additional_for(z, *nsset);
}

uint16_t Responder::put_rendered(const uint8_t* rrs, size_t len, uint16_t count, std::string_view owner) noexcept {
    size_t pos = 0;
    uint16_t written = 0;
    while (written < count && pos + 12 <= len) {
        const uint8_t* rr = rrs + pos;
        uint16_t rdlen = static_cast<uint16_t>((rr[10] << 8) | rr[11]);
        if (pos + 12 + rdlen > len) break;
        w_.name(owner);
        w_.bytes(rr + 2, 10u + rdlen);
        pos += 12 + rdlen;
        written++;
    }
    return written;
}

bool Responder::steered(const Node& node, std::string_view owner) noexcept {
    if (!cfg_.steering || node.steer == kNotSteered) return false;
    if (q_.qtype != rrtype::A && q_.qtype != rrtype::AAAA) return false;
    SteeredAnswer sa;
    sa.trace = ctx_.steering_trace;
    if (!cfg_.steering->answer(node.name, q_.qtype, q_.ecs, ctx_.client, ctx_.worker, &sa)) return false;
    ecs_scope = sa.scope_prefix;
    if (sa.nodata || sa.rr_count == 0) return false; // falls through to NODATA (no static data of this type)
    size_t mark = w_.pos();
    uint16_t written = put_rendered(sa.records, sa.len, sa.rr_count, owner);
    uint16_t sigs = dnssec_ && written == sa.rr_count ? put_rendered(sa.sigs, sa.sigs_len, sa.sig_count, owner) : 0;
    if (!w_.ok()) {
        w_.rewind(mark);
        truncate();
        return true;
    }
    an = static_cast<uint16_t>(an + written + sigs);
    return true;
}

void Responder::answer_node(const Zone& z, const Node& node, std::string_view owner, unsigned depth,
                            bool synthesized) noexcept {
    if (depth == 0) aa = true;
    if (steered(node, owner)) return;
    if (tc) return;
    if (q_.qtype == rrtype::ANY) {
        // RFC 8482 §4.1: answer with one RRset of our choice (the first, SOA at the apex).
        if (node.rrsets.empty()) return negative(z, owner, &node, synthesized);
        const RRset& s = node.rrsets.front();
        if (must(owner, s, s.ttl, Section::answer, synthesized) && synthesized && nsec_chain_ && dnssec_)
            chain_nsec(z, owner);
        return;
    }
    const RRset* cname = node.find(rrtype::CNAME);
    if (cname && q_.qtype != rrtype::CNAME) {
        for (unsigned i = 0; i < chain_len_; i++)
            if (chain_[i] == &node) return; // a loop: every CNAME of it is in the answer already
        if (chain_len_ < kMaxCnameChain) chain_[chain_len_++] = &node;
        if (!must(owner, *cname, cname->ttl, Section::answer, synthesized)) return;
        if (depth + 1 >= kMaxCnameChain) return;
        const uint8_t* target = nullptr;
        uint16_t tlen = 0;
        cname->for_each([&](const uint8_t* p, uint16_t len) {
            target = p;
            tlen = len;
        });
        NameBuf next;
        if (!target || !next.assign_lower(target, tlen)) return;
        // In-zone chasing only (RFC 1034 §4.3.2 step 3a restarts within our data; other zones are the resolver's).
        if (!is_subdomain(next.view(), z.apex)) return;
        unsigned skip = next.labels - label_count(z.apex);
        return resolve(z, next, skip, depth + 1);
    }
    const RRset* set = node.find(q_.qtype);
    if (!set) {
        // NODATA; a steered type with no answer for this client is absent for it alone.
        bool steered_type = (q_.qtype == rrtype::A && (node.steered_types & kSteersA)) ||
                            (q_.qtype == rrtype::AAAA && (node.steered_types & kSteersAaaa));
        return negative(z, owner, &node, synthesized, steered_type ? q_.qtype : 0);
    }
    if (!must(owner, *set, set->ttl, Section::answer, synthesized)) return;
    if (synthesized && nsec_chain_ && dnssec_) chain_nsec(z, owner); // RFC 4035 §3.1.3.3: no closer match exists
    additional_for(z, *set);
}

void Responder::resolve(const Zone& z, const NameBuf& name, unsigned skip, unsigned depth) noexcept {
    // A loop of CNAMEs comes back to an owner already in the answer; the depth bound ends it.
    const Node* encloser = z.apex_node;
    bool exact = skip == 0;
    for (int i = static_cast<int>(skip) - 1; i >= 0; i--) {
        const Node* n = z.find(name.suffix(static_cast<unsigned>(i)));
        if (!n) break;
        encloser = n;
        // The parent side answers DS at a cut (RFC 4035 §3.1.4.1); everything else at or below it is a referral.
        if (n->delegation && !(i == 0 && q_.qtype == rrtype::DS && depth == 0)) return referral(z, *n);
        if (i > 0 && n->find(rrtype::DNAME)) return dname(z, *n, name, static_cast<unsigned>(i), depth);
        if (i == 0) exact = true;
    }
    if (exact) return answer_node(z, *encloser, name.view(), depth);
    // RFC 4592 §3.3.1: the source of synthesis is "*." + the closest encloser.
    uint8_t wc[kMaxNameLen + 2];
    if (encloser->name.size() + 2 <= kMaxNameLen) {
        wc[0] = 1;
        wc[1] = '*';
        std::memcpy(wc + 2, encloser->name.data(), encloser->name.size());
        const Node* w = z.find(as_sv(wc, encloser->name.size() + 2));
        if (w) return answer_node(z, *w, name.view(), depth, true);
    }
    if (depth == 0) aa = true;
    rcode = rcode::NXDOMAIN; // RFC 6604: the rcode describes the last name in a CNAME chain
    // RFC 9824 §3.3: a compact denial says the name has nothing at all (NXNAME) under NOERROR, unless the client
    // said it takes NXDOMAIN with it (CO).
    if (dnssec_ && !nsec_chain_ && !q_.co_bit) rcode = rcode::NOERROR;
    nx_encloser_ = encloser;
    negative(z, name.view(), nullptr);
}

void Responder::dname(const Zone& z, const Node& owner, const NameBuf& name, unsigned prefix_labels,
                      unsigned depth) noexcept {
    const RRset* d = owner.find(rrtype::DNAME);
    if (depth == 0) aa = true;
    if (!must(owner.name, *d, d->ttl, Section::answer)) return;
    const uint8_t* target = nullptr;
    uint16_t tlen = 0;
    d->for_each([&](const uint8_t* p, uint16_t len) {
        target = p;
        tlen = len;
    });
    // RFC 6672 §3.1: the labels of the name in front of the DNAME owner, followed by the DNAME target.
    size_t prefix = name.offsets[prefix_labels - 1] + name.data[name.offsets[prefix_labels - 1]] + 1u;
    if (!target || prefix + tlen > kMaxNameLen) {
        rcode = rcode::YXDOMAIN; // the synthesized name would be too long
        return;
    }
    uint8_t wire[kMaxNameLen + 1];
    std::memcpy(wire, name.data, prefix);
    std::memcpy(wire + prefix, target, tlen);
    NameBuf next;
    if (!next.assign_lower(wire, prefix + tlen)) {
        rcode = rcode::YXDOMAIN;
        return;
    }
    // The synthesized CNAME: owner = the name looked up, TTL = the DNAME's (RFC 6672 §3.1).
    size_t mark = w_.pos();
    w_.name(name.view());
    w_.u16(rrtype::CNAME);
    w_.u16(rrclass::IN);
    w_.u32(d->ttl);
    size_t rdlen_at = w_.pos();
    w_.u16(0);
    w_.name(next.view());
    if (!w_.ok()) {
        w_.rewind(mark);
        truncate();
        return;
    }
    w_.patch_u16(rdlen_at, static_cast<uint16_t>(w_.pos() - rdlen_at - 2));
    an++;
    // A CNAME question is answered by the synthesized CNAME itself, like a CNAME found in the zone.
    if (q_.qtype == rrtype::CNAME) return;
    if (depth + 1 >= kMaxCnameChain || !is_subdomain(next.view(), z.apex)) return;
    resolve(z, next, next.labels - label_count(z.apex), depth + 1);
}

void Responder::chaos() noexcept {
    std::string_view n = q_.qname.view();
    const std::string* text = nullptr;
    if (n == std::string_view("\2id\6server\0", 11))
        text = &cfg_.chaos_id;
    else if (n == std::string_view("\10hostname\4bind\0", 15))
        text = cfg_.chaos_hostname.empty() ? &cfg_.chaos_id : &cfg_.chaos_hostname;
    else if (n == std::string_view("\7version\4bind\0", 14) || n == std::string_view("\7version\6server\0", 16))
        text = &cfg_.chaos_version;
    if (!text || text->empty() || (q_.qtype != rrtype::TXT && q_.qtype != rrtype::ANY)) {
        rcode = rcode::REFUSED;
        return;
    }
    aa = true;
    size_t len = std::min<size_t>(text->size(), 255);
    w_.u16(0xC00C);
    w_.u16(rrtype::TXT);
    w_.u16(rrclass::CH);
    w_.u32(0);
    w_.u16(static_cast<uint16_t>(len + 1));
    w_.u8(static_cast<uint8_t>(len));
    w_.bytes(text->data(), len);
    if (!w_.ok())
        truncate();
    else
        an = 1;
}

void Responder::run() noexcept {
    if (q_.qclass == rrclass::CH) return chaos();
    if (q_.qclass != rrclass::IN && q_.qclass != rrclass::ANY) {
        rcode = rcode::REFUSED;
        return;
    }
    unsigned skip = 0;
    zone = db_.find_zone(q_.qname, &skip);
    if (!zone) {
        rcode = rcode::REFUSED; // never a resolver
        return;
    }
    dnssec_ = q_.do_bit && zone->signer;
    nsec_chain_ = dnssec_ && !zone->nsec_chain.empty();
    if (q_.qtype == rrtype::IXFR && !ctx_.tcp && skip == 0) {
        // RFC 1995 §2: over UDP the server's current SOA alone; it tells a current client it is current and any
        // other to ask again over TCP. Nothing beyond what a SOA query shows, so no transfer ACL applies.
        aa = true;
        must(zone->apex, *zone->soa, zone->soa->ttl, Section::answer);
        return;
    }
    if (q_.qtype == rrtype::AXFR || q_.qtype == rrtype::IXFR) {
        if (ctx_.tcp && skip == 0)
            transfer = true;
        else
            rcode = ctx_.tcp ? rcode::NOTAUTH : rcode::REFUSED; // AXFR needs TCP (RFC 5936 §4.2)
        return;
    }
    if (q_.qtype == rrtype::MAILA || q_.qtype == rrtype::MAILB) {
        rcode = rcode::NOTIMP;
        return;
    }
    if (q_.qtype == rrtype::OPT || q_.qtype == rrtype::TSIG) {
        rcode = rcode::FORMERR;
        return;
    }
    resolve(*zone, q_.qname, skip, 0);
}

// The common case without the walk: an exact match on a name whose answer for this type was pre-rendered at load
// (dns/engine/answer_compiler.h) and fits. The bytes are what Responder::run() would write, so the result is the
// same either way; anything else (no such name or type, CNAME, cut, steering, ANY, no room) returns false and the
// responder answers with nothing written yet.
// Types the engine answers in a way of their own even when the name exists (or not): never from the table.
bool special_qtype(uint16_t t) noexcept {
    return t == rrtype::ANY || t == rrtype::AXFR || t == rrtype::IXFR || t == rrtype::MAILA || t == rrtype::MAILB ||
           t == rrtype::OPT || t == rrtype::TSIG;
}

// DNSSEC's own types (DS, RRSIG, NSEC, DNSKEY, NSEC3, NSEC3PARAM, CDS, CDNSKEY), which a signer adds or answers
// specially: never a NODATA from the table.
bool dnssec_qtype(uint16_t t) noexcept {
    return t == rrtype::DS || t == rrtype::RRSIG || t == kNsecType || t == kDnskeyType || t == 50 || t == 51 ||
           t == kCdsType || t == kCdnskeyType;
}

bool answer_compiled(const ZoneDb& db, const EngineConfig& cfg, const QueryContext& ctx, const ParsedQuery& q,
                     WireWriter& w, Responder* r) noexcept {
    if (q.qclass != rrclass::IN) return false;
    unsigned skip;
    uint64_t hash;
    const Zone* z = db.find_zone(q.qname, &skip, &hash);
    if (!z) return false;
    AnswerTable::Hit hit;
    std::string_view name = q.qname.view();
    // DO=1 on a signed zone: the same answers with their RRSIGs (negative ones are the engine's: no negative()).
    bool dnssec = q.do_bit && z->signer;
    const AnswerTable& table = dnssec ? z->signed_answers : z->answers;
    AnswerTable::Match m = table.find(name, hash, q.qtype, &hit);
    if (m != AnswerTable::Match::answer && dnssec) {
        // A signed NODATA at a name of the table: the zone's SOA and its RRSIG, then the name's NSEC and its RRSIG,
        // both signed at load. Types that are DNSSEC's own, and names that do not exist, are the engine's.
        if (m != AnswerTable::Match::nodata || hit.len == 0 || special_qtype(q.qtype) || dnssec_qtype(q.qtype))
            return false;
        std::string_view soa = table.negative();
        if (w.limit() - w.pos() < soa.size() + hit.len) return false;
        size_t at = w.pos();
        w.bytes(soa.data(), soa.size());
        table.relocate_negative(w.data() + at, name.size());
        w.bytes(hit.bytes, hit.len);
        r->zone = z;
        r->aa = true;
        r->ns = static_cast<uint16_t>(table.negative_count() + hit.ns);
        r->ar = hit.ar;
        r->rcode = rcode::NOERROR;
        return true;
    }
    if (m != AnswerTable::Match::answer) {
        // RFC 2308 negative answers: the zone's SOA, pre-rendered, after the question. NXDOMAIN only where no
        // wildcard, cut or DNAME could change that (a plain zone) and the name is not a node (ENTs are).
        bool nxdomain = m == AnswerTable::Match::none;
        if (special_qtype(q.qtype) || table.negative().empty()) return false;
        if (nxdomain && (!z->plain || skip == 0 || z->find(name, hash))) return false;
        std::string_view soa = z->answers.negative();
        if (w.limit() - w.pos() < soa.size()) return false;
        size_t at = w.pos();
        w.bytes(soa.data(), soa.size());
        z->answers.relocate_negative(w.data() + at, name.size());
        r->zone = z;
        r->aa = true;
        r->ns = 1;
        r->rcode = nxdomain ? rcode::NXDOMAIN : rcode::NOERROR;
        return true;
    }
    if (hit.an == 0) {
        // A steered name: the records come from the steering hook; the owner is the question (0xC00C) as always.
        SteeredAnswer sa;
        sa.trace = ctx.steering_trace;
        if (!cfg.steering || !cfg.steering->answer(name, q.qtype, q.ecs, ctx.client, ctx.worker, &sa)) return false;
        size_t sigs_len = dnssec ? sa.sigs_len : 0;
        uint16_t sig_count = dnssec ? sa.sig_count : 0;
        if (sa.nodata || sa.rr_count == 0 || w.limit() - w.pos() < sa.len + sigs_len)
            return false; // NODATA, TC: the engine's
        size_t end = 0;
        for (unsigned k = 0; k < sa.rr_count; k++) {
            if (end + 12 > sa.len) return false;
            end += 12u + ((sa.records[end + 10] << 8) | sa.records[end + 11]);
        }
        if (end != sa.len) return false;
        size_t at = w.pos();
        w.bytes(sa.records, sa.len);
        if (sigs_len) w.bytes(sa.sigs, sigs_len);
        // Each record starts with its owner pointer: make it the question's.
        uint8_t* p = w.data() + at;
        size_t all = sa.len + sigs_len;
        unsigned records = 0;
        for (size_t pos = 0; pos + 12 <= all; pos += 12u + ((p[pos + 10] << 8) | p[pos + 11]), records++) {
            p[pos] = 0xC0;
            p[pos + 1] = kHeaderSize;
        }
        if (records != sa.rr_count + sig_count) {
            w.rewind(at);
            return false;
        }
        r->ecs_scope = sa.scope_prefix;
        hit.an = static_cast<uint16_t>(sa.rr_count + sig_count);
    } else {
        if (w.limit() - w.pos() < hit.len) return false;
        w.bytes(hit.bytes, hit.len);
    }
    r->zone = z;
    r->aa = true;
    r->an = hit.an;
    r->ar = hit.ar;
    return true;
}

// An answer without records: the header, the question when `question` (it parsed), and the OPT record when the
// query had one (RFC 6891 §6.1.1: FORMERR and NOTIMP answers to EDNS queries carry OPT too).
size_t bare_answer(const ParsedQuery& q, const uint8_t* query, bool question, uint8_t rc, uint8_t* out, size_t cap,
                   const EngineConfig& cfg) noexcept {
    size_t qlen = question && q.question_end >= kHeaderSize ? q.question_end - kHeaderSize : 0;
    if (cap < kHeaderSize + qlen) return 0;
    // Only ID, opcode and RD are echoed: the other flags describe our answer, not the query (RFC 1035 §4.1.1).
    uint16_t flags = static_cast<uint16_t>(flag::QR | (q.flags & (0x7800 | flag::RD)) | rc);
    std::memset(out, 0, kHeaderSize);
    out[0] = static_cast<uint8_t>(q.id >> 8);
    out[1] = static_cast<uint8_t>(q.id);
    out[2] = static_cast<uint8_t>(flags >> 8);
    out[3] = static_cast<uint8_t>(flags);
    if (qlen) {
        std::memcpy(out + kHeaderSize, query + kHeaderSize, qlen);
        out[5] = 1;
    }
    size_t n = kHeaderSize + qlen;
    if (!q.edns || cap - n < 11) return n;
    uint8_t* p = out + n;
    p[0] = 0; // root owner
    p[1] = 0;
    p[2] = static_cast<uint8_t>(rrtype::OPT);
    p[3] = static_cast<uint8_t>(cfg.edns_buffer_size >> 8);
    p[4] = static_cast<uint8_t>(cfg.edns_buffer_size);
    p[5] = 0; // extended rcode: the rcodes answered here fit the header
    p[6] = 0;
    p[7] = q.do_bit ? 0x80 : 0;
    p[8] = 0;
    p[9] = 0;
    p[10] = 0;
    out[11] = 1;
    return n + 11;
}

size_t header_only(const ParsedQuery& q, uint8_t rc, uint8_t* out, size_t cap, const EngineConfig& cfg) noexcept {
    return bare_answer(q, nullptr, false, rc, out, cap, cfg);
}

// RFC 8945 §5.2: a TSIG rejection is NOTAUTH with a TSIG record carrying the error, unsigned when the key or MAC
// failed (BADKEY, BADSIG; §5.3.2), signed with the request's key when the time or truncation did (BADTIME,
// BADTRUNC).
size_t tsig_rejection(const ParsedQuery& q, const uint8_t* query, const TsigCheck& t, TsigSigner& signer,
                      const EngineConfig& cfg, uint64_t now_s, uint8_t* out, size_t cap) noexcept {
    size_t n = bare_answer(q, query, true, rcode::NOTAUTH, out, cap, cfg);
    if (!n) return 0;
    size_t m = signer.valid() ? signer.sign(out, n, cap, now_s, t.error) : tsig_append_unsigned(out, n, cap, t, now_s);
    return m ? m : n;
}

} // namespace

void prefetch_answer(const ZoneDb& db, const uint8_t* query, size_t len, AnswerPrefetch* p) noexcept {
    p->table = nullptr;
    if (len <= kHeaderSize) return;
    NameBuf name;
    if (!name.assign_lower(query + kHeaderSize, len - kHeaderSize)) return;
    unsigned skip;
    const Zone* z = db.find_zone(name, &skip, &p->hash);
    if (!z) return;
    p->table = &z->answers;
    if (z->signer) {
        // DO=1 reads the signed table: a glance at an OPT right after the question (where every client puts it)
        // says so without parsing the query; a miss here only costs the hint.
        size_t opt = kHeaderSize + name.len + 4;
        if (query[11] && len >= opt + 11 && query[opt] == 0 && query[opt + 1] == 0 && query[opt + 2] == 41 &&
            (query[opt + 7] & 0x80))
            p->table = &z->signed_answers;
    }
    p->table->prefetch_slot(p->hash);
}

void prefetch_answer_record(const AnswerPrefetch& p) noexcept {
    if (p.table) p.table->prefetch_record(p.hash);
}

size_t write_response_header(const uint8_t* query, size_t question_end, uint8_t* out, size_t out_cap) noexcept {
    if (question_end > out_cap || question_end < kHeaderSize) return 0;
    std::memcpy(out, query, question_end);
    uint16_t flags = static_cast<uint16_t>((query[2] << 8) | query[3]);
    flags = static_cast<uint16_t>(flag::QR | flag::AA | (flags & (0x7800 | flag::RD))); // CD: RFC 4035 §3.1.6
    out[2] = static_cast<uint8_t>(flags >> 8);
    out[3] = static_cast<uint8_t>(flags);
    std::memset(out + 4, 0, 8);
    out[5] = 1; // QDCOUNT
    return question_end;
}

size_t answer_query(const ZoneDb& db, const EngineConfig& config, const QueryContext& ctx, const uint8_t* query,
                    size_t query_len, uint8_t* out, size_t out_cap, AnswerInfo* info) noexcept {
    ParsedQuery q;
    *info = AnswerInfo{};
    QueryStatus st = parse_query(query, query_len, &q);
    switch (st) {
    case QueryStatus::drop:
        info->kind = AnswerKind::dropped;
        return 0;
    case QueryStatus::notimp:
        info->rcode = rcode::NOTIMP;
        return header_only(q, rcode::NOTIMP, out, out_cap, config);
    case QueryStatus::formerr:
        info->rcode = rcode::FORMERR;
        return header_only(q, rcode::FORMERR, out, out_cap, config);
    case QueryStatus::ok:
        break;
    }
    info->qtype = q.qtype;
    info->question_end = q.question_end;
    info->tsig = q.tsig_offset != 0;

    size_t limit = out_cap;
    if (!ctx.tcp) {
        size_t udp = kClassicUdpSize;
        if (q.edns) udp = std::max<size_t>(kClassicUdpSize, std::min<size_t>(q.udp_size, config.edns_buffer_size));
        limit = std::min(limit, udp);
    }
    limit = std::min<size_t>(limit, kMaxMessage);

    // RFC 8945 §5.2: a signed query is answered only when its TSIG verifies, and then signed (§5.3).
    TsigSigner signer;
    if (q.tsig_offset) {
        TsigCheck t = tsig_check_request(query, query_len, q.tsig_offset, config.tsig_keys, ctx.now_s);
        info->tsig_error = t.error;
        if (t.status == TsigCheck::Status::formerr) {
            info->rcode = rcode::FORMERR;
            return header_only(q, rcode::FORMERR, out, out_cap, config);
        }
        if (t.status == TsigCheck::Status::ok || t.signed_error()) signer = TsigSigner(t);
        if (t.status == TsigCheck::Status::error) {
            info->rcode = rcode::NOTAUTH;
            return tsig_rejection(q, query, t, signer, config, ctx.now_s, out, limit);
        }
        info->tsig_key = t.key;
        info->tsig_offset = q.tsig_offset;
    }
    size_t tsig_room = signer.reserve();

    if (limit < q.question_end) return header_only(q, rcode::SERVFAIL, out, out_cap, config);

    WireWriter w(out, limit);
    w.bytes(query, q.question_end);
    w.add_target(kHeaderSize);

    // Room for OPT is kept back so it always fits (RFC 6891 §7: the OPT is never dropped for space).
    size_t opt_len = 0;
    bool send_nsid = q.edns && q.nsid && !config.nsid.empty();
    if (q.edns) {
        opt_len = 11;
        if (send_nsid) opt_len += 4 + std::min<size_t>(config.nsid.size(), 512);
        if (q.ecs.present()) opt_len += 8 + (q.ecs.source_prefix + 7u) / 8u;
    }
    // RFC 8945 §5.3: the TSIG record must fit too, so its room is kept back like OPT's.
    if (q.question_end + opt_len + tsig_room > limit) return header_only(q, rcode::SERVFAIL, out, out_cap, config);
    w.set_limit(limit - opt_len - tsig_room);

    Responder r(db, config, ctx, q, w);
    uint16_t rc;
    if (q.edns && q.edns_version > 0) {
        rc = rcode::BADVERS; // RFC 6891 §6.1.3: no answer, just OPT with the extended rcode
    } else if (answer_compiled(db, config, ctx, q, w, &r)) {
        rc = r.rcode;
    } else {
        r.run();
        rc = r.rcode;
        if (r.transfer) {
            info->kind = AnswerKind::transfer;
            info->zone = r.zone;
            return 0;
        }
    }
    if (ctx.force_tc && !r.tc) r.truncate();
    info->zone = r.zone;
    info->rcode = rc;
    info->truncated = r.tc;
    if (rc == rcode::NXDOMAIN && r.zone)
        info->imputed_name = r.zone->apex;
    else if (r.cut)
        info->imputed_name = r.cut->name;

    w.set_limit(limit - tsig_room);
    uint16_t arcount = r.ar;
    if (q.edns) {
        w.u8(0);
        w.u16(rrtype::OPT);
        w.u16(config.edns_buffer_size);
        w.u8(static_cast<uint8_t>(rc >> 4));
        w.u8(0);
        w.u16(q.do_bit ? 0x8000 : 0);
        size_t rdlen_at = w.pos();
        w.u16(0);
        if (send_nsid) {
            size_t n = std::min<size_t>(config.nsid.size(), 512);
            w.u16(edns_option::NSID);
            w.u16(static_cast<uint16_t>(n));
            w.bytes(config.nsid.data(), n);
        }
        if (q.ecs.present()) {
            size_t alen = (q.ecs.source_prefix + 7u) / 8u;
            w.u16(edns_option::CLIENT_SUBNET);
            w.u16(static_cast<uint16_t>(4 + alen));
            w.u16(q.ecs.family);
            w.u8(q.ecs.source_prefix);
            w.u8(std::min(r.ecs_scope, q.ecs.family == 1 ? uint8_t(32) : uint8_t(128)));
            w.bytes(q.ecs.address, alen);
        }
        w.patch_u16(rdlen_at, static_cast<uint16_t>(w.pos() - rdlen_at - 2));
        arcount++;
    }
    if (!w.ok()) return header_only(q, rcode::SERVFAIL, out, out_cap, config);

    // CD is cleared: it asks a resolver not to validate, and says nothing about authoritative data (RFC 4035
    // §3.1.6; NSD and Knot clear it too).
    uint16_t flags = static_cast<uint16_t>(flag::QR | (q.flags & (0x7800 | flag::RD)) | (rc & 0xF));
    if (r.aa && rc != rcode::REFUSED && rc != rcode::BADVERS) flags |= flag::AA;
    if (r.tc) flags |= flag::TC;
    out[2] = static_cast<uint8_t>(flags >> 8);
    out[3] = static_cast<uint8_t>(flags);
    w.patch_u16(4, 1);
    w.patch_u16(6, r.an);
    w.patch_u16(8, r.ns);
    w.patch_u16(10, arcount);
    if (!signer.valid()) return w.pos();
    size_t n = signer.sign(out, w.pos(), limit, ctx.now_s);
    return n ? n : header_only(q, rcode::SERVFAIL, out, out_cap, config);
}

} // namespace dns
