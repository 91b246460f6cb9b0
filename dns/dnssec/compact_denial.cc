#include "dns/dnssec/compact_denial.h"

#include <algorithm>

namespace dns {

std::string nsec_type_bitmap(std::vector<uint16_t> types) {
    std::sort(types.begin(), types.end());
    types.erase(std::unique(types.begin(), types.end()), types.end());
    std::string out;
    size_t i = 0;
    while (i < types.size()) {
        uint8_t window = static_cast<uint8_t>(types[i] >> 8);
        uint8_t bits[32] = {};
        size_t len = 0;
        for (; i < types.size() && (types[i] >> 8) == window; i++) {
            uint8_t low = static_cast<uint8_t>(types[i]);
            bits[low / 8] |= static_cast<uint8_t>(0x80u >> (low % 8));
            len = low / 8u + 1u;
        }
        out.push_back(static_cast<char>(window));
        out.push_back(static_cast<char>(len));
        out.append(reinterpret_cast<const char*>(bits), len);
    }
    return out;
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
