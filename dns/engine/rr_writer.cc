#include "dns/engine/rr_writer.h"

#include "dns/wire/dns_constants.h"

namespace dns {
namespace {

std::string_view name_view(const uint8_t* p, size_t n) noexcept {
    return {reinterpret_cast<const char*>(p), n};
}

// The types whose RDATA names put_rdata compresses; every other RDATA is copied as it is, so its length is known
// before it is written.
bool compressed_rdata(uint16_t type) noexcept {
    return type == rrtype::NS || type == rrtype::CNAME || type == rrtype::PTR || type == rrtype::MX ||
           type == rrtype::SOA;
}

void put_rdata(WireWriter& w, uint16_t type, const uint8_t* p, uint16_t len) noexcept {
    switch (type) {
    case rrtype::NS:
    case rrtype::CNAME:
    case rrtype::PTR: {
        size_t n = rdata_name_len(p, len);
        if (n == len) return w.name(name_view(p, n));
        break;
    }
    case rrtype::MX: {
        if (len > 2) {
            size_t n = rdata_name_len(p + 2, len - 2u);
            if (n == len - 2u) {
                w.bytes(p, 2);
                return w.name(name_view(p + 2, n));
            }
        }
        break;
    }
    case rrtype::SOA: {
        size_t a = rdata_name_len(p, len);
        size_t b = a ? rdata_name_len(p + a, len - a) : 0;
        if (a && b && a + b + 20 == len) {
            w.name(name_view(p, a));
            w.name(name_view(p + a, b));
            return w.bytes(p + a + b, 20);
        }
        break;
    }
    default:
        break;
    }
    w.bytes(p, len);
}

} // namespace

size_t rdata_name_len(const uint8_t* p, size_t len) noexcept {
    size_t pos = 0;
    while (pos < len) {
        uint8_t l = p[pos];
        if (l == 0) return pos + 1;
        if (l > 63) return 0;
        pos += 1 + l;
    }
    return 0;
}

bool write_record(WireWriter& w, std::string_view owner, uint16_t type, uint32_t ttl, const uint8_t* rd,
                  uint16_t len) noexcept {
    size_t mark = w.pos();
    w.name(owner);
    if (!compressed_rdata(type)) {
        w.rr_fields(type, rrclass::IN, ttl, len);
        w.bytes(rd, len);
    } else {
        w.rr_fields(type, rrclass::IN, ttl, 0);
        size_t rdata_at = w.pos();
        put_rdata(w, type, rd, len);
        if (w.ok()) w.patch_u16(rdata_at - 2, static_cast<uint16_t>(w.pos() - rdata_at));
    }
    if (!w.ok()) {
        w.rewind(mark);
        return false;
    }
    return true;
}

namespace {
bool write_records(WireWriter& w, std::string_view owner, uint16_t type, std::string_view rdata,
                   uint32_t ttl) noexcept {
    size_t mark = w.pos();
    const bool compressed = compressed_rdata(type);
    RRset::for_each_in(rdata, [&](const uint8_t* p, uint16_t len) {
        w.name(owner);
        if (!compressed) {
            w.rr_fields(type, rrclass::IN, ttl, len);
            w.bytes(p, len);
            return;
        }
        w.rr_fields(type, rrclass::IN, ttl, 0);
        size_t rdata_at = w.pos();
        put_rdata(w, type, p, len);
        if (w.ok()) w.patch_u16(rdata_at - 2, static_cast<uint16_t>(w.pos() - rdata_at));
    });
    if (!w.ok()) {
        w.rewind(mark);
        return false;
    }
    return true;
}
} // namespace

bool write_rrset(WireWriter& w, std::string_view owner, const RRset& set, uint32_t ttl) noexcept {
    return write_records(w, owner, set.type, set.rdata, ttl);
}

bool write_rrsigs(WireWriter& w, std::string_view owner, const RRset& set, uint32_t ttl) noexcept {
    return write_records(w, owner, rrtype::RRSIG, set.sigs, ttl);
}

bool write_rrsigs(WireWriter& w, std::string_view owner, std::string_view sigs, uint32_t ttl) noexcept {
    return write_records(w, owner, rrtype::RRSIG, sigs, ttl);
}

} // namespace dns
