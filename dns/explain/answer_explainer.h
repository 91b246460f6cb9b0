// meridian-dns explain: why a client gets the answer it gets (Route53's "test DNS answer", and more). The answer is
// the real one: the query is built as a resolver would send it (with the ECS option when given) and answered by the
// query engine itself, with a steering trace attached; the steering part of the explanation comes from
// dns::geo::Steering::explain() over that trace. Used by the explain sub-command and the admin /_meridian/explain
// endpoint (DNS main loop). Control plane: allocates freely.
#pragma once

#include <sys/socket.h>

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "dns/engine/query_engine.h"
#include "dns/geo/steering_explanation.h"

namespace dns {

namespace geo {
class Steering;
}

struct ExplainQuery {
    std::string name;          // presentation form, as asked ("www.example.com")
    uint16_t qtype = 1;        // numeric RR type
    std::string type_text;     // "A"
    sockaddr_storage client{}; // the resolver's address (the query's source)
    bool has_ecs = false;      // EDNS Client Subnet sent along
    uint16_t ecs_family = 0;   // 1 = IPv4, 2 = IPv6
    uint8_t ecs_source = 0;    // SOURCE PREFIX-LENGTH
    uint8_t ecs_address[16] = {};
};

// Parses the operator's words: NAME, TYPE ("A", "AAAA", "TXT", ... or "TYPE65"), the resolver address and the
// optional ECS ("198.51.100.0/24"; host bits are cleared). False with *err on anything else.
bool parse_explain_query(std::string_view name, std::string_view type, std::string_view client, std::string_view ecs,
                         ExplainQuery* out, std::string* err);

struct Explanation {
    ExplainQuery query;
    // The response the engine gave (what a dig from that client would show).
    bool answered = false; // false: the engine dropped the query
    std::string rcode;     // "NOERROR", "NXDOMAIN", "REFUSED", ...
    bool authoritative = false;
    std::vector<std::string> answer_records;   // presentation form, one per record
    std::vector<std::string> answer_addresses; // the A/AAAA addresses among them, in order
    int ecs_scope = -1;                        // SCOPE PREFIX-LENGTH echoed, -1 = no ECS in the response
    std::string zone;                          // the zone that answered ("" = none)
    bool steered = false;                      // the steering decided the answer
    geo::SteeringExplanation steering;
    bool health_live = false; // health is the running daemon's (else every edge is taken as healthy)
};

// Answers `q` with the engine (TCP, so nothing is truncated) and explains the steering decision, if any.
Explanation explain_query(const ZoneDb& db, const EngineConfig& engine, const geo::Steering* steering,
                          const ExplainQuery& q, bool health_live);

// For people (the CLI's default) and for programs (--json, the admin endpoint).
std::string explanation_text(const Explanation& e);
std::string explanation_json(const Explanation& e);

} // namespace dns
