#include "dns/engine/zone_transfer.h"

#include "dns/engine/query_engine.h"
#include "dns/engine/rr_writer.h"
#include "dns/wire/dns_constants.h"

namespace dns {

bool write_axfr(const Zone& zone, const uint8_t* query, size_t question_end, uint8_t* buf, size_t cap,
                const std::function<void(const uint8_t*, size_t)>& emit) {
    size_t hdr = write_response_header(query, question_end, buf, cap);
    if (!hdr) return false;
    WireWriter w(buf, cap);
    uint16_t an = 0;
    auto start = [&] {
        w = WireWriter(buf, cap);
        w.bytes(query, question_end);
        write_response_header(query, question_end, buf, cap); // flags and counts, in place
        w.add_target(kHeaderSize);
        an = 0;
    };
    auto flush = [&] {
        w.patch_u16(6, an);
        emit(buf, w.pos());
    };
    auto put = [&](std::string_view owner, const RRset& set) -> bool {
        if (write_rrset(w, owner, set, set.ttl)) {
            an = static_cast<uint16_t>(an + set.count);
            return true;
        }
        if (an == 0) return false; // does not fit even alone
        flush();
        start();
        if (!write_rrset(w, owner, set, set.ttl)) return false;
        an = static_cast<uint16_t>(an + set.count);
        return true;
    };
    start();
    if (!put(zone.apex, *zone.soa)) return false;
    for (const Node* n : zone.transfer_order) {
        for (const auto& s : n->rrsets) {
            if (n == zone.apex_node && s.type == rrtype::SOA) continue;
            if (!put(n->name, s)) return false;
        }
    }
    if (!put(zone.apex, *zone.soa)) return false;
    flush();
    return true;
}

} // namespace dns
