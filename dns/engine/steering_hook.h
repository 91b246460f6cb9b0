// How the query engine asks for steered (geo) answers without depending on dns/geo directly: dns_app adapts
// dns::geo::Steering to this interface, and tests can plug in a fake.
#pragma once

#include <sys/socket.h>

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "dns/wire/client_subnet.h"

namespace dns {

namespace geo {
struct AnswerTrace; // dns/geo/steering.h
}

struct SteeredAnswer {
    // In: where the hook records its decision (meridian-dns explain); null when answering queries.
    geo::AnswerTrace* trace = nullptr;
    // rr_count records in wire form, each starting with a 2-byte compression pointer as owner (the engine rewrites
    // the owner), then type, class, TTL, RDLENGTH and RDATA.
    const uint8_t* records = nullptr;
    size_t len = 0;
    uint16_t rr_count = 0;
    // In a signed zone: the RRSIG records covering exactly these records, in the same form (owner pointer first).
    const uint8_t* sigs = nullptr;
    size_t sigs_len = 0;
    uint16_t sig_count = 0;
    uint8_t scope_prefix = 0; // ECS scope to echo (RFC 7871 §7.2.1)
    bool nodata = false;
};

class SteeringHook {
  public:
    virtual ~SteeringHook() = default;
    // False when `name` (lower-case wire) is not steered for `qtype`. Called on worker threads: no allocation, no lock.
    virtual bool answer(std::string_view name, uint16_t qtype, const ClientSubnet& ecs, const sockaddr* client,
                        unsigned worker, SteeredAnswer* out) const noexcept = 0;
};

} // namespace dns
