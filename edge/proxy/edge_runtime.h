// What every worker reads while serving: an immutable snapshot of the config plus the origins built from it
// (bucket folders opened), swapped as a whole on SIGHUP (each worker holds a shared_ptr, so a request in flight
// keeps the snapshot it started with). EdgeServices are the process-wide objects that outlive every snapshot.
#pragma once

#include <atomic>
#include <memory>
#include <string>
#include <vector>

#include "edge/access_log/access_log.h"
#include "edge/cache/miss_coalescer.h"
#include "edge/cache/object_cache.h"
#include "edge/config/edge_config.h"
#include "edge/origin/bucket_origin.h"
#include "edge/proxy/edge_metrics.h"

namespace edge {

class TopUrls;

struct EdgeRuntime {
    EdgeConfig config;
    std::vector<std::unique_ptr<BucketOrigin>> buckets; // by origin index; null for http origins
    std::string via;                                    // "1.1 <server_name>"

    // Opens the bucket folders. Returns nullptr and sets *err when one cannot be opened.
    static std::shared_ptr<const EdgeRuntime> build(EdgeConfig config, std::string* err);
};

struct EdgeServices {
    ObjectCache* cache = nullptr;
    MissCoalescer* coalescer = nullptr;
    const AccessLogFile* access_log = nullptr;
    EdgeMetrics* metrics = nullptr;
    const std::atomic<bool>* draining = nullptr; // health answers 503 "draining" while set
    TopUrls* top_urls = nullptr;                 // the console's popular URLs (null: not kept)
};

} // namespace edge
