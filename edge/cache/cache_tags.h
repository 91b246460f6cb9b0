// The purge tags of a stored object (Fastly's Surrogate-Key, Cloudflare's Cache-Tag): kept among its edge-only fields
// (stored_headers.h), matched by tag invalidations and listed by the cache report. Pure, allocation-free, any
// thread.
#pragma once

#include <string_view>

#include "edge/cache/cached_object.h"
#include "edge/cache/stored_headers.h"
#include "shared/http/http_tokens.h"

namespace edge {

// Calls f(tag) for each tag of `obj` (Surrogate-Key: space-separated; Cache-Tag: comma-separated), in stored order.
template <typename F> void for_each_cache_tag(const CachedObject& obj, F&& f) {
    for_each_stored_header(obj.stored_fields(), [&](std::string_view n, std::string_view v) {
        bool surrogate = shared::ascii_iequals(n, "surrogate-key");
        if (!surrogate && !shared::ascii_iequals(n, "cache-tag")) return;
        char sep = surrogate ? ' ' : ',';
        while (!v.empty()) {
            size_t at = v.find(sep);
            std::string_view t = shared::trim_ows(v.substr(0, at));
            if (!t.empty()) f(t);
            if (at == std::string_view::npos) break;
            v.remove_prefix(at + 1);
        }
    });
}

} // namespace edge
