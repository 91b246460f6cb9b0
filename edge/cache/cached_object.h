// One stored response: status, pre-serialized header block (see stored_headers.h), body, freshness and validators.
//
// Created by the fill leader (or directly for complete bodies) and then shared, reference-counted (Ref<CachedObject>),
// by the cache, fills and every worker sending it. The key, status, header block and validators never change; the
// body only grows while complete() is false (one writer: the fill leader) and is frozen after. Freshness
// (age_origin/expires_at) is updated in place by a successful revalidation; the two values are separate relaxed
// atomics, so a reader racing a refresh may pair an old Age with a new expiry, which is harmless.
// The cache's LRU links and hash live here too (intrusive), touched only under the owning shard's lock.
#pragma once

#include <atomic>
#include <cstdint>
#include <string_view>

#include "edge/cache/body_buffer.h"
#include "edge/cache/cache_policy.h"
#include "edge/cache/ref.h"
#include "edge/cache/stored_headers.h"

namespace edge {

class CachedObject : public RefCounted<CachedObject> {
  public:
    // A new object (key and header block are copied into the same allocation). `expected_body` sizes the body's
    // first chunk (Content-Length, 0 = unknown); a known length puts that chunk in the same allocation too, or, from
    // BodyFiles::kMinBody up, in a shared-memory file that hits send with sendfile; an unknown length continues in
    // such a file past BodyBuffer::kSpillAt. The body is empty and not complete.
    static Ref<CachedObject> create(std::string_view key, int status, std::string_view header_block,
                                    const ValidatorSpans& validators, const Freshness& freshness,
                                    uint64_t expected_body);
    // A complete object with the given body (tests, generated answers).
    static Ref<CachedObject> create_complete(std::string_view key, int status, std::string_view header_block,
                                             const ValidatorSpans& validators, const Freshness& freshness,
                                             std::string_view body);
    // A complete copy of `from` (key, status, body) with another header block, validators and freshness: a 304 that
    // changed the stored headers (objects are immutable; the copy replaces `from` in the cache).
    static Ref<CachedObject> create_copy(const CachedObject& from, std::string_view header_block,
                                         const ValidatorSpans& validators, const Freshness& freshness);
    static void destroy(const CachedObject* o) noexcept;

    std::string_view key() const noexcept { return {key_data(), key_len_}; }
    int status() const noexcept { return status_; }
    // What a hit sends: the status line and the stored fields viewers get.
    std::string_view header_block() const noexcept {
        return {key_data() + key_len_, validators_.edge_fields_off ? validators_.edge_fields_off : header_len_};
    }
    // Every stored field, the edge-only ones (is_edge_only_header) too: for freshness and 304 merges.
    std::string_view stored_fields() const noexcept { return {key_data() + key_len_, header_len_}; }
    std::string_view etag() const noexcept;          // "" when absent (includes the quotes)
    std::string_view last_modified() const noexcept; // "" when absent
    bool has_validators() const noexcept { return validators_.etag_len || validators_.last_modified_len; }

    const BodyBuffer& body() const noexcept { return body_; }
    // Fill leader only, before complete().
    BodyBuffer& writable_body() noexcept { return body_; }
    bool complete() const noexcept { return complete_.load(std::memory_order_acquire); }
    // Fill leader: freezes the body.
    void mark_complete() noexcept {
        body_.seal();
        complete_.store(true, std::memory_order_release);
    }

    bool fresh(uint64_t now_ms) const noexcept { return now_ms < expires_at_ms_.load(std::memory_order_relaxed); }
    uint64_t expires_at_ms() const noexcept { return expires_at_ms_.load(std::memory_order_relaxed); }
    // The Age header value at now_ms.
    uint32_t age_seconds(uint64_t now_ms) const noexcept;
    // The instant the stored response had age 0 (Freshness::age_origin_ms): expires_at_ms() minus it is the
    // freshness lifetime.
    uint64_t age_origin_ms() const noexcept { return age_origin_ms_.load(std::memory_order_relaxed); }
    bool must_revalidate() const noexcept { return flags_ & kMustRevalidate; }
    bool keep_stale() const noexcept { return flags_ & kKeepStale; } // Freshness::keep_stale
    // The Date a reuse sends (Freshness::date_s); 0 = unknown.
    int64_t date_s() const noexcept { return date_s_.load(std::memory_order_relaxed); }
    // After a 304 (RFC 9111 §4.3.4): new freshness and Date, same body and headers.
    void refresh(const Freshness& f) noexcept;
    // A soft invalidation: stale from now_ms on (if it was not already), body and headers kept for revalidation.
    void expire(uint64_t now_ms) noexcept {
        if (expires_at_ms() > now_ms) expires_at_ms_.store(now_ms, std::memory_order_relaxed);
    }

    // Bytes charged against the cache budget: struct + key + header block + the body's chunks (inline or not).
    uint64_t charge() const noexcept { return sizeof(CachedObject) + key_len_ + header_len_ + body_.allocated_bytes(); }

  private:
    // Declared first so it packs into the 4 bytes after the reference count (sizeof is per-object bookkeeping).
    uint32_t key_len_;

  public:
    // Intrusive cache links (ObjectCache only, under its shard lock).
    CachedObject* lru_prev_ = nullptr;
    CachedObject* lru_next_ = nullptr;
    uint64_t hash_ = 0;
    uint64_t charged_ = 0; // charge() when inserted

  private:
    CachedObject(std::string_view key, int status, std::string_view header_block, const ValidatorSpans& validators,
                 const Freshness& freshness, uint64_t expected_body, void* body_chunk_mem) noexcept;
    ~CachedObject() = default;
    const char* key_data() const noexcept { return reinterpret_cast<const char*>(this + 1); }

    BodyBuffer body_;
    std::atomic<uint64_t> age_origin_ms_;
    std::atomic<uint64_t> expires_at_ms_;
    std::atomic<int64_t> date_s_;
    ValidatorSpans validators_;
    uint32_t header_len_;
    uint16_t status_;
    // Two bits in one byte, so the object stays within its 136 bytes (tests/edge/cache/test_cached_object.cc).
    static constexpr uint8_t kMustRevalidate = 1, kKeepStale = 2;
    uint8_t flags_;
    std::atomic<bool> complete_{false};
    // followed by key bytes, header block bytes, then (when the body length was known) padding to 8 and the body's
    // first chunk (below BodyFiles::kMinBody)
};

} // namespace edge
