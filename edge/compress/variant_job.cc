#include "edge/compress/variant_job.h"

#include <string>

#include "edge/compress/compressor.h"
#include "edge/compress/variant_headers.h"

namespace edge {
namespace {

struct VariantJob {
    uv_work_t work{};
    VariantJobParams p;
    std::string out;
    bool ok = false;

    static void run(uv_work_t* w) noexcept {
        auto* j = static_cast<VariantJob*>(w->data);
        try {
            j->ok =
                compress_body(j->p.coding, j->p.level, j->p.identity->body(), j->p.identity->body().size(), &j->out);
        } catch (...) { // bad_alloc: no variant, like any other failure
            j->ok = false;
        }
    }

    static void after(uv_work_t* w, int status) noexcept {
        auto* j = static_cast<VariantJob*>(w->data);
        j->complete(status == 0 && j->ok);
        delete j;
    }

    void complete(bool use) noexcept {
        VariantJobResult r;
        r.coding = p.coding;
        r.bytes_in = p.identity->body().size();
        r.bytes_out = out.size();
        Fill* fill = p.leader.get();
        try {
            const CachedObject& id = *p.identity;
            uint64_t now = p.clock_ms();
            // The variant lives exactly as long as its identity object (same expiry instant, same Age).
            Freshness f;
            f.store = true;
            f.expires_at_ms = id.expires_at_ms();
            uint64_t age_ms = static_cast<uint64_t>(id.age_seconds(now)) * 1000;
            f.age_origin_ms = now > age_ms ? now - age_ms : 0;
            f.lifetime_ms = f.expires_at_ms > f.age_origin_ms ? f.expires_at_ms - f.age_origin_ms : 0;
            f.must_revalidate = id.must_revalidate();
            ValidatorSpans val;
            Ref<CachedObject> obj;
            if (use) {
                std::string block = variant_header_block(id.header_block(), p.coding, &val);
                obj = CachedObject::create_complete(fill->key(), 200, block, val, f, out);
            } else {
                std::string block = marker_header_block(id.header_block(), &val);
                obj = CachedObject::create_complete(fill->key(), 0, block, val, f, {});
            }
            fill->start_body(obj);
            fill->finish(now);
            r.stored_variant = use;
        } catch (...) {
            fill->fail();
        }
        std::string().swap(out);
        if (p.on_done) p.on_done(r);
    }
};

} // namespace

void start_variant_job(VariantJobParams p) {
    auto* j = new VariantJob;
    j->p = std::move(p);
    j->work.data = j;
    if (uv_queue_work(j->p.loop, &j->work, &VariantJob::run, &VariantJob::after) != 0) {
        j->p.leader.abandon();
        delete j;
    }
}

} // namespace edge
