// One compression of an identity object into a cached variant: compress() runs on a thread pool (the caller queues
// it, edge/proxy/proxy_io.h) so the worker loop keeps serving while a large body compresses, then complete() on the
// loop. When the origin has the variant's bytes already (a bucket's pre-compressed sibling, see
// BucketOrigin::read_precompressed), compress() reads them instead and the variant is stored the same way.
//
// The job leads the variant key's Fill (MissCoalescer, the same request collapsing as origin misses): requests for
// the same variant that arrive meanwhile join the fill and are all answered from the one result. On completion,
// back on the loop thread, it stores through the fill either the variant (when smaller than the identity body) or
// a marker object meaning "no variant" (hit-for-miss: not smaller, or a codec error), then reports and frees itself.
// The job is independent of the request that started it, which may be gone before it finishes.
//
// Thread: started and completed on one worker loop; the compression itself runs on a threadpool thread and only
// reads the (complete, immutable) identity body.
#pragma once

#include <cstdint>
#include <functional>
#include <string>

#include "edge/cache/cached_object.h"
#include "edge/cache/fill.h"
#include "edge/cache/ref.h"
#include "edge/compress/content_coding.h"

namespace edge {

struct VariantJobResult {
    ContentCoding coding = ContentCoding::identity;
    bool stored_variant = false; // false: a marker was stored (or the fill had already failed)
    uint64_t bytes_in = 0;       // identity body bytes read by the compressor
    uint64_t bytes_out = 0;      // compressed bytes produced (also when discarded as not smaller)
    bool precompressed = false;  // the origin's own compressed file was used (nothing compressed here)
};

struct VariantJobParams {
    FillLeader leader;          // of the variant key's fill; the job resolves it
    Ref<CachedObject> identity; // complete
    ContentCoding coding = ContentCoding::br;
    int level = 0;
    uint64_t (*clock_ms)() = nullptr;                     // the cache's clock (wall milliseconds)
    std::function<void(const VariantJobResult&)> on_done; // on the loop thread, after the fill resolved
    // Optional, thread pool: the origin's pre-compressed file for this coding and this identity (a bucket's
    // "app.js.br" beside "app.js"), read into *out; false when there is none (then the job compresses).
    std::function<bool(std::string* out)> precompressed;
};

class VariantJob {
  public:
    explicit VariantJob(VariantJobParams p) : p_(std::move(p)) {}
    // Thread pool: compresses the identity body (immutable once complete).
    void compress() noexcept;
    // The loop, after compress() (`ran`), or instead of it when the job could not be queued (the fill then fails
    // at once, so waiters fall back to identity). Call once.
    void complete(bool ran) noexcept;

  private:
    VariantJobParams p_;
    std::string out_;
    bool ok_ = false;
    bool precompressed_ = false;
};

} // namespace edge
