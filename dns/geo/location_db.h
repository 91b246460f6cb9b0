// Location data for steering, loaded at config load: a MaxMind DB (.mmdb, GeoLite2-City/Country or DB-IP lite
// schema) walked once into two radix trees (IPv4, IPv6) of interned Locations, then a CIDR collection file laid
// over it (its entries win for their prefixes). Load-time only; the trees are immutable afterwards.
//
// CIDR collection file format (one entry per line, `#` starts a comment):
//     <ip>/<len>  <location-name>  [lat=<deg> lon=<deg>] [continent=<CC>] [country=<CC>] [subdivision=<CC-SS>]
// e.g. `10.1.0.0/16  eu-clients  lat=50.11 lon=8.68 continent=EU country=DE`. The name is what IP-based policies
// match; the optional attributes replace what the MaxMind data says for that prefix (absent ones are kept).
// More specific prefixes win over less specific ones regardless of line order.
#pragma once

#include <string>
#include <unordered_map>
#include <vector>

#include "dns/geo/location.h"
#include "dns/geo/radix_tree.h"

namespace shared {
class ConfigDiagnostics;
}

namespace dns::geo {

class LocationDb {
public:
    LocationDb();
    // Returns false and sets *err ("file: reason") when the file cannot be opened or is not a MaxMind DB.
    bool load_mmdb(const std::string& path, std::string* err);
    // Errors go to diags as file:line; returns false if there was any.
    bool load_cidr_file(const std::string& path, shared::ConfigDiagnostics& diags);
    // Same, from text (tests).
    bool load_cidr_text(const std::string& text, const std::string& file_name, shared::ConfigDiagnostics& diags);

    // family: AF_INET or AF_INET6. IPv4-mapped IPv6 addresses are looked up as IPv4.
    LocationId lookup(int family, const uint8_t* addr) const;
    const Location& location(LocationId id) const { return locations_[id]; }
    size_t size() const { return locations_.size(); }
    const RadixTree& tree_v4() const { return v4_; }
    const RadixTree& tree_v6() const { return v6_; }

    LocationId intern(const Location& l);

private:
    std::vector<Location> locations_;
    std::unordered_map<std::string, LocationId> ids_;
    RadixTree v4_;
    RadixTree v6_;
};

// Parses "192.0.2.0/24" or "2001:db8::/32" into family, 16 address bytes (network order) and prefix length.
// Host bits must be zero. Returns false and sets *err otherwise.
bool parse_cidr(const std::string& s, int* family, uint8_t addr[16], unsigned* len, std::string* err);

} // namespace dns::geo
