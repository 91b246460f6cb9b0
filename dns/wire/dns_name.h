// Domain names in uncompressed wire form ("\3www\7example\4test\0"). The zone database keys names in lower case;
// queries keep the client's case in the packet and carry a lower-cased copy for lookups.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace dns {

inline uint8_t ascii_lower(uint8_t c) noexcept { return (c >= 'A' && c <= 'Z') ? static_cast<uint8_t>(c + 32) : c; }

// A name with its label offsets, held in fixed storage (no heap), for lookups on the hot path.
struct NameBuf {
    uint8_t data[256];
    uint8_t len = 0;          // bytes including the root label
    uint8_t labels = 0;       // not counting the root
    uint8_t offsets[128];     // offsets[i] = start of label i
    // The name without its first `skip` labels.
    std::string_view suffix(unsigned skip) const noexcept {
        unsigned off = skip >= labels ? static_cast<unsigned>(len - 1) : offsets[skip];
        return {reinterpret_cast<const char*>(data) + off, static_cast<size_t>(len - off)};
    }
    std::string_view view() const noexcept { return {reinterpret_cast<const char*>(data), len}; }
    // Fills from an uncompressed, valid wire name, lower-casing it. False when not a valid name.
    bool assign_lower(const uint8_t* wire, size_t max) noexcept;
};

inline std::string_view as_view(const std::string& s) noexcept { return std::string_view(s); }

// Number of labels (root not counted) of a valid wire name.
unsigned label_count(std::string_view wire) noexcept;
// True when `name` equals `zone` or lies below it (both lower-case wire names).
bool is_subdomain(std::string_view name, std::string_view zone) noexcept;
// Presentation form "www.example.test." (root "."); escapes non-printables like ldns does.
std::string name_to_text(std::string_view wire);
// Parses presentation form (absolute; a missing final dot is accepted) to lower-case wire.
std::optional<std::string> name_from_text(std::string_view text);
std::string to_lower(std::string_view wire);

} // namespace dns
