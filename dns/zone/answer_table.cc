#include "dns/zone/answer_table.h"

#include "dns/zone/zone_db.h"

#include <bit>
#include <cstring>

namespace dns {
namespace {

uint16_t rd16(const uint8_t* p) noexcept {
    return static_cast<uint16_t>((p[0] << 8) | p[1]);
}

void put16(std::string& s, uint16_t v) {
    s += static_cast<char>(v >> 8);
    s += static_cast<char>(v & 0xFF);
}

// Growing re-hashes each record's own name (the slots keep only 32 bits of the hash).
uint64_t hash_of_record(const std::string& arena, uint32_t off) {
    return name_hash(std::string_view(arena.data() + off + 1, static_cast<uint8_t>(arena[off])));
}

} // namespace

void AnswerTable::add(std::string_view name, uint64_t hash, const std::vector<Answer>& answers, bool complete,
                      const Answer* nodata) {
    if (!complete) nodata = nullptr;
    size_t count = answers.size() + (nodata ? 1 : 0);
    if (answers.empty() || count > 255 || name.size() > 255) return;
    if (arena_.size() > 0xF0000000u) return; // offsets are 32-bit; a zone this large answers from the node graph
    if ((used_ + 1) * 2 > slots_.size()) grow();
    uint32_t off = static_cast<uint32_t>(arena_.size());
    arena_ += static_cast<char>(name.size());
    arena_ += name;
    arena_ += static_cast<char>(count);
    arena_ += static_cast<char>(nodata ? 2 : complete ? 1 : 0);
    auto entry = [&](const Answer& a) {
        put16(arena_, a.type);
        put16(arena_, a.an);
        put16(arena_, a.ar);
        put16(arena_, static_cast<uint16_t>(a.bytes.size()));
    };
    for (const Answer& a : answers)
        entry(a);
    if (nodata) entry(*nodata);
    for (const Answer& a : answers)
        arena_ += a.bytes;
    if (nodata) arena_ += nodata->bytes;
    size_t i = hash & mask_;
    while (slots_[i].off != kEmpty)
        i = (i + 1) & mask_;
    slots_[i] = Slot{static_cast<uint32_t>(hash >> 32), off};
    used_++;
}

void AnswerTable::reserve(size_t names) {
    size_t cap = std::bit_ceil(std::max<size_t>(16, names * 2));
    while (slots_.size() < cap)
        grow(); // doubles (re-hashing what is there)
}

void AnswerTable::grow() {
    size_t cap = std::bit_ceil(std::max<size_t>(16, slots_.size() * 2));
    std::vector<Slot> old = std::move(slots_);
    slots_.assign(cap, Slot{});
    mask_ = cap - 1;
    for (const Slot& s : old) {
        if (s.off == kEmpty) continue;
        uint64_t h = hash_of_record(arena_, s.off);
        size_t i = h & mask_;
        while (slots_[i].off != kEmpty)
            i = (i + 1) & mask_;
        slots_[i] = s;
    }
}

AnswerTable::Match AnswerTable::find(std::string_view name, uint64_t hash, uint16_t qtype, Hit* hit) const noexcept {
    if (slots_.empty()) return Match::none;
    uint32_t tag = static_cast<uint32_t>(hash >> 32);
    const auto* base = reinterpret_cast<const uint8_t*>(arena_.data());
    for (size_t i = hash & mask_;; i = (i + 1) & mask_) {
        const Slot& s = slots_[i];
        if (s.off == kEmpty) return Match::none;
        if (s.tag != tag) continue;
        const uint8_t* r = base + s.off;
        if (r[0] != name.size() || std::memcmp(r + 1, name.data(), name.size()) != 0) continue;
        unsigned count = r[1 + r[0]];
        uint8_t kind = r[2 + r[0]];
        const uint8_t* dir = r + 1 + r[0] + 2;
        const uint8_t* bytes = dir + 8 * count;
        unsigned typed = kind == 2 ? count - 1 : count;
        for (unsigned k = 0; k < typed; k++, dir += 8) {
            uint16_t len = rd16(dir + 6);
            if (rd16(dir) == qtype) {
                *hit = Hit{bytes, len, rd16(dir + 2), rd16(dir + 4)};
                return Match::answer;
            }
            bytes += len;
        }
        if (kind == 2) *hit = Hit{bytes, rd16(dir + 6), 0, rd16(dir + 4), rd16(dir + 2)};
        return kind != 0 ? Match::nodata : Match::none;
    }
}

void AnswerTable::set_negative(std::string bytes, std::vector<uint16_t> pointers, size_t apex_len, uint16_t count) {
    negative_count_ = count;
    negative_ = std::move(bytes);
    negative_ptrs_ = std::move(pointers);
    apex_len_ = apex_len;
}

void AnswerTable::relocate_negative(uint8_t* out, size_t qname_len) const noexcept {
    size_t delta = qname_len - apex_len_;
    for (uint16_t p : negative_ptrs_) {
        size_t target = (static_cast<size_t>(out[p] & 0x3F) << 8 | out[p + 1]) + delta;
        out[p] = static_cast<uint8_t>(0xC0 | (target >> 8));
        out[p + 1] = static_cast<uint8_t>(target);
    }
}

void AnswerTable::prefetch_record(uint64_t hash) const noexcept {
    if (slots_.empty()) return;
    const Slot& s = slots_[hash & mask_];
    if (s.off != kEmpty) __builtin_prefetch(arena_.data() + s.off);
}

} // namespace dns
