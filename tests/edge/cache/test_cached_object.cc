#include <catch2/catch.hpp>

#include <string>

#include "edge/cache/cached_object.h"

using namespace edge;

namespace {

Freshness fresh() {
    Freshness f;
    f.store = true;
    f.lifetime_ms = 60'000;
    f.expires_at_ms = UINT64_MAX;
    return f;
}

// Whether [p, p+n) lies inside the object's own allocation (struct, key, header block, inline chunk).
bool inside(const CachedObject& o, const char* p, size_t n, size_t body_cap) {
    const char* base = reinterpret_cast<const char*>(&o);
    size_t total = sizeof(CachedObject) + o.key().size() + o.header_block().size() + BodyBuffer::kInlineChunkAlign +
                   BodyBuffer::inline_chunk_bytes(body_cap);
    return p >= base && p + n <= base + total;
}

} // namespace

TEST_CASE("CachedObject: a body of known length lives in the object's own allocation", "[edge][cache][memory]") {
    const std::string block = "HTTP/1.1 200 OK\r\nContent-Type: text/css\r\nETag: \"abc\"";
    ValidatorSpans v;
    v.etag_off = static_cast<uint32_t>(block.find('"'));
    v.etag_len = 5;
    // Key lengths that leave every remainder mod 8 before the chunk, so the padding is exercised.
    for (size_t klen = 9; klen < 17; ++klen) {
        std::string key = "example.com/" + std::string(klen, 'k');
        std::string body(100 + klen, 'b');
        Ref<CachedObject> o = CachedObject::create(key, 200, block, v, fresh(), body.size());
        o->writable_body().append(body.data(), 60);
        o->writable_body().append(body.data() + 60, body.size() - 60);
        o->mark_complete();
        BodySlice s[4];
        REQUIRE(o->body().slices(0, UINT64_MAX, s, 4) == 1);
        CHECK(std::string_view(s[0].data, s[0].len) == body);
        CHECK(inside(*o, s[0].data, s[0].len, body.size()));
        CHECK(reinterpret_cast<uintptr_t>(s[0].data - BodyBuffer::chunk_overhead()) % BodyBuffer::kInlineChunkAlign ==
              0);
        CHECK(o->key() == key);
        CHECK(o->header_block() == block);
        CHECK(o->etag() == "\"abc\"");
        CHECK(o->charge() ==
              sizeof(CachedObject) + key.size() + block.size() + BodyBuffer::chunk_overhead() + body.size());
    }
}

TEST_CASE("CachedObject: unknown or exceeded lengths still read back whole", "[edge][cache][memory]") {
    Ref<CachedObject> chunked = CachedObject::create("h/chunked", 200, "HTTP/1.1 200 OK", {}, fresh(), 0);
    std::string body(40'000, 'c');
    chunked->writable_body().append(body);
    CHECK(chunked->body().copy() == body);
    Ref<CachedObject> more = CachedObject::create("h/more", 200, "HTTP/1.1 200 OK", {}, fresh(), 4);
    more->writable_body().append("0123456789");
    CHECK(more->body().copy() == "0123456789");
    Ref<CachedObject> empty = CachedObject::create_complete("h/empty", 204, "HTTP/1.1 204 No Content", {}, fresh(), "");
    CHECK(empty->body().size() == 0);
    CHECK(sizeof(CachedObject) <= 136); // 128 + the stored Date (RFC 9110 §6.6.1), updated in place by a 304
}
