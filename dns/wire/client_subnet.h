// The EDNS Client Subnet option of a query (RFC 7871), as parsed by dns/wire/query.h and handed to steering.
#pragma once

#include <cstdint>

namespace dns {

struct ClientSubnet {
    uint16_t family = 0;        // 0 = absent; 1 = IPv4, 2 = IPv6 (IANA address family numbers)
    uint8_t source_prefix = 0;  // SOURCE PREFIX-LENGTH from the query
    uint8_t scope_prefix = 0;   // always 0 in a valid query (RFC 7871 §6)
    uint8_t address[16] = {};   // the address, zero-padded past source_prefix bits (network byte order)
    bool present() const noexcept { return family != 0; }
};

} // namespace dns
