// CloudFront's policy statements for signed URLs and cookies: the canned policy (one URL, an expiry) and custom
// policies (a Resource with wildcards, DateLessThan, optional DateGreaterThan and IpAddress/AWS:SourceIp).
// Pure, any thread.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace edge {

// An IPv4 or IPv6 CIDR prefix.
struct IpPrefix {
    bool v6 = false;
    uint8_t addr[16] = {};
    int bits = 0;
};

// "192.0.2.0/24", "2001:db8::/32"; a bare address is a host prefix (/32, /128). Host bits must be zero, as AWS
// requires.
bool parse_ip_prefix(std::string_view text, IpPrefix* out);

// True when the textual address `ip` is inside `p`; an IPv4-mapped IPv6 address ("::ffff:192.0.2.1") counts as
// the IPv4 one.
bool ip_in_prefix(const IpPrefix& p, std::string_view ip);

struct SignedPolicy {
    std::optional<std::string> resource;      // absent: every resource (CloudFront allows this for custom policies)
    int64_t date_less_than = 0;               // Unix seconds: valid while now < this
    std::optional<int64_t> date_greater_than; // valid from this second on
    std::optional<IpPrefix> source_ip;
};

// Parses a custom policy: {"Statement":[{"Resource":"...","Condition":{"DateLessThan":{"AWS:EpochTime":N},
// "DateGreaterThan":{...},"IpAddress":{"AWS:SourceIp":"CIDR"}}}]}, exactly one statement. False with *why on
// anything else (unknown condition keys too: a policy this edge cannot enforce fully is refused, not half-honoured).
bool parse_signed_policy(std::string_view json, SignedPolicy* out, std::string* why);

// The canned policy CloudFront signs for `url` and `expires`, byte for byte (no whitespace).
std::string canned_policy(std::string_view url, int64_t expires);

// Resource matching: `*` matches any run of characters (none too), `?` exactly one; the whole URL must match.
bool resource_matches(std::string_view pattern, std::string_view url);

} // namespace edge
