#include "dns/zone/zone_history.h"

#include <algorithm>
#include <cstring>

#include "dns/wire/dns_constants.h"
#include "dns/zone/zone_db.h"

namespace dns {
namespace {

bool has_record(const RRset* set, uint32_t ttl, const uint8_t* rd, uint16_t len) noexcept {
    if (!set || set->ttl != ttl) return false;
    bool found = false;
    set->for_each([&](const uint8_t* p, uint16_t n) {
        if (!found && n == len && std::memcmp(p, rd, n) == 0) found = true;
    });
    return found;
}

// The records a signer adds to a zone (dns/dnssec): compared only when both versions come from the zone file.
bool signer_made(uint16_t type) {
    return type == 47 /* NSEC */ || type == 48 /* DNSKEY */ || type == 50 /* NSEC3 */ || type == 51 /* NSEC3PARAM */ ||
           type == 59 /* CDS */ || type == 60 /* CDNSKEY */ || type == rrtype::RRSIG;
}

// Every record of `a` that `b` lacks (same owner, type, TTL and RDATA), SOA excluded; also the signer's records
// when `skip_dnssec`. With `first_only`, stops at the first one.
void missing_from(const Zone& a, const Zone& b, std::vector<DiffRecord>* out, bool skip_dnssec = false,
                  bool first_only = false) {
    for (const Node& n : a.node_list()) {
        if (first_only && !out->empty()) return;
        const Node* other = b.find(n.name);
        for (const RRset& s : n.rrsets) {
            if (s.type == rrtype::SOA || (skip_dnssec && signer_made(s.type))) continue;
            const RRset* os = other ? other->find(s.type) : nullptr;
            s.for_each([&](const uint8_t* p, uint16_t len) {
                if (has_record(os, s.ttl, p, len)) return;
                out->push_back({n.name, s.type, s.ttl, std::string(reinterpret_cast<const char*>(p), len)});
            });
        }
    }
}

DiffRecord soa_record(const Zone& z) {
    DiffRecord r{z.apex, rrtype::SOA, 0, {}};
    const RRset* soa = z.soa;
    if (!soa) {
        const Node* apex = z.find(z.apex);
        soa = apex ? apex->find(rrtype::SOA) : nullptr;
    }
    if (soa) {
        r.ttl = soa->ttl;
        soa->for_each([&](const uint8_t* p, uint16_t len) {
            if (r.rdata.empty()) r.rdata.assign(reinterpret_cast<const char*>(p), len);
        });
    }
    return r;
}

} // namespace

size_t ZoneHistory::find_from(uint32_t serial) const noexcept {
    for (size_t i = 0; i < diffs.size(); i++)
        if (diffs[i]->from == serial) return i;
    return diffs.size();
}

std::shared_ptr<const ZoneDiff> diff_zones(const Zone& from, const Zone& to) {
    auto d = std::make_shared<ZoneDiff>();
    d->from = from.serial;
    d->to = to.serial;
    d->old_soa = soa_record(from);
    d->new_soa = soa_record(to);
    missing_from(from, to, &d->removed);
    missing_from(to, from, &d->added);
    return d;
}

bool same_records(const Zone& a, const Zone& b, bool skip_dnssec) {
    DiffRecord sa = soa_record(a), sb = soa_record(b);
    if (sa.ttl != sb.ttl || sa.rdata != sb.rdata) return false;
    std::vector<DiffRecord> diff;
    missing_from(a, b, &diff, skip_dnssec, true);
    if (diff.empty()) missing_from(b, a, &diff, skip_dnssec, true);
    return diff.empty();
}

std::shared_ptr<const ZoneHistory> next_history(const Zone& from, const Zone& to, size_t max_versions) {
    if (max_versions == 0) return nullptr;
    bool newer = from.serial != to.serial && static_cast<int32_t>(to.serial - from.serial) > 0;
    auto d = diff_zones(from, to);
    if (!newer) {
        bool same = d->removed.empty() && d->added.empty() && d->old_soa.rdata == d->new_soa.rdata &&
                    d->old_soa.ttl == d->new_soa.ttl;
        return same ? from.history : nullptr;
    }
    auto h = std::make_shared<ZoneHistory>();
    if (from.history) {
        const auto& old = from.history->diffs;
        size_t keep = std::min(old.size(), max_versions - 1);
        h->diffs.assign(old.end() - static_cast<std::ptrdiff_t>(keep), old.end());
    }
    h->diffs.push_back(std::move(d));
    size_t kept = 0;
    for (const auto& x : h->diffs)
        kept += x->records();
    while (h->diffs.size() > 1 && kept > 2 * to.record_count + 16) {
        kept -= h->diffs.front()->records();
        h->diffs.erase(h->diffs.begin());
    }
    return h;
}

} // namespace dns
