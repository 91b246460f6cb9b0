// Why a steered name got its answer: what Steering::explain() reports for one traced decision (the location the
// client was found at, the policy tree as evaluated under the current health, the weighted options and the one
// drawn). Control-plane data for meridian-dns explain and the admin /_meridian/explain; never built per query.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "dns/geo/location.h"

namespace dns::geo {

// One member of a policy as the evaluation saw it.
struct CandidateExplanation {
    std::string name; // edge or pool name
    bool is_pool = false;
    bool has_address = true; // edges: has an address of the steered type
    bool has_check = false;  // edges: has a health check
    bool healthy = true;     // edges: health (edges without a check are always healthy)
    int weight = -1;         // weighted policies, else -1
    int bias = 0;            // geoproximity
    double distance_km = -1; // geoproximity: great-circle distance from the client's location, -1 = unknown
    double biased_km = -1;   // geoproximity: the distance the ranking used (bias applied)
    int64_t latency_ms = -2; // latency: the table's figure, -1 = not measured, -2 = not a latency policy
    int rank = -1;           // location-based policies: position in the order for this client (0 = preferred)
    // "answered" (part of this node's result), "unavailable" (evaluated, gave nothing: unhealthy, no address, or a
    // pool with nothing available), "not tried" (a preferred member answered), "not ranked" (a location rule does
    // not list it for this client).
    std::string outcome;
};

// One policy node (the steer's own policy, then pools as the evaluation descends into them).
struct PolicyExplanation {
    unsigned depth = 0; // 0 = the steer's policy
    std::string owner;  // the steer ("www.example.test. A") or the pool name
    std::string policy; // policy_name()
    std::string rule;   // location-based: what placed the client ("country DE", "cidr office-eu", "default", ...)
    std::vector<CandidateExplanation> candidates;
    bool fail_open_pass = false; // evaluated again with every edge taken as healthy (fail-open)
};

// One of the answers the class can give, with its probability (weighted policies give several).
struct OptionExplanation {
    double probability = 1;
    std::vector<std::string> edges; // rotation order as rendered
    unsigned window = 1;            // records per answer (rotation shows `window` of them)
    bool chosen = false;
};

struct SteeringExplanation {
    std::string name;  // "www.example.test."
    std::string qtype; // "A" / "AAAA"
    uint32_t ttl = 0;
    std::string policy; // the steer's policy
    bool uses_location = false;
    // Where the client was looked up.
    std::string database, cidr_file; // files of [geo] ("" = none)
    std::string looked_up;           // the client network used: "198.51.100.0/24" (capped, masked)
    bool capped = false;             // the source prefix was longer than /24 (/56) and was cut
    bool location_known = false;     // the address is in the location data
    std::string location_network;    // the location data's network for it: "198.51.100.0/24"
    Location location;
    std::string class_network;             // the prefix that decided the answer: looked_up cut to the tree depth
    std::vector<std::string> class_labels; // every rule placing clients in the same answer ("NA/US", "*")
    std::vector<PolicyExplanation> walk;
    std::vector<OptionExplanation> options;
    std::vector<std::string> answer; // the edges answered, in record order
    unsigned scope = 0;              // ECS scope returned
    bool nodata = false;
    bool failed_open = false;
};

} // namespace dns::geo
