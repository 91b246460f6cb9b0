// libFuzzer harness for the invalidation API's body: the strict JSON reader (shared/json) and the request it is read
// into (edge/invalidation). Arbitrary bytes must never crash either. A body that parses names at least one path or
// tag, every path becomes exactly one exact or prefix match, and matching it against stored objects is safe. Every
// JSON string read back through json_quote() parses, to the same string when it was valid UTF-8.
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "edge/cache/cached_object.h"
#include "edge/invalidation/invalidation_request.h"
#include "shared/json/json_value.h"

namespace {

edge::Ref<edge::CachedObject> object(std::string_view key, std::string_view block) {
    edge::Freshness f;
    f.store = true;
    f.expires_at_ms = 1;
    return edge::CachedObject::create_complete(key, 200, block, edge::ValidatorSpans{}, f, "x");
}

void check_strings(const shared::JsonValue& v) {
    if (v.type == shared::JsonValue::Type::string) {
        shared::JsonValue back;
        std::string err;
        // Always valid JSON; the same string back when it was valid UTF-8 (other bytes come back as U+FFFD).
        if (!shared::parse_json(shared::json_quote(v.string), &back, &err)) std::abort();
        if (shared::valid_utf8(v.string) ? back.string != v.string : !shared::valid_utf8(back.string)) std::abort();
    }
    for (const auto& item : v.items)
        check_strings(item);
    for (const auto& [k, m] : v.members)
        check_strings(m);
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    std::string_view text(reinterpret_cast<const char*>(data), size);
    shared::JsonValue v;
    std::string err;
    if (shared::parse_json(text, &v, &err)) check_strings(v);
    edge::InvalidationRequest r;
    if (!edge::parse_invalidation_request(text, &r, &err)) return 0;
    if (r.paths.empty() && r.tags.empty()) std::abort();
    if (r.exact.size() + r.prefixes.size() != r.paths.size()) std::abort();
    static const auto a = object("www.example.com/assets/app.js?v=1", "HTTP/1.1 200 OK\r\nSurrogate-Key: a b\r\n");
    static const auto b = object(std::string_view("h/x\nx-device:m\0br", 17), "HTTP/1.1 200 OK\r\nCache-Tag: t\r\n");
    static const auto c = object("nohost", "HTTP/1.1 200 OK\r\n");
    edge::invalidation_covers(r, *a);
    edge::invalidation_covers(r, *b);
    edge::invalidation_covers(r, *c);
    return 0;
}
