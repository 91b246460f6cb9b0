#include "edge/compress/variant_job.h"

#include <string>

#include "edge/compress/compressor.h"
#include "edge/compress/variant_headers.h"

namespace edge {

void VariantJob::compress() noexcept {
    try {
        if (p_.precompressed && p_.precompressed(&out_)) {
            ok_ = true;
            precompressed_ = true;
            return;
        }
        out_.clear();
        ok_ = compress_body(p_.coding, p_.level, p_.identity->body(), p_.identity->body().size(), &out_);
    } catch (...) { // bad_alloc: no variant, like any other failure
        ok_ = false;
    }
}

void VariantJob::complete(bool ran) noexcept {
    if (!ran) {
        p_.leader.abandon();
        return;
    }
    bool use = ok_;
    VariantJobResult r;
    r.coding = p_.coding;
    r.bytes_in = p_.identity->body().size();
    r.bytes_out = out_.size();
    r.precompressed = precompressed_;
    Fill* fill = p_.leader.get();
    try {
        const CachedObject& id = *p_.identity;
        uint64_t now = p_.clock_ms();
        // The variant lives exactly as long as its identity object (same expiry instant, same Age).
        Freshness f;
        f.store = true;
        f.expires_at_ms = id.expires_at_ms();
        uint64_t age_ms = static_cast<uint64_t>(id.age_seconds(now)) * 1000;
        f.age_origin_ms = now > age_ms ? now - age_ms : 0;
        f.lifetime_ms = f.expires_at_ms > f.age_origin_ms ? f.expires_at_ms - f.age_origin_ms : 0;
        f.must_revalidate = id.must_revalidate();
        f.date_s = id.date_s();
        ValidatorSpans val;
        Ref<CachedObject> obj;
        if (use) {
            std::string block = variant_header_block(id.header_block(), p_.coding, &val);
            obj = CachedObject::create_complete(fill->key(), 200, block, val, f, out_);
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
    std::string().swap(out_);
    if (p_.on_done) p_.on_done(r);
}

} // namespace edge
