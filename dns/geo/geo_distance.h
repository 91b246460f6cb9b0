// Great-circle distance for geoproximity (haversine on a spherical Earth; Route53 documents no finer model, and
// ranking edges needs only a monotonic distance).
#pragma once

#include <algorithm>
#include <cmath>

namespace dns::geo {

inline double great_circle_km(double lat1, double lon1, double lat2, double lon2) {
    constexpr double kEarthRadiusKm = 6371.0;
    constexpr double kRad = M_PI / 180.0;
    double dlat = (lat2 - lat1) * kRad;
    double dlon = (lon2 - lon1) * kRad;
    double a = std::sin(dlat / 2) * std::sin(dlat / 2) +
               std::cos(lat1 * kRad) * std::cos(lat2 * kRad) * std::sin(dlon / 2) * std::sin(dlon / 2);
    return 2 * kEarthRadiusKm * std::asin(std::sqrt(std::min(1.0, a)));
}

// Route53 geoproximity: biased distance = distance × (1 − bias/100), bias in −99…99.
inline double biased_distance_km(double distance_km, int bias) { return distance_km * (1.0 - bias / 100.0); }

} // namespace dns::geo
