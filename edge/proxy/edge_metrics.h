// The edge's Prometheus metrics: ids registered once before the workers start; each worker records into its own
// shard (no lock, no allocation).
#pragma once

#include <array>
#include <cstdint>

#include "edge/compress/content_coding.h"
#include "edge/http/response_writer.h"
#include "edge/upstream/origin_group.h"
#include "shared/http/http_error.h"
#include "shared/metrics/metrics.h"

namespace edge {

struct EdgeMetrics {
    static constexpr std::array<int, 22> kStatuses = {200, 204, 206, 301, 302, 304, 307, 308, 400, 403, 404,
                                                      405, 408, 413, 414, 416, 431, 500, 501, 502, 503, 504};
    shared::MetricsRegistry* registry = nullptr;
    std::array<shared::MetricId, kStatuses.size() + 1> by_status{}; // last: other
    std::array<shared::MetricId, 6> by_result{};                    // indexed by CacheResult
    shared::MetricId bytes_sent = 0;
    std::array<shared::MetricId, 6> bytes_by_result{}; // indexed by CacheResult (the console's byte hit ratio)
    shared::MetricId request_latency = 0;              // seconds from the request's first byte to its answer queued
    shared::MetricId open_connections = 0;
    shared::MetricId origin_requests = 0;
    shared::MetricId origin_errors[12] = {}; // indexed by shared::HttpError
    shared::MetricId origin_latency = 0;     // seconds to first byte
    shared::MetricId collapsed = 0;          // requests that joined a fill
    shared::MetricId stale_served = 0;       // stale copies served on an origin failure
    shared::MetricId oversize_passes = 0; // unannounced-length bodies that outgrew max_object_bytes (passed, uncached)
    std::array<shared::MetricId, 3> compressed{};      // responses sent compressed, by ContentCoding
    std::array<shared::MetricId, 3> compress_in{};     // identity bytes read by the compressor
    std::array<shared::MetricId, 3> compress_out{};    // compressed bytes it produced
    std::array<shared::MetricId, 3> compress_unused{}; // compressions not smaller than identity
    std::array<shared::MetricId, 9> signed_denied{};   // private behaviors' 403s, indexed by SignedDenial
    std::array<shared::MetricId, 5> failovers{};       // requests moved to another origin, by FailoverReason
    shared::MetricId origins_down = 0;                 // origins (or parents) marked down
    shared::MetricId origins_up = 0;                   // ... and found answering again

    void register_all(shared::MetricsRegistry& r);
    void count_request(unsigned shard, int status, CacheResult result, uint64_t bytes) noexcept;
    void count_origin_error(unsigned shard, shared::HttpError e) noexcept;
    void observe_request_latency(unsigned shard, uint64_t elapsed_ms) noexcept {
        if (registry) registry->observe(shard, request_latency, static_cast<double>(elapsed_ms) / 1000.0);
    }
    void count_stale_served(unsigned shard) noexcept {
        if (registry) registry->inc(shard, stale_served);
    }
    void count_signed_denied(unsigned shard, unsigned reason) noexcept {
        if (registry && reason > 0 && reason < signed_denied.size()) registry->inc(shard, signed_denied[reason]);
    }
    void count_oversize_pass(unsigned shard) noexcept {
        if (registry) registry->inc(shard, oversize_passes);
    }
    void observe_origin_latency(unsigned shard, uint64_t first_byte_ms) noexcept {
        if (registry) registry->observe(shard, origin_latency, static_cast<double>(first_byte_ms) / 1000.0);
    }
    void count_failover(unsigned shard, FailoverReason r) noexcept {
        auto i = static_cast<size_t>(r);
        if (registry && i > 0 && i < failovers.size()) registry->inc(shard, failovers[i]);
    }
    void count_origin_down(unsigned shard) noexcept {
        if (registry) registry->inc(shard, origins_down);
    }
    void count_origin_up(unsigned shard) noexcept {
        if (registry) registry->inc(shard, origins_up);
    }
    void count_compressed(unsigned shard, ContentCoding c) noexcept;
    void count_compression(unsigned shard, ContentCoding c, uint64_t in, uint64_t out, bool used) noexcept;
};

} // namespace edge
