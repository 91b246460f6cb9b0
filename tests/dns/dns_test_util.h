// Helpers for the dns unit tests: build queries by hand, run the engine, and read responses back through ldns
// (an independent parser, so our writer is checked against it).
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "dns/engine/query_engine.h"
#include "dns/zone/zone_db.h"
#include "shared/config/config.h"

// After the C++ headers: ldns's common.h redefines `bool` for C, which breaks <optional>'s operator<=>.
#include <ldns/ldns.h>

namespace dns::test {

struct QueryOpts {
    uint16_t id = 0x1234;
    uint16_t flags = 0x0100; // RD
    uint16_t qclass = 1;
    int edns = -1; // UDP size; -1 = no OPT
    bool do_bit = false;
    uint8_t version = 0;
    std::vector<uint8_t> options; // raw EDNS options
};

std::vector<uint8_t> make_query(const std::string& name, uint16_t qtype, const QueryOpts& o = {});

struct Response {
    std::vector<uint8_t> wire;
    AnswerInfo info;
    ldns_pkt* pkt = nullptr; // nullptr when nothing was sent or ldns could not parse it
    ldns_status status = LDNS_STATUS_OK;
    ~Response();
    Response() = default;
    Response(Response&& o) noexcept : wire(std::move(o.wire)), info(o.info), pkt(o.pkt), status(o.status) { o.pkt = nullptr; }
    Response(const Response&) = delete;

    int rcode() const; // including the extended bits from OPT
    bool flag_aa() const;
    bool flag_tc() const;
    // Each RR as "owner ttl CLASS TYPE rdata" (ldns's text, tabs as spaces), in wire order.
    std::vector<std::string> section(ldns_pkt_section s) const;
    std::vector<std::string> answer() const { return section(LDNS_SECTION_ANSWER); }
    std::vector<std::string> authority() const { return section(LDNS_SECTION_AUTHORITY); }
    std::vector<std::string> additional() const { return section(LDNS_SECTION_ADDITIONAL); }
    bool has_opt() const;
};

Response ask(const ZoneDb& db, const std::vector<uint8_t>& query, const EngineConfig& cfg = {}, bool tcp = false,
             size_t cap = 65535);
// The same with a context of the caller's (the time for TSIG, TCP, force_tc).
Response ask_with(const ZoneDb& db, const std::vector<uint8_t>& query, const EngineConfig& cfg,
                  const QueryContext& ctx, size_t cap = 65535);

// Loads a zone (fails the test on errors).
std::shared_ptr<Zone> load_test_zone(const std::string& origin, const std::string& path);
// Both test zones: conf/examples example.test. and tests/dns/data RFC 4592 example.
const ZoneDb& test_db();

} // namespace dns::test
