// One in-flight origin fetch for a cache key that any number of requests, on any worker thread, stream from.
//
// Request collapsing: the first miss for a key becomes the leader (MissCoalescer::begin); later misses join the
// same Fill. The leader fetches from the origin and calls, in order:
//   start_body(obj)  once the response headers are known and the response is storable (obj from
//                    CachedObject::create, body empty) → subscribers start streaming obj->body();
//   append(...)      for each piece of body as it arrives (shared buffer, never copied per waiter); returns false
//                    once the body outgrows max_object_bytes (only possible without Content-Length): the fill has
//                    then failed for the waiters, the buffer keeps what it has, and the leader sends the rest of
//                    the origin's body to its own client directly;
//   finish(now)      at the end of a complete body → obj becomes the cached object (no copy) and the fill resolves;
// or, instead of start_body:
//   release_uncacheable(now)  the answer may not be stored (or is larger than max_object_bytes): waiters are released
//                    at once to fetch for themselves, and the key is remembered as hit-for-miss;
//   revalidated(obj, f)       a 304 for the stale object the leader was revalidating: obj is refreshed in place and
//                    the waiters serve it (RefreshHit);
//   revalidated_with(fresh)   the same when the 304 changed the stored headers: a copy with the merged headers
//                    replaces the stale object;
// and at any point:
//   fail()           origin error or truncated body: nothing is stored; waiters that already sent bytes must close
//                    their connection, the others fetch for themselves (or answer 502/504).
// The leader should itself stream to its client from obj->body() like any waiter, so a slow leader client never slows
// the fill. Every transition notifies every subscriber.
//
// The leader holds a FillLeader: if it is destroyed before the fill resolved (the leader's connection died), the fill
// fails, so waiters are released at once instead of waiting for their timeout.
//
// Threading: all methods are thread-safe. Subscriber callbacks run on the leader's thread while the fill's mutex is
// held: they must only signal (uv_async_send) and never call back into the Fill. After unsubscribe() returns, the
// subscriber is never called again. Lock order: fill → coalescer shard → cache shard (a fill never holds its own
// lock while calling the coalescer).
#pragma once

#include <atomic>
#include <cstdint>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "edge/cache/cached_object.h"
#include "edge/cache/ref.h"

namespace edge {

class MissCoalescer;

enum class FillState : uint8_t {
    waiting,     // leader has not got the response headers yet
    streaming,   // object() available, body growing
    complete,    // object() complete (stored in the cache, or refreshed by a 304)
    uncacheable, // released: fetch for yourself (no object)
    failed,      // released: origin error; nothing stored
};

// Implemented by whoever waits on a fill (the server: a uv_async_t of the waiter's loop).
class FillSubscriber {
  public:
    // Something changed (state or body size). Called on the leader's thread under the fill's lock; must not block.
    virtual void on_fill_progress() noexcept = 0;

  protected:
    ~FillSubscriber() = default;
};

class Fill : public RefCounted<Fill> {
  public:
    static void destroy(const Fill* f) noexcept { delete f; }

    std::string_view key() const noexcept { return key_; }
    uint64_t hash() const noexcept { return hash_; }
    FillState state() const noexcept;
    // The object being filled (streaming/complete), else null.
    Ref<CachedObject> object() const;
    // The stale object the leader is revalidating (null for a plain miss).
    const Ref<CachedObject>& stale() const noexcept { return stale_; }

    // Registers for notifications. Returns false if the fill has already resolved (complete/uncacheable/failed), in
    // which case nothing is registered and the caller acts on state() directly.
    bool subscribe(FillSubscriber* s);
    void unsubscribe(FillSubscriber* s);
    size_t subscriber_count() const;

    // Leader only (see the file comment).
    void start_body(Ref<CachedObject> obj);
    bool append(const char* data, size_t len);
    // Stores the object (when its body fits max_object_bytes) and resolves. Returns whether it was stored.
    bool finish(uint64_t now_ms);
    void release_uncacheable(uint64_t now_ms);
    void revalidated(const Freshness& f);
    // A 304 that changed the stored headers: `fresh` (CachedObject::create_copy of the stale object) replaces it in
    // the cache and the waiters serve it (RefreshHit).
    void revalidated_with(Ref<CachedObject> fresh);
    // Resolved by a 304 (either way above).
    bool refreshed() const noexcept { return refreshed_.load(std::memory_order_acquire); }
    // `status` is what every viewer of this fill answers (the leader's origin error: 504 on a timeout, else 502).
    void fail(int status = 502);
    int fail_status() const noexcept { return fail_status_.load(std::memory_order_acquire); }
    bool resolved() const noexcept;
    // The fill failed because its body outgrew max_object_bytes (no Content-Length), not because the origin failed:
    // waiters that sent nothing yet fetch for themselves; the leader's own viewer gets the rest passed through.
    bool outgrown() const noexcept { return outgrown_.load(std::memory_order_acquire); }

    // When the miss that made this fill began (MissCoalescer::begin's now).
    uint64_t began_ms() const noexcept { return began_ms_; }

    // Public for MissCoalescer; use MissCoalescer::begin.
    Fill(MissCoalescer* owner, std::string_view key, uint64_t hash, Ref<CachedObject> stale, uint64_t began_ms);

  private:
    ~Fill() = default;
    // The one resolution that may run: the first final transition to get here claims the fill (under mu_) and the
    // others return without effect, so a fill that completed can never also fail (or the reverse), even when the
    // leader's loop and a threadpool job race to resolve it.
    bool claim_locked();
    void resolve_locked(FillState s);
    void notify_locked();
    MissCoalescer* owner_;
    std::string key_;
    uint64_t hash_;
    uint64_t began_ms_;
    Ref<CachedObject> stale_;
    mutable std::mutex mu_;
    FillState state_ = FillState::waiting;
    Ref<CachedObject> object_;
    std::vector<FillSubscriber*> subscribers_;
    bool detached_ = false;  // removed from the coalescer
    bool resolving_ = false; // a final transition has claimed the fill (see claim_locked)
    std::atomic<bool> refreshed_{false};
    std::atomic<int> fail_status_{502};
    std::atomic<bool> outgrown_{false};
};

// The leader's handle on its fill (move-only). Destroying it while the fill is unresolved calls fail().
class FillLeader {
  public:
    FillLeader() = default;
    explicit FillLeader(Ref<Fill> f) : fill_(std::move(f)) {}
    FillLeader(FillLeader&&) noexcept = default;
    FillLeader& operator=(FillLeader&& o) noexcept {
        abandon();
        fill_ = std::move(o.fill_);
        return *this;
    }
    ~FillLeader() { abandon(); }
    Fill* operator->() const noexcept { return fill_.get(); }
    Fill* get() const noexcept { return fill_.get(); }
    explicit operator bool() const noexcept { return static_cast<bool>(fill_); }
    // Fails the fill if unresolved, and lets go of it.
    void abandon() noexcept {
        if (fill_ && !fill_->resolved()) fill_->fail();
        fill_.reset();
    }

  private:
    Ref<Fill> fill_;
};

} // namespace edge
