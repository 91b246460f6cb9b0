#include "edge/proxy/edge_metrics.h"

#include <string>

#include "edge/access/signed_request.h"

namespace edge {

void EdgeMetrics::register_all(shared::MetricsRegistry& r) {
    registry = &r;
    for (size_t i = 0; i < kStatuses.size(); ++i) {
        by_status[i] = r.counter("meridian_edge_requests_by_status_total", "Requests answered, by HTTP status",
                                 "status=\"" + std::to_string(kStatuses[i]) + "\"");
    }
    by_status[kStatuses.size()] =
        r.counter("meridian_edge_requests_by_status_total", "Requests answered, by HTTP status", "status=\"other\"");
    const char* results[] = {"none", "hit", "refresh_hit", "miss", "error", "redirect"};
    for (size_t i = 0; i < by_result.size(); ++i) {
        by_result[i] = r.counter("meridian_edge_requests_total",
                                 "Requests answered, by cache result (hit ratio = hit / (hit + refresh_hit + miss))",
                                 std::string("result=\"") + results[i] + "\"");
    }
    for (size_t i = 0; i < bytes_by_result.size(); ++i) {
        bytes_by_result[i] = r.counter("meridian_edge_sent_bytes_by_result_total",
                                       "Response bytes queued to viewers, by cache result (byte hit ratio)",
                                       std::string("result=\"") + results[i] + "\"");
    }
    request_latency = r.histogram("meridian_edge_request_seconds",
                                  "Time from a request's first byte to its answer being queued (millisecond clock)",
                                  {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10});
    bytes_sent = r.counter("meridian_edge_sent_bytes_total", "Response bytes queued to viewers (headers and body)");
    open_connections = r.gauge("meridian_edge_open_connections", "Open viewer connections");
    origin_requests = r.counter("meridian_edge_origin_requests_total", "Requests sent to origins");
    for (int e = 1; e <= static_cast<int>(shared::HttpError::Internal); ++e) {
        origin_errors[e] =
            r.counter("meridian_edge_origin_errors_total", "Failed origin exchanges, by kind",
                      std::string("kind=\"") + shared::http_error_name(static_cast<shared::HttpError>(e)) + "\"");
    }
    origin_latency = r.histogram("meridian_edge_origin_first_byte_seconds", "Origin time to first byte",
                                 {0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30});
    for (unsigned d = 1; d < signed_denied.size(); ++d) {
        signed_denied[d] = r.counter("meridian_edge_signed_request_denied_total",
                                     "Requests to private behaviors refused (403), by reason",
                                     "reason=\"" + std::string(to_string(static_cast<SignedDenial>(d))) + "\"");
    }
    for (size_t i = 1; i < failovers.size(); ++i) {
        failovers[i] = r.counter(
            "meridian_edge_origin_failover_total",
            "Origin requests moved to the next origin of their group (failover origin or next parent), by reason",
            std::string("reason=\"") + failover_reason_name(static_cast<FailoverReason>(i)) + "\"");
    }
    origins_down = r.counter("meridian_edge_origin_marked_down_total",
                             "Origins or tier parents marked down for their cool-down after a failure");
    origins_up =
        r.counter("meridian_edge_origin_back_up_total", "Origins or tier parents answering again after being down");
    collapsed = r.counter("meridian_edge_collapsed_requests_total", "Misses that joined another request's fill");
    oversize_passes = r.counter("meridian_edge_oversize_passes_total",
                                "Responses without Content-Length that outgrew max_object_bytes: passed through "
                                "whole, not cached");
    stale_served = r.counter("meridian_edge_stale_served_total",
                             "Stale copies served because their revalidation failed (serve_stale_on_error)");
    for (ContentCoding c : {ContentCoding::gzip, ContentCoding::br}) {
        auto i = static_cast<size_t>(c);
        std::string label = "encoding=\"" + std::string(content_coding_name(c)) + "\"";
        compressed[i] = r.counter("meridian_edge_compressed_responses_total",
                                  "Responses sent with a Content-Encoding the edge produced, by encoding", label);
        compress_in[i] = r.counter("meridian_edge_compressor_in_bytes_total",
                                   "Identity body bytes read by the compressor, by encoding", label);
        compress_out[i] = r.counter("meridian_edge_compressor_out_bytes_total",
                                    "Compressed bytes produced by the compressor, by encoding", label);
        compress_unused[i] =
            r.counter("meridian_edge_compressor_unused_total",
                      "Compressions discarded (not smaller than identity, or failed), by encoding", label);
    }
}

void EdgeMetrics::count_compressed(unsigned shard, ContentCoding c) noexcept {
    if (!registry || c == ContentCoding::identity) return;
    registry->inc(shard, compressed[static_cast<size_t>(c)]);
}

void EdgeMetrics::count_compression(unsigned shard, ContentCoding c, uint64_t in, uint64_t out, bool used) noexcept {
    if (!registry || c == ContentCoding::identity) return;
    auto i = static_cast<size_t>(c);
    registry->inc(shard, compress_in[i], in);
    registry->inc(shard, compress_out[i], out);
    if (!used) registry->inc(shard, compress_unused[i]);
}

void EdgeMetrics::count_request(unsigned shard, int status, CacheResult result, uint64_t bytes) noexcept {
    if (!registry) return;
    size_t idx = kStatuses.size();
    for (size_t i = 0; i < kStatuses.size(); ++i) {
        if (kStatuses[i] == status) {
            idx = i;
            break;
        }
    }
    registry->inc(shard, by_status[idx]);
    registry->inc(shard, by_result[static_cast<size_t>(result)]);
    registry->inc(shard, bytes_sent, bytes);
    registry->inc(shard, bytes_by_result[static_cast<size_t>(result)], bytes);
}

void EdgeMetrics::count_origin_error(unsigned shard, shared::HttpError e) noexcept {
    auto i = static_cast<size_t>(e);
    if (!registry || i == 0 || i >= 12) return;
    registry->inc(shard, origin_errors[i]);
}

} // namespace edge
