// Intrusive reference counting for objects shared across worker threads (cached objects, fills).
//
// Ref<T> is a smart pointer over a T that derives from RefCounted<T>. Copying a Ref is one atomic increment (no
// allocation), so a cache hit can hand a reference to the worker that sends the object, and eviction never frees an
// object still being sent. Any thread may copy or drop a Ref.
#pragma once

#include <atomic>
#include <cstdint>
#include <utility>

namespace edge {

template <typename T>
class RefCounted {
public:
    void add_ref() const noexcept { refs_.fetch_add(1, std::memory_order_relaxed); }
    // Deletes the object when the last reference goes (acq_rel so the deleting thread sees every write).
    void release() const noexcept {
        if (refs_.fetch_sub(1, std::memory_order_acq_rel) == 1) T::destroy(static_cast<const T*>(this));
    }
    uint32_t ref_count() const noexcept { return refs_.load(std::memory_order_relaxed); }

protected:
    RefCounted() = default;
    ~RefCounted() = default;

private:
    mutable std::atomic<uint32_t> refs_{0};
};

template <typename T>
class Ref {
public:
    Ref() noexcept = default;
    Ref(std::nullptr_t) noexcept {}
    // Takes a new reference on p (p may be null).
    explicit Ref(T* p) noexcept : p_(p) {
        if (p_) p_->add_ref();
    }
    Ref(const Ref& o) noexcept : Ref(o.p_) {}
    Ref(Ref&& o) noexcept : p_(std::exchange(o.p_, nullptr)) {}
    Ref& operator=(const Ref& o) noexcept {
        Ref(o).swap(*this);
        return *this;
    }
    Ref& operator=(Ref&& o) noexcept {
        Ref(std::move(o)).swap(*this);
        return *this;
    }
    ~Ref() {
        if (p_) p_->release();
    }
    void swap(Ref& o) noexcept { std::swap(p_, o.p_); }
    void reset() noexcept { Ref().swap(*this); }
    T* get() const noexcept { return p_; }
    T* operator->() const noexcept { return p_; }
    T& operator*() const noexcept { return *p_; }
    explicit operator bool() const noexcept { return p_ != nullptr; }
    bool operator==(const Ref& o) const noexcept { return p_ == o.p_; }
    // Gives up ownership without releasing (for handing a reference through a C callback's void*).
    T* leak() noexcept { return std::exchange(p_, nullptr); }
    // Adopts a reference previously leak()ed.
    static Ref adopt(T* p) noexcept {
        Ref r;
        r.p_ = p;
        return r;
    }

private:
    T* p_ = nullptr;
};

} // namespace edge
