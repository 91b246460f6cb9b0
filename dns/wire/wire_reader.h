// A bounded big-endian reader with a sticky error (Knot's wire_ctx, NSD's buffer): callers read freely and check
// ok() once at the end; every read past the end returns zeros and marks the reader failed.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>

namespace dns {

class WireReader {
public:
    WireReader(const uint8_t* data, size_t len) : begin_(data), p_(data), end_(data + len) {}

    uint8_t u8() noexcept {
        if (!need(1)) return 0;
        return *p_++;
    }
    uint16_t u16() noexcept {
        if (!need(2)) return 0;
        uint16_t v = static_cast<uint16_t>((p_[0] << 8) | p_[1]);
        p_ += 2;
        return v;
    }
    uint32_t u32() noexcept {
        if (!need(4)) return 0;
        uint32_t v = (uint32_t(p_[0]) << 24) | (uint32_t(p_[1]) << 16) | (uint32_t(p_[2]) << 8) | p_[3];
        p_ += 4;
        return v;
    }
    const uint8_t* bytes(size_t n) noexcept {
        if (!need(n)) return nullptr;
        const uint8_t* r = p_;
        p_ += n;
        return r;
    }
    void skip(size_t n) noexcept { (void)bytes(n); }
    void fail() noexcept { err_ = true; }

    bool ok() const noexcept { return !err_; }
    size_t offset() const noexcept { return static_cast<size_t>(p_ - begin_); }
    size_t remaining() const noexcept { return err_ ? 0 : static_cast<size_t>(end_ - p_); }
    const uint8_t* cursor() const noexcept { return p_; }

private:
    bool need(size_t n) noexcept {
        if (err_ || static_cast<size_t>(end_ - p_) < n) err_ = true;
        return !err_;
    }
    const uint8_t* begin_;
    const uint8_t* p_;
    const uint8_t* end_;
    bool err_ = false;
};

} // namespace dns
