// What the location data says about one network: coordinates and region labels (GeoLite2-City schema), plus the
// name of the CIDR-collection location (Route53 IP-based routing) it belongs to. Built at load time only.
#pragma once

#include <cstdint>
#include <string>

namespace dns::geo {

struct Location {
    bool has_coords = false;
    double latitude = 0;  // degrees
    double longitude = 0; // degrees
    std::string continent;   // "EU" (continent.code)
    std::string country;     // "DE" (country.iso_code)
    std::string subdivision; // "DE-HE": country + "-" + subdivisions[0].iso_code, so codes are unique worldwide
    std::string cidr_name;   // CIDR collection location name, "" when none

    // Identity for interning: equal keys are the same location, so the trees merge their prefixes.
    std::string key() const;
};

// Index into LocationTable; 0 is always "unknown" (an address nowhere in the data).
using LocationId = uint32_t;
constexpr LocationId kUnknownLocation = 0;

} // namespace dns::geo
