#include "dns/wire/dns_constants.h"

namespace dns {

const char* rrtype_label(uint16_t type) noexcept {
    switch (type) {
    case rrtype::A: return "A";
    case rrtype::NS: return "NS";
    case rrtype::CNAME: return "CNAME";
    case rrtype::SOA: return "SOA";
    case rrtype::PTR: return "PTR";
    case rrtype::MX: return "MX";
    case rrtype::TXT: return "TXT";
    case rrtype::AAAA: return "AAAA";
    case rrtype::SRV: return "SRV";
    case rrtype::NAPTR: return "NAPTR";
    case rrtype::DNAME: return "DNAME";
    case rrtype::DS: return "DS";
    case rrtype::SSHFP: return "SSHFP";
    case rrtype::TLSA: return "TLSA";
    case rrtype::SVCB: return "SVCB";
    case rrtype::HTTPS: return "HTTPS";
    case rrtype::IXFR: return "IXFR";
    case rrtype::AXFR: return "AXFR";
    case rrtype::ANY: return "ANY";
    case rrtype::CAA: return "CAA";
    default: return "other";
    }
}

const char* rcode_label(uint16_t rc) noexcept {
    switch (rc) {
    case rcode::NOERROR: return "NOERROR";
    case rcode::FORMERR: return "FORMERR";
    case rcode::SERVFAIL: return "SERVFAIL";
    case rcode::NXDOMAIN: return "NXDOMAIN";
    case rcode::NOTIMP: return "NOTIMP";
    case rcode::REFUSED: return "REFUSED";
    case rcode::YXDOMAIN: return "YXDOMAIN";
    case rcode::NOTAUTH: return "NOTAUTH";
    case rcode::BADVERS: return "BADVERS";
    default: return "other";
    }
}

} // namespace dns
