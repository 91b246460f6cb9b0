#include "dns/wire/query.h"

#include <cstring>

#include "dns/wire/dns_constants.h"
#include "dns/wire/wire_reader.h"

namespace dns {
namespace {

// Skips a possibly compressed name in a non-question section (its content does not matter to us).
bool skip_name(WireReader& r, bool* is_root) noexcept {
    *is_root = false;
    unsigned total = 0;
    bool first = true;
    while (r.ok()) {
        uint8_t l = r.u8();
        if (!r.ok()) return false;
        if (l == 0) {
            *is_root = first;
            return true;
        }
        if ((l & 0xC0) == 0xC0) {
            r.skip(1);
            return r.ok();
        }
        if (l > 63) return false;
        total += l + 1;
        if (total > 255) return false;
        r.skip(l);
        first = false;
    }
    return false;
}

// RFC 7871 §6 and §7.1.1: anything inconsistent in the option is FORMERR.
bool parse_ecs(const uint8_t* p, uint16_t len, ClientSubnet* out) noexcept {
    if (len < 4) return false;
    uint16_t family = static_cast<uint16_t>((p[0] << 8) | p[1]);
    uint8_t source = p[2], scope = p[3];
    unsigned max_bits;
    if (family == 1)
        max_bits = 32;
    else if (family == 2)
        max_bits = 128;
    else
        return false;
    if (source > max_bits || scope != 0) return false;
    size_t addr_len = (source + 7u) / 8u;
    if (len - 4u != addr_len) return false;
    if (addr_len > 0 && (source % 8) != 0) {
        uint8_t mask = static_cast<uint8_t>(0xFF >> (source % 8));
        if (p[4 + addr_len - 1] & mask) return false;
    }
    out->family = family;
    out->source_prefix = source;
    out->scope_prefix = 0;
    std::memset(out->address, 0, sizeof out->address);
    std::memcpy(out->address, p + 4, addr_len);
    return true;
}

bool parse_opt(WireReader& r, ParsedQuery* q) noexcept {
    q->edns = true;
    q->udp_size = r.u16();
    uint32_t ttl = r.u32(); // extended rcode (8) | version (8) | DO (1) | Z (15)
    q->edns_version = static_cast<uint8_t>((ttl >> 16) & 0xFF);
    q->do_bit = (ttl & 0x8000) != 0;
    q->co_bit = (ttl & 0x4000) != 0;
    uint16_t rdlen = r.u16();
    const uint8_t* rd = r.bytes(rdlen);
    if (!r.ok()) return false;
    size_t pos = 0;
    while (pos < rdlen) {
        if (rdlen - pos < 4) return false;
        uint16_t code = static_cast<uint16_t>((rd[pos] << 8) | rd[pos + 1]);
        uint16_t olen = static_cast<uint16_t>((rd[pos + 2] << 8) | rd[pos + 3]);
        pos += 4;
        if (rdlen - pos < olen) return false;
        if (code == edns_option::NSID) {
            q->nsid = true; // RFC 5001 §2.1: the request is empty; content, if any, is ignored
        } else if (code == edns_option::CLIENT_SUBNET) {
            if (q->ecs.present() || !parse_ecs(rd + pos, olen, &q->ecs)) return false;
        }
        pos += olen;
    }
    return true;
}

// After a query was found to be one we do not answer (another opcode, a record where a query has none): walks its
// sections from `pos` to find the OPT record, so the FORMERR or NOTIMP answer can carry one (RFC 6891 §6.1.1).
// Best effort: anything unreadable leaves q->edns false.
void find_opt(const uint8_t* data, size_t len, size_t pos, unsigned questions, unsigned records, unsigned additional,
              ParsedQuery* q) noexcept {
    WireReader r(data + pos, len - pos);
    bool root = false;
    for (unsigned i = 0; i < questions && r.ok(); i++) {
        if (!skip_name(r, &root)) return;
        r.skip(4);
    }
    for (unsigned i = 0; i < records + additional && r.ok(); i++) {
        if (!skip_name(r, &root)) return;
        uint16_t type = r.u16();
        if (type == rrtype::OPT && i >= records && root) {
            ParsedQuery opt;
            if (parse_opt(r, &opt)) {
                q->edns = true;
                q->udp_size = opt.udp_size;
                q->edns_version = opt.edns_version;
                q->do_bit = opt.do_bit;
            }
            return;
        }
        r.skip(2 + 4);
        r.skip(r.u16());
    }
}

} // namespace

QueryStatus parse_query(const uint8_t* data, size_t len, ParsedQuery* q) noexcept {
    if (len < kHeaderSize) return QueryStatus::drop;
    WireReader r(data, len);
    q->id = r.u16();
    q->flags = r.u16();
    q->opcode = static_cast<uint8_t>((q->flags >> 11) & 0xF);
    q->question_end = 0;
    q->edns = false;
    q->nsid = false;
    q->do_bit = false;
    q->ecs = ClientSubnet{};
    q->tsig_offset = 0;
    q->ixfr_soa = false;
    q->ixfr_serial = 0;
    if (q->flags & flag::QR) return QueryStatus::drop;
    uint16_t qd = r.u16(), an = r.u16(), ns = r.u16(), ar = r.u16();
    if (q->opcode != opcode::QUERY) {
        find_opt(data, len, kHeaderSize, qd, an + ns, ar, q);
        return QueryStatus::notimp;
    }
    if (qd != 1) {
        find_opt(data, len, kHeaderSize, qd, an + ns, ar, q);
        return QueryStatus::formerr;
    }

    // The question name: plain labels only (a compression pointer in the question is FORMERR).
    size_t start = r.offset();
    size_t pos = start;
    unsigned labels = 0;
    while (true) {
        if (pos >= len) return QueryStatus::formerr;
        uint8_t l = data[pos];
        if (l == 0) break;
        if (l > 63) return QueryStatus::formerr;
        if (pos - start + 1 + l + 1 > kMaxNameLen || pos + 1 + l >= len) return QueryStatus::formerr;
        pos += 1 + l;
        labels++;
    }
    (void)labels;
    if (!q->qname.assign_lower(data + start, len - start)) return QueryStatus::formerr;
    r.skip(q->qname.len);
    q->qtype = r.u16();
    q->qclass = r.u16();
    if (!r.ok()) return QueryStatus::formerr;
    q->question_end = r.offset();
    // A query carries no answer or authority records (NSD and Knot reject them too), except IXFR's one SOA in the
    // authority section: the version the client has (RFC 1995 §3).
    bool ixfr_soa = q->qtype == rrtype::IXFR && an == 0 && ns == 1;
    if (an != 0 || (ns != 0 && !ixfr_soa)) {
        find_opt(data, len, q->question_end, 0, an + ns, ar, q);
        return QueryStatus::formerr;
    }
    if (ixfr_soa) {
        bool root = false;
        if (!skip_name(r, &root)) return QueryStatus::formerr;
        uint16_t type = r.u16();
        r.skip(2 + 4);
        uint16_t rdlen = r.u16();
        size_t rd_start = r.offset();
        if (!r.ok() || type != rrtype::SOA) return QueryStatus::formerr;
        if (!skip_name(r, &root) || !skip_name(r, &root)) return QueryStatus::formerr; // MNAME, RNAME
        q->ixfr_serial = r.u32();
        r.skip(16);
        if (!r.ok() || r.offset() - rd_start != rdlen) return QueryStatus::formerr;
        q->ixfr_soa = true;
    }

    for (uint16_t i = 0; i < ar; i++) {
        size_t rr_start = r.offset();
        if (q->tsig_offset) return QueryStatus::formerr; // TSIG must be last (RFC 8945 §5.1)
        bool root = false;
        if (!skip_name(r, &root)) return QueryStatus::formerr;
        uint16_t type = r.u16();
        if (type == rrtype::OPT) {
            if (q->edns || !root) return QueryStatus::formerr; // RFC 6891 §6.1.1
            if (!parse_opt(r, q)) return QueryStatus::formerr;
            continue;
        }
        r.skip(2 + 4);
        uint16_t rdlen = r.u16();
        r.skip(rdlen);
        if (!r.ok()) return QueryStatus::formerr;
        if (type == rrtype::TSIG) q->tsig_offset = rr_start;
    }
    if (!r.ok()) return QueryStatus::formerr;
    return QueryStatus::ok;
}

} // namespace dns
