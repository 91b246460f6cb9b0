#include "dns/dnssec/compact_denial.h"

#include <algorithm>

namespace dns {

size_t nsec_type_bitmap(uint16_t* types, size_t n, uint8_t* out) noexcept {
    std::sort(types, types + n);
    n = static_cast<size_t>(std::unique(types, types + n) - types);
    size_t len = 0, i = 0;
    while (i < n) {
        uint8_t window = static_cast<uint8_t>(types[i] >> 8);
        uint8_t* head = out + len;
        uint8_t* bits = head + 2;
        std::fill(bits, bits + 32, uint8_t{0});
        size_t used = 0;
        for (; i < n && (types[i] >> 8) == window; i++) {
            uint8_t low = static_cast<uint8_t>(types[i]);
            bits[low / 8] |= static_cast<uint8_t>(0x80u >> (low % 8));
            used = low / 8u + 1u;
        }
        head[0] = window;
        head[1] = static_cast<uint8_t>(used);
        len += 2 + used;
    }
    return len;
}

std::string nsec_type_bitmap(std::vector<uint16_t> types) {
    uint8_t out[kMaxBitmap];
    size_t n = nsec_type_bitmap(types.data(), types.size(), out);
    return std::string(reinterpret_cast<const char*>(out), n);
}

std::string compact_nsec_rdata(std::string_view owner, std::string_view bitmap) {
    if (owner.size() + 2 > 255) return {};
    std::string rd;
    rd.push_back('\1');
    rd.push_back('\0');
    rd.append(owner);
    rd.append(bitmap);
    return rd;
}

} // namespace dns
