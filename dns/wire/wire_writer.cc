#include "dns/wire/wire_writer.h"

#include "dns/wire/dns_name.h"

#include <bit>

namespace dns {

bool WireWriter::packet_name_equals(size_t off, std::string_view suffix) const noexcept {
    size_t s = 0;
    unsigned hops = 0;
    while (off < pos_) {
        uint8_t l = buf_[off];
        if ((l & 0xC0) == 0xC0) {
            if (off + 1 >= pos_ || ++hops > 64) return false;
            off = static_cast<size_t>(((l & 0x3F) << 8) | buf_[off + 1]);
            continue;
        }
        if (s >= suffix.size() || static_cast<uint8_t>(suffix[s]) != l) return false;
        if (l == 0) return true;
        if (off + 1 + l > pos_ || s + 1 + l > suffix.size()) return false;
        // Labels are short and mostly in the same case: lower-casing only bytes that differ (a memcmp call costs
        // more than the whole label here).
        const uint8_t* a = buf_ + off + 1;
        const auto* b = reinterpret_cast<const uint8_t*>(suffix.data() + s + 1);
        for (size_t i = 0; i < l; i++) {
            if (a[i] != b[i] && ascii_lower(a[i]) != ascii_lower(b[i])) return false;
        }
        off += 1 + l;
        s += 1 + l;
    }
    return false;
}

namespace {
// Up to 8 letters at c as one little-endian word (c[0] in the low byte). With 8 bytes readable at c (`avail`), one
// load and a mask: a transfer hashes the first label of nearly every owner, and a byte loop whose length varies
// with the label costs a branch miss.
inline uint64_t letters(const uint8_t* c, size_t n, size_t avail) noexcept {
    if (std::endian::native == std::endian::little && avail >= 8) {
        uint64_t v;
        std::memcpy(&v, c, 8);
        return n >= 8 ? v : v & ((uint64_t{1} << (8 * n)) - 1);
    }
    uint64_t v = 0;
    for (size_t i = 0; i < n; i++)
        v |= static_cast<uint64_t>(c[i]) << (8 * i);
    return v;
}

// The hash of a suffix whose first label is at p (length byte, then the letters; `avail` bytes readable from p),
// given the hash of the rest. Eight letters at a time, each with 0x20 set: 'A' and 'a' hash alike, and the few other
// bytes that then collide only cost a comparison (every hit is compared).
inline uint32_t label_hash(uint32_t rest, const uint8_t* p, size_t avail) noexcept {
    uint64_t h = (static_cast<uint64_t>(rest) << 8) ^ p[0];
    size_t len = p[0];
    const uint8_t* c = p + 1;
    avail = avail > 0 ? avail - 1 : 0;
    for (;;) {
        uint64_t v = letters(c, len < 8 ? len : 8, avail);
        h = (h ^ (v | 0x2020202020202020ull)) * 0x9E3779B97F4A7C15ull;
        h ^= h >> 29;
        if (len <= 8) break;
        c += 8;
        len -= 8;
        avail = avail > 8 ? avail - 8 : 0;
    }
    return static_cast<uint32_t>(h ^ (h >> 32));
}

inline uint64_t load64(const uint8_t* p) noexcept {
    uint64_t v;
    std::memcpy(&v, p, 8);
    return v;
}
inline void store64(uint8_t* p, uint64_t v) noexcept {
    std::memcpy(p, &v, 8);
}

// memcmp(a, b, n) == 0 for the short runs names are, without a call: words, the last one overlapping.
inline bool bytes_equal(const uint8_t* a, const uint8_t* b, size_t n) noexcept {
    if (n < 8) {
        for (size_t i = 0; i < n; i++)
            if (a[i] != b[i]) return false;
        return true;
    }
    for (size_t i = 0; i + 8 < n; i += 8)
        if (load64(a + i) != load64(b + i)) return false;
    return load64(a + n - 8) == load64(b + n - 8);
}
constexpr uint32_t kRootHash = 2166136261u;
} // namespace

bool WireWriter::wire_suffix_hashes(std::string_view wire, uint32_t* at, uint32_t* hashes, size_t* n) noexcept {
    const auto* w = reinterpret_cast<const uint8_t*>(wire.data());
    size_t s = 0, k = 0;
    for (;;) {
        if (s >= wire.size()) return false;
        uint8_t l = w[s];
        if (l == 0) break;
        if ((l & 0xC0) || s + 1 + l > wire.size() || k == kMaxLabels) return false;
        at[k++] = static_cast<uint32_t>(s);
        s += 1 + l;
    }
    uint32_t h = kRootHash;
    hashes[k] = h;
    for (size_t i = k; i-- > 0;)
        hashes[i] = h = label_hash(h, w + at[i], wire.size() - at[i]);
    *n = k;
    return true;
}

bool WireWriter::packet_suffix_hashes(size_t off, uint32_t* at, uint32_t* hashes, size_t* n) const noexcept {
    size_t k = 0;
    unsigned hops = 0;
    for (;;) {
        if (off >= pos_) return false;
        uint8_t l = buf_[off];
        if ((l & 0xC0) == 0xC0) {
            if (off + 1 >= pos_ || ++hops > 64) return false;
            off = static_cast<size_t>(((l & 0x3F) << 8) | buf_[off + 1]);
            continue;
        }
        if (l & 0xC0) return false;
        if (l == 0) break;
        if (off + 1 + l > pos_ || k == kMaxLabels) return false;
        at[k++] = static_cast<uint32_t>(off);
        off += 1 + l;
    }
    uint32_t h = kRootHash;
    hashes[k] = h;
    for (size_t i = k; i-- > 0;)
        hashes[i] = h = label_hash(h, buf_ + at[i], pos_ - at[i]);
    *n = k;
    return true;
}

void WireWriter::add_target(size_t off) noexcept {
    // Every label of the name up to a pointer is a target of its own.
    uint32_t at[kMaxLabels], hashes[kMaxLabels + 1];
    size_t n;
    if (!packet_suffix_hashes(off, at, hashes, &n)) return;
    for (size_t i = 0; i < n && at[i] == off && off < 0x4000; i++) {
        push_target(off, hashes[i]);
        off += 1u + buf_[off];
    }
}

void WireWriter::repeat_last_name() noexcept {
    size_t at = last_name_;
    // A pointer to a pointer is legal but not every decoder follows one; a name past the pointers' reach is copied.
    if ((buf_[at] & 0xC0) == 0xC0 || at >= 0x4000) {
        size_t len = last_name_end_ - at;
        if (!need(len)) return;
        // Past 16 KiB every owner's second record lands here: a short encoding (a label and a pointer) is copied as
        // two words, both read before either is written, instead of a variable-length copy (`rep movs`).
        if (len <= 16 && limit_ - pos_ >= 16 && pos_ - at >= 16) {
            const uint64_t a = load64(buf_ + at), b = load64(buf_ + at + 8);
            store64(buf_ + pos_, a);
            store64(buf_ + pos_ + 8, b);
        } else {
            std::memcpy(buf_ + pos_, buf_ + at, len);
        }
        pos_ += len;
        return;
    }
    u16(static_cast<uint16_t>(0xC000 | at));
}

bool WireWriter::sibling_of_last(std::string_view wire) noexcept {
    const auto* w = reinterpret_cast<const uint8_t*>(wire.data());
    const size_t size = wire.size();
    size_t l0 = size ? w[0] : 0;
    if (l0 == 0 || (l0 & 0xC0) || 1 + l0 >= size || size > sizeof last_wire_) return false;
    // The same bytes as the last name's tail (a copy, so a caller reusing its buffer cannot fool the comparison).
    // Both names end flush: the tail is the last `tail` bytes of last_wire_.
    const size_t tail = size - 1 - l0;
    const uint8_t* last = last_wire();
    if (last_wire_len_ == 0 || last_wire_len_ < 2u + last[0] || tail != last_wire_len_ - 1 - last[0] ||
        !bytes_equal(w + 1 + l0, last_wire_ + sizeof last_wire_ - tail, tail))
        return false;
    // Only the first label is new: its suffix hash follows from the tail's, and the whole name may still be a
    // target (the general path looks for it first too).
    const uint32_t h = label_hash(last_tail_hash_, w, size);
    size_t start = pos_;
    for (size_t b = h & (kBuckets - 1); bucket_[b]; b = (b + 1) & (kBuckets - 1)) {
        size_t t = bucket_[b] - 1u;
        if (target_hash_[t] == h && packet_name_equals(targets_[t], wire)) {
            u16(static_cast<uint16_t>(0xC000 | targets_[t]));
            if (!err_) remember(start, wire);
            return true;
        }
    }
    // The label and the pointer to the tail in one bounds check (a failed write is rewound whole by the caller).
    if (!need(1 + l0 + 2)) return true;
    // The tail is the same: last_tail_ stays, and only the first label of the remembered name changes. A short label
    // is copied as one word with the bytes after it (past pos() in the packet, the same tail in last_wire_): a copy
    // of a length known only here compiles to `rep movs`, which cost more than the rest of this function.
    uint8_t* out = buf_ + pos_;
    uint8_t* remembered = last_wire_ + sizeof last_wire_ - size;
    if (l0 < 8 && size >= 8 && limit_ - pos_ >= 8) {
        const uint64_t head = load64(w);
        store64(out, head);
        store64(remembered, head);
    } else {
        std::memcpy(out, w, 1 + l0);
        std::memcpy(remembered, w, 1 + l0);
    }
    out[1 + l0] = static_cast<uint8_t>(0xC0 | (last_tail_ >> 8));
    out[2 + l0] = static_cast<uint8_t>(last_tail_);
    pos_ += 1 + l0 + 2;
    if (start < 0x4000) push_target(start, h);
    last_name_ = start;
    last_name_end_ = pos_;
    last_wire_len_ = size;
    return true;
}

void WireWriter::remember(size_t start, std::string_view wire) noexcept {
    if (wire.size() > sizeof last_wire_) {
        last_name_ = last_tail_ = kNoName;
        last_wire_len_ = 0;
        return;
    }
    last_name_ = start;
    last_name_end_ = pos_;
    std::memcpy(last_wire_ + sizeof last_wire_ - wire.size(), wire.data(), wire.size());
    last_wire_len_ = wire.size();
}

void WireWriter::name(std::string_view wire, bool compress) noexcept {
    if (compress && last_name_ != kNoName && wire.size() == last_wire_len_ &&
        bytes_equal(reinterpret_cast<const uint8_t*>(wire.data()), last_wire(), wire.size()))
        return repeat_last_name();
    if (compress && last_tail_ != kNoName && sibling_of_last(wire)) return;
    uint32_t at[kMaxLabels], hashes[kMaxLabels + 1];
    size_t n;
    if (!wire_suffix_hashes(wire, at, hashes, &n)) {
        // Not a whole name (a caller's bug): written as it is, label by label, and never a target.
        size_t s = 0;
        while (s < wire.size()) {
            uint8_t l = static_cast<uint8_t>(wire[s]);
            size_t len = l == 0 ? 1 : 1u + l;
            if (s + len > wire.size()) {
                err_ = true;
                return;
            }
            bytes(wire.data() + s, len);
            if (l == 0) return;
            s += len;
        }
        return;
    }
    // The longest suffix already in the packet (the whole name first).
    size_t m = n, target = 0;
    if (compress) {
        for (size_t i = 0; i < n && m == n; i++) {
            std::string_view suffix = wire.substr(at[i]);
            for (size_t b = hashes[i] & (kBuckets - 1); bucket_[b]; b = (b + 1) & (kBuckets - 1)) {
                size_t t = bucket_[b] - 1u;
                if (target_hash_[t] == hashes[i] && packet_name_equals(targets_[t], suffix)) {
                    m = i;
                    target = targets_[t];
                    break;
                }
            }
        }
    }
    size_t start = pos_;
    for (size_t i = 0; i < m; i++) {
        size_t p = pos_;
        bytes(wire.data() + at[i], 1u + static_cast<uint8_t>(wire[at[i]]));
        if (!err_ && p < 0x4000) push_target(p, hashes[i]);
    }
    if (m < n)
        u16(static_cast<uint16_t>(0xC000 | target));
    else
        u8(0);
    if (!err_) {
        // Where the name without its first label is (a pointer may reach it), for its siblings that follow.
        // Written out from label 1 on (m >= 2), or the target the pointer after label 0 names (m == 1 < n); a
        // one-label name's tail is the root, which no pointer should stand for.
        last_tail_ = kNoName;
        size_t tail_at = m >= 2 ? start + 1u + static_cast<uint8_t>(wire[0]) : target;
        if (n >= 2 && m >= 1 && (m >= 2 || m < n) && tail_at < 0x4000) {
            last_tail_ = tail_at;
            last_tail_hash_ = hashes[1];
        }
        remember(start, wire);
    }
}

void WireWriter::rewind(size_t pos) noexcept {
    if (pos > pos_) return;
    pos_ = pos;
    err_ = false;
    if (last_name_ != kNoName && last_name_end_ > pos) last_name_ = kNoName;
    if (last_tail_ != kNoName && last_tail_ >= pos) last_tail_ = kNoName;
    size_t before = ntargets_;
    while (ntargets_ > 0 && targets_[ntargets_ - 1] >= pos)
        ntargets_--;
    if (ntargets_ == before) return;
    std::memset(bucket_, 0, sizeof bucket_);
    for (size_t i = 0; i < ntargets_; i++)
        index_target(i);
}

} // namespace dns
