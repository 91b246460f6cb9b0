#include "edge/cache/fill.h"

#include <algorithm>

#include "edge/cache/miss_coalescer.h"

namespace edge {
namespace {
bool final_state(FillState s) {
    return s == FillState::complete || s == FillState::uncacheable || s == FillState::failed;
}
} // namespace

Fill::Fill(MissCoalescer* owner, std::string_view key, uint64_t hash, Ref<CachedObject> stale, uint64_t began_ms)
    : owner_(owner), key_(key), hash_(hash), began_ms_(began_ms), stale_(std::move(stale)) {}

FillState Fill::state() const noexcept {
    std::lock_guard lock(mu_);
    return state_;
}

bool Fill::resolved() const noexcept {
    std::lock_guard lock(mu_);
    return final_state(state_);
}

Ref<CachedObject> Fill::object() const {
    std::lock_guard lock(mu_);
    return object_;
}

bool Fill::subscribe(FillSubscriber* s) {
    std::lock_guard lock(mu_);
    if (final_state(state_)) return false;
    subscribers_.push_back(s);
    return true;
}

void Fill::unsubscribe(FillSubscriber* s) {
    std::lock_guard lock(mu_);
    subscribers_.erase(std::remove(subscribers_.begin(), subscribers_.end(), s), subscribers_.end());
}

size_t Fill::subscriber_count() const {
    std::lock_guard lock(mu_);
    return subscribers_.size();
}

void Fill::notify_locked() {
    for (FillSubscriber* s : subscribers_)
        s->on_fill_progress();
}

void Fill::resolve_locked(FillState s) {
    state_ = s;
    notify_locked();
}

void Fill::start_body(Ref<CachedObject> obj) {
    std::lock_guard lock(mu_);
    if (state_ != FillState::waiting) return;
    object_ = std::move(obj);
    state_ = FillState::streaming;
    notify_locked();
}

bool Fill::append(const char* data, size_t len) {
    Ref<CachedObject> obj;
    {
        std::lock_guard lock(mu_);
        if (state_ != FillState::streaming) return state_ != FillState::failed;
        obj = object_;
    }
    // Only the leader appends, and readers never need the lock to read below size(): copy outside the lock.
    if (obj->body().size() + len > owner_->max_object_bytes()) {
        outgrown_.store(true, std::memory_order_release);
        fail();
        return false;
    }
    obj->writable_body().append(data, len);
    std::lock_guard lock(mu_);
    notify_locked();
    return true;
}

bool Fill::claim_locked() {
    if (final_state(state_) || resolving_) return false;
    resolving_ = true;
    return true;
}

bool Fill::finish(uint64_t now_ms) {
    Ref<CachedObject> obj;
    {
        std::lock_guard lock(mu_);
        if (state_ != FillState::streaming || !claim_locked()) return false;
        obj = object_;
    }
    obj->mark_complete();
    // Store before announcing completion, under the coalescer's lock, so a new request sees the fill or the object.
    bool stored = owner_->on_fill_done(this, FillState::complete, obj, now_ms);
    std::lock_guard lock(mu_);
    resolve_locked(FillState::complete);
    return stored;
}

void Fill::release_uncacheable(uint64_t now_ms) {
    {
        std::lock_guard lock(mu_);
        if (!claim_locked()) return;
    }
    owner_->on_fill_done(this, FillState::uncacheable, nullptr, now_ms);
    std::lock_guard lock(mu_);
    object_.reset();
    resolve_locked(FillState::uncacheable);
}

void Fill::revalidated(const Freshness& f) {
    {
        std::lock_guard lock(mu_);
        if (!stale_ || !claim_locked()) return;
    }
    stale_->refresh(f);
    owner_->on_fill_done(this, FillState::complete, stale_, 0);
    std::lock_guard lock(mu_);
    object_ = stale_;
    refreshed_.store(true, std::memory_order_release);
    resolve_locked(FillState::complete);
}

void Fill::revalidated_with(Ref<CachedObject> fresh) {
    {
        std::lock_guard lock(mu_);
        if (!stale_ || !claim_locked()) return;
    }
    owner_->on_fill_done(this, FillState::complete, fresh, 0);
    std::lock_guard lock(mu_);
    object_ = std::move(fresh);
    refreshed_.store(true, std::memory_order_release);
    resolve_locked(FillState::complete);
}

void Fill::fail(int status) {
    {
        std::lock_guard lock(mu_);
        if (!claim_locked()) return;
        fail_status_.store(status, std::memory_order_release);
    }
    owner_->on_fill_done(this, FillState::failed, nullptr, 0);
    std::lock_guard lock(mu_);
    resolve_locked(FillState::failed);
}

} // namespace edge
