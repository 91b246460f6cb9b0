// The invalidation API on the edge's admin listener, CloudFront's CreateInvalidation / GetInvalidation:
//   POST /_meridian/invalidate       JSON body (invalidation_request.h) → 201 {"id", "status", "objects", ...}
//   GET  /_meridian/invalidate/<id>  → 200 with the same report, 404 for an unknown id
// Both need "Authorization: Bearer <token>" ([invalidation] token_file): 401 without it, 403 with a wrong one; the
// API answers 403 while no token is configured. The cache is one for all workers, so the answer comes once the
// scan is done and every worker sees the result. The last kHistory invalidations are kept for GET.
//
// Thread: the main loop (admin listener), which waits for the cache scan; the scan runs on a thread of its own at
// the lowest CPU priority (nice 19), helped by the main thread once it takes long, and takes each shard lock only
// in slices.
#pragma once

#include <atomic>
#include <cstdint>
#include <deque>
#include <functional>
#include <string>

#include "edge/cache/object_cache.h"
#include "shared/http/admin_server.h"
#include "shared/metrics/metrics.h"

namespace edge {

class InvalidationApi {
  public:
    // `cache` may be null until set_cache(); `token` returns the current token ("" = off; a reload may change it);
    // `now_ms` the wall clock.
    InvalidationApi(ObjectCache* cache, std::function<std::string()> token, std::function<uint64_t()> now_ms);

    void register_metrics(shared::MetricsRegistry& m);
    // The cache exists once the daemon has started; until then the API answers 503.
    void set_cache(ObjectCache* cache) { cache_ = cache; }
    // Whether the running config has a site of this name ("" = the top-level site): an invalidation naming another
    // is refused (400) rather than matching nothing. Unset: every name is accepted.
    void set_site_check(std::function<bool(const std::string&)> exists) { site_exists_ = std::move(exists); }
    // True when it answered (the paths under /_meridian/invalidate).
    bool handle(const shared::AdminRequest& req, shared::AdminResponse& out);

    static constexpr size_t kHistory = 1000;
    // Totals since start (the console).
    uint64_t invalidations() const { return invalidations_.load(std::memory_order_relaxed); }
    uint64_t invalidated_objects() const { return objects_.load(std::memory_order_relaxed); }

  private:
    struct Record {
        std::string id;
        std::string json; // the report GET returns
    };
    bool authorized(const shared::AdminRequest& req, shared::AdminResponse& out) const;
    void create(const shared::AdminRequest& req, shared::AdminResponse& out);

    ObjectCache* cache_;
    std::function<std::string()> token_;
    std::function<uint64_t()> now_ms_;
    std::function<bool(const std::string&)> site_exists_;
    std::deque<Record> history_;
    uint64_t next_id_ = 1;
    std::atomic<uint64_t> invalidations_{0};
    std::atomic<uint64_t> objects_{0};
};

} // namespace edge
