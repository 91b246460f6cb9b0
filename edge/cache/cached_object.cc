#include "edge/cache/cached_object.h"

#include "edge/cache/body_file.h"

#include <cstdlib>
#include <cstring>
#include <new>

namespace edge {

CachedObject::CachedObject(std::string_view key, int status, std::string_view header_block,
                           const ValidatorSpans& validators, const Freshness& f, uint64_t expected_body,
                           void* body_chunk_mem) noexcept
    : key_len_(static_cast<uint32_t>(key.size())),
      body_(body_chunk_mem ? BodyBuffer(expected_body, body_chunk_mem)
                           : BodyBuffer(expected_body, BodyBuffer::InFile{})),
      age_origin_ms_(f.age_origin_ms), expires_at_ms_(f.expires_at_ms), date_s_(f.date_s), validators_(validators),
      header_len_(static_cast<uint32_t>(header_block.size())), status_(static_cast<uint16_t>(status)),
      flags_(static_cast<uint8_t>((f.must_revalidate ? kMustRevalidate : 0) | (f.keep_stale ? kKeepStale : 0))) {
    char* p = reinterpret_cast<char*>(this + 1);
    std::memcpy(p, key.data(), key.size());
    std::memcpy(p + key.size(), header_block.data(), header_block.size());
}

Ref<CachedObject> CachedObject::create(std::string_view key, int status, std::string_view header_block,
                                       const ValidatorSpans& validators, const Freshness& freshness,
                                       uint64_t expected_body) {
    // One allocation for the struct, the key, the header block and, when its length is known, the body's first
    // chunk: one heap block per small object instead of two (its header, rounding and the holes it leaves between
    // a fill's short-lived allocations are bookkeeping too).
    size_t size = sizeof(CachedObject) + key.size() + header_block.size();
    size_t chunk_at = 0;
    // A large body goes to a shared-memory file instead (body_file.h), so hits can send it with sendfile.
    bool inline_body = expected_body > 0 && expected_body < BodyFiles::kMinBody;
    if (inline_body) {
        chunk_at = (size + BodyBuffer::kInlineChunkAlign - 1) & ~(BodyBuffer::kInlineChunkAlign - 1);
        size = chunk_at + BodyBuffer::inline_chunk_bytes(expected_body);
    }
    void* mem = std::malloc(size);
    if (!mem) throw std::bad_alloc();
    void* chunk = inline_body ? static_cast<char*>(mem) + chunk_at : nullptr;
    auto* o = new (mem) CachedObject(key, status, header_block, validators, freshness, expected_body, chunk);
    return Ref<CachedObject>(o);
}

Ref<CachedObject> CachedObject::create_complete(std::string_view key, int status, std::string_view header_block,
                                                const ValidatorSpans& validators, const Freshness& freshness,
                                                std::string_view body) {
    Ref<CachedObject> o = create(key, status, header_block, validators, freshness, body.size());
    if (!body.empty()) o->writable_body().append(body);
    o->mark_complete();
    return o;
}

Ref<CachedObject> CachedObject::create_copy(const CachedObject& from, std::string_view header_block,
                                            const ValidatorSpans& validators, const Freshness& freshness) {
    const BodyBuffer& body = from.body();
    uint64_t size = body.size();
    Ref<CachedObject> o = create(from.key(), from.status(), header_block, validators, freshness, size);
    BodySlice sl[8];
    for (uint64_t off = 0; off < size;) {
        size_t n = body.slices(off, size, sl, 8);
        if (n == 0) break;
        for (size_t i = 0; i < n; ++i) {
            o->writable_body().append(sl[i].data, sl[i].len);
            off += sl[i].len;
        }
    }
    o->mark_complete();
    return o;
}

void CachedObject::destroy(const CachedObject* o) noexcept {
    auto* m = const_cast<CachedObject*>(o);
    m->~CachedObject();
    std::free(m);
}

std::string_view CachedObject::etag() const noexcept {
    if (!validators_.etag_len) return {};
    return header_block().substr(validators_.etag_off, validators_.etag_len);
}

std::string_view CachedObject::last_modified() const noexcept {
    if (!validators_.last_modified_len) return {};
    return header_block().substr(validators_.last_modified_off, validators_.last_modified_len);
}

uint32_t CachedObject::age_seconds(uint64_t now_ms) const noexcept {
    return edge::age_seconds(age_origin_ms_.load(std::memory_order_relaxed), now_ms);
}

void CachedObject::refresh(const Freshness& f) noexcept {
    age_origin_ms_.store(f.age_origin_ms, std::memory_order_relaxed);
    expires_at_ms_.store(f.expires_at_ms, std::memory_order_relaxed);
    date_s_.store(f.date_s, std::memory_order_relaxed);
}

} // namespace edge
