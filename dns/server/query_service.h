// The query path of one answering thread (a worker's event loop for TCP, or one of its UDP threads): runs the engine
// on the thread's current zone set, counts metrics in the worker's shard, applies response rate limiting and writes
// the sampled query log.
//
// Owned by one thread. The zone set and settings arrive on that thread (Worker::post() for the loop, publish() for
// a UDP thread) and are swapped in with update(), so a query never takes a lock and in-flight queries finish on the
// data they started with.
#pragma once

#include <sys/socket.h>

#include <array>
#include <cstdint>
#include <memory>
#include <vector>

#include "dns/config/address_acl.h"
#include "dns/config/dns_config.h"
#include "dns/dnssec/signature_cache.h"
#include "dns/engine/query_engine.h"
#include "dns/server/rate_limiter.h"
#include "dns/zone/zone_db.h"
#include "shared/metrics/metrics.h"

namespace dns {

// Everything a reload may change, shared read-only by all workers.
struct ServiceSettings {
    EngineConfig engine;
    AddressAcl axfr_allow;
    uint64_t tcp_idle_timeout_ms = 10000;
    uint32_t max_tcp_connections = 1000;
    uint32_t max_tcp_connections_per_address = 64; // whole process; 0 = no limit
    uint64_t tcp_query_timeout_ms = 5000;          // from a query's first byte to its last
    uint64_t tcp_write_timeout_ms = 10000;         // answers pending with no write progress
    uint64_t transfer_timeout_ms = 60000;          // a zone transfer with no write progress
    int query_log_fd = -1;                         // owned by the app
    uint32_t query_log_sample = 1;
    RrlConfig rrl;
    // Keeps the steering data behind engine.steering alive while any worker still uses these settings.
    std::shared_ptr<const void> steering_owner;
};

// Metric ids, registered once by the app (dns_app.cc) before workers start.
struct ServerMetricIds {
    static constexpr size_t kRcodes = 6; // NOERROR FORMERR SERVFAIL NXDOMAIN NOTIMP REFUSED; the rest → other
    std::array<shared::MetricId, kRcodes + 1> by_rcode{};
    static constexpr uint16_t kTypes[] = {1, 2, 5, 6, 12, 15, 16, 28, 33, 35, 43, 44, 52, 64, 65, 252, 255, 257};
    std::array<shared::MetricId, std::size(kTypes) + 1> by_qtype{};
    shared::MetricId udp = 0, tcp = 0, dropped = 0, truncated = 0, rate_limited = 0, udp_send_errors = 0;
    shared::MetricId tcp_connections = 0, tcp_refused = 0, tcp_reclaimed = 0, axfr = 0, axfr_refused = 0,
                     axfr_failed = 0;
    shared::MetricId tcp_timeouts = 0; // connections closed by tcp_query_timeout, tcp_write_timeout or transfer_timeout
    shared::MetricId latency = 0;
};

// Answering threads per worker: its event loop (TCP) and one UDP thread per listen address. Steering keeps per-thread
// state for this many contexts per worker; the loop's context is `worker`, UDP thread j's is
// workers + worker * listen_addresses + j.
inline unsigned query_contexts(unsigned workers, unsigned listen_addresses) {
    return workers * (1 + listen_addresses);
}
inline unsigned udp_context(unsigned workers, unsigned worker, unsigned listen_addresses, unsigned j) {
    return workers + worker * listen_addresses + j;
}

class QueryService {
  public:
    // `worker`: the metrics shard; `context`: the steering context index (per-thread state such as the weighted
    // policies' PRNG: each thread that answers queries has its own, 0 ≤ context < the count given to
    // Steering::build; see query_contexts()).
    QueryService(unsigned worker, unsigned context, shared::MetricsRegistry* metrics, const ServerMetricIds* ids);

    void update(std::shared_ptr<const ZoneDb> db, std::shared_ptr<const ServiceSettings> settings);
    const ServiceSettings& settings() const { return *settings_; }
    const ZoneDb& db() const { return *db_; }

    // Whether an answer over TCP can depend on the client's address: steering (no ECS: the resolver's address
    // locates the client) and the query log. RRL applies to UDP only. Without either a TCP connection never needs
    // its peer's address, which saves a getpeername per connection.
    bool tcp_answers_use_client() const {
        return settings_->engine.steering != nullptr || settings_->query_log_fd >= 0;
    }
    // Answers one query into out (cap bytes); 0 = send nothing (see info->kind for transfers).
    size_t handle(const uint8_t* query, size_t len, uint8_t* out, size_t cap, bool tcp, const sockaddr* client,
                  AnswerInfo* info) noexcept;

    // Memory hints for a batch (see prefetch_answer in dns/engine/query_engine.h).
    void prefetch(const uint8_t* query, size_t len, AnswerPrefetch* p) const noexcept {
        prefetch_answer(*db_, query, len, p);
    }

    unsigned worker() const { return worker_; }
    shared::MetricsRegistry* metrics() const { return metrics_; }
    const ServerMetricIds& ids() const { return *ids_; }

    // The name part of the rate limiting key (0 = none: limited per client prefix and rcode only).
    static uint64_t rrl_name_hash(const uint8_t* query, const AnswerInfo& info) noexcept;

  private:
    void log_query(const uint8_t* query, size_t len, bool tcp, const sockaddr* client, const AnswerInfo& info) noexcept;
    unsigned worker_;
    unsigned context_;
    shared::MetricsRegistry* metrics_;
    const ServerMetricIds* ids_;
    std::shared_ptr<const ZoneDb> db_;
    std::shared_ptr<const ServiceSettings> settings_;
    RateLimiter rrl_;
    SignatureCache signatures_; // DNSSEC signatures made per query, reused (memory only once a zone is signed)
    uint32_t log_counter_ = 0;
    static constexpr uint32_t kTimingSample = 16; // one query in 16 feeds the latency histogram
    uint32_t timing_counter_ = 0;
};

} // namespace dns
