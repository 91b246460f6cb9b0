// Quantiles estimated from histogram buckets, as Prometheus's histogram_quantile() does: find the bucket holding
// the q-th observation and interpolate linearly inside it (from 0 for the first bucket). An observation in the +Inf
// bucket reads as the largest finite bound, so a p99 beyond the buckets shows as "at least" that bound.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace shared {

// `counts` has bounds.size() + 1 entries (not cumulative, +Inf last). NaN when there is no observation.
double histogram_quantile(const std::vector<double>& bounds, const std::vector<uint64_t>& counts, double q);

} // namespace shared
