// One compression of an identity object into a cached variant, run on libuv's threadpool (uv_queue_work) so the
// worker loop keeps serving while a large body compresses.
//
// The job leads the variant key's Fill (MissCoalescer, the same request collapsing as origin misses): requests for
// the same variant that arrive meanwhile join the fill and are all answered from the one result. On completion,
// back on the loop thread, it stores through the fill either the variant (when smaller than the identity body) or
// a marker object meaning "no variant" (hit-for-miss: not smaller, or a codec error), then reports and frees itself.
// The job owns itself: the request that started it may be gone before it finishes.
//
// Thread: started and completed on one worker loop; the compression itself runs on a threadpool thread and only
// reads the (complete, immutable) identity body.
#pragma once

#include <uv.h>

#include <cstdint>
#include <functional>

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
};

struct VariantJobParams {
    uv_loop_t* loop = nullptr;
    FillLeader leader;          // of the variant key's fill; the job resolves it
    Ref<CachedObject> identity; // complete
    ContentCoding coding = ContentCoding::br;
    int level = 0;
    uint64_t (*clock_ms)() = nullptr;                     // the cache's clock (wall milliseconds)
    std::function<void(const VariantJobResult&)> on_done; // on the loop thread, after the fill resolved
};

// Queues the job. If libuv refuses the work (never expected), the fill fails at once so waiters fall back to identity.
void start_variant_job(VariantJobParams p);

} // namespace edge
