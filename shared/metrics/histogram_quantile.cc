#include "shared/metrics/histogram_quantile.h"

#include <cmath>
#include <limits>

namespace shared {

double histogram_quantile(const std::vector<double>& bounds, const std::vector<uint64_t>& counts, double q) {
    uint64_t total = 0;
    for (uint64_t c : counts)
        total += c;
    if (total == 0 || counts.size() != bounds.size() + 1) return std::numeric_limits<double>::quiet_NaN();
    if (q < 0) q = 0;
    if (q > 1) q = 1;
    double rank = q * static_cast<double>(total);
    uint64_t below = 0;
    for (size_t b = 0; b < counts.size(); ++b) {
        if (counts[b] == 0 || static_cast<double>(below + counts[b]) < rank) {
            below += counts[b];
            continue;
        }
        if (b == bounds.size()) return bounds.empty() ? 0 : bounds.back();
        double lo = b == 0 ? 0 : bounds[b - 1];
        double hi = bounds[b];
        return lo + (hi - lo) * (rank - static_cast<double>(below)) / static_cast<double>(counts[b]);
    }
    return bounds.empty() ? 0 : bounds.back();
}

} // namespace shared
