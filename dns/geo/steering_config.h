// The parsed steering part of a meridian-dns config: location databases ([geo]), the edge pool ([[edge]]),
// reusable policies ([[pool]]) and steered names ([[steer]]). Keys and meaning: conf/README.md,
// "meridian-dns steering". Produced by parse_steering_config() (dns/geo/steering.h); read-only afterwards.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace dns::geo {

enum class PolicyType : uint8_t { simple, weighted, failover, geolocation, geoproximity, latency, ip_based, multivalue };

const char* policy_name(PolicyType t);
// True for the policies whose choice depends on where the client is.
bool policy_uses_location(PolicyType t);

struct HealthCheckConfig {
    enum class Type : uint8_t { none, tcp, http, https };
    Type type = Type::none;
    std::string address;  // IP literal to connect to (default: the edge's IPv4, else its IPv6)
    uint16_t port = 0;    // default 80 (http, tcp), 443 (https)
    std::string path = "/";
    std::string host;     // Host header and TLS SNI (default: address)
    uint64_t interval_ms = 30000;
    uint64_t timeout_ms = 5000;
    unsigned failure_threshold = 3; // consecutive failures that mark a healthy edge unhealthy
    unsigned success_threshold = 3; // consecutive successes that mark an unhealthy edge healthy
    int status_min = 200;
    int status_max = 399;
    std::string body_contains; // "" = body not checked
    bool verify_tls = true;
};

struct EdgeConfig {
    std::string name;
    bool has_v4 = false;
    bool has_v6 = false;
    uint8_t v4[4] = {};
    uint8_t v6[16] = {};
    bool has_coords = false;
    double latitude = 0;
    double longitude = 0;
    std::string continent, country, subdivision; // labels (informational; geolocation rules name members)
    int weight = 1; // default weight in weighted policies
    int bias = 0;   // default geoproximity bias
    HealthCheckConfig health;
};

// A member of a policy: an edge or a pool (another policy).
struct MemberRef {
    bool is_pool = false;
    uint32_t index = 0; // into SteeringConfig::edges or ::pools
};

struct LatencyRow {
    std::vector<std::string> from; // location codes (see LocationCode) this row applies to
    std::vector<int64_t> ms;       // per member, -1 = not measured (ranked last)
};

struct PolicyConfig {
    PolicyType type = PolicyType::simple;
    std::vector<MemberRef> members;
    std::vector<int> weights; // per member (weighted)
    std::vector<int> biases;  // per member (geoproximity)
    int default_member = -1;  // index into members, -1 = none
    // geolocation: codes per member: "continent:EU", "DE", "DE-HE" (subdivision = country-subdivision)
    std::vector<std::vector<std::string>> locations;
    // ip_based: CIDR collection location names per member
    std::vector<std::vector<std::string>> cidr_names;
    std::vector<LatencyRow> latency; // latency
};

struct PoolConfig {
    std::string name;
    PolicyConfig policy;
    bool has_coords = false; // geoproximity position (default: its first member's)
    double latitude = 0;
    double longitude = 0;
    int weight = 1;
    int bias = 0;
};

struct SteerConfig {
    std::string name;          // "www.example.test." (lowercase)
    std::vector<uint8_t> wire; // lowercase wire format
    uint16_t qtype = 1;        // 1 = A, 28 = AAAA
    uint32_t ttl = 60;
    PolicyConfig policy;
};

struct SteeringConfig {
    std::string database;  // MaxMind DB path ("" = none)
    std::string cidr_file; // CIDR collection path ("" = none)
    std::vector<EdgeConfig> edges;
    std::vector<PoolConfig> pools;
    std::vector<SteerConfig> steers; // one per (name, qtype)
    bool empty() const { return steers.empty(); }
};

// "www.Example.test" / "www.example.test." → lowercase wire format; false on a bad name.
bool name_to_wire(const std::string& name, std::vector<uint8_t>* wire, std::string* canonical, std::string* err);

} // namespace dns::geo
