#include "dns/wire/dns_name.h"

#include <cctype>
#include <cstdio>

namespace dns {

bool NameBuf::assign_lower(const uint8_t* wire, size_t max) noexcept {
    size_t pos = 0;
    labels = 0;
    while (true) {
        if (pos >= max || pos >= 255) return false;
        uint8_t l = wire[pos];
        if (l > 63) return false;
        if (l == 0) {
            data[pos] = 0;
            len = static_cast<uint8_t>(pos + 1);
            return true;
        }
        if (pos + 1 + l >= 255 || pos + 1 + l >= max) return false;
        offsets[labels++] = static_cast<uint8_t>(pos);
        data[pos] = l;
        for (size_t i = 1; i <= l; i++) data[pos + i] = ascii_lower(wire[pos + i]);
        pos += 1 + l;
    }
}

unsigned label_count(std::string_view wire) noexcept {
    unsigned n = 0;
    size_t pos = 0;
    while (pos < wire.size() && wire[pos] != 0) {
        pos += 1 + static_cast<uint8_t>(wire[pos]);
        n++;
    }
    return n;
}

bool is_subdomain(std::string_view name, std::string_view zone) noexcept {
    if (zone.size() > name.size()) return false;
    size_t pos = 0;
    while (name.size() - pos > zone.size()) {
        pos += 1 + static_cast<uint8_t>(name[pos]);
    }
    return name.size() - pos == zone.size() && name.substr(pos) == zone;
}

std::string name_to_text(std::string_view wire) {
    std::string out;
    size_t pos = 0;
    if (wire.empty() || wire[0] == 0) return ".";
    while (pos < wire.size() && wire[pos] != 0) {
        uint8_t l = static_cast<uint8_t>(wire[pos]);
        for (size_t i = 1; i <= l && pos + i < wire.size(); i++) {
            unsigned char c = static_cast<unsigned char>(wire[pos + i]);
            if (c == '.' || c == '\\' || c == '"' || c == '(' || c == ')' || c == ';' || c == ' ') {
                out += '\\';
                out += static_cast<char>(c);
            } else if (c < 0x21 || c > 0x7e) {
                char b[8];
                std::snprintf(b, sizeof b, "\\%03u", c);
                out += b;
            } else {
                out += static_cast<char>(c);
            }
        }
        out += '.';
        pos += 1 + l;
    }
    return out;
}

std::optional<std::string> name_from_text(std::string_view text) {
    std::string out;
    if (text == "." ) return std::string(1, '\0');
    std::string label;
    auto flush = [&]() -> bool {
        if (label.empty() || label.size() > 63) return false;
        out += static_cast<char>(label.size());
        for (char c : label) out += static_cast<char>(ascii_lower(static_cast<uint8_t>(c)));
        label.clear();
        return true;
    };
    for (size_t i = 0; i < text.size(); i++) {
        char c = text[i];
        if (c == '\\') {
            if (i + 1 >= text.size()) return std::nullopt;
            if (isdigit(static_cast<unsigned char>(text[i + 1]))) {
                if (i + 3 >= text.size() || !isdigit(static_cast<unsigned char>(text[i + 2])) ||
                    !isdigit(static_cast<unsigned char>(text[i + 3])))
                    return std::nullopt;
                int v = (text[i + 1] - '0') * 100 + (text[i + 2] - '0') * 10 + (text[i + 3] - '0');
                if (v > 255) return std::nullopt;
                label += static_cast<char>(v);
                i += 3;
            } else {
                label += text[++i];
            }
        } else if (c == '.') {
            if (!flush()) return std::nullopt;
        } else {
            label += c;
        }
    }
    if (!label.empty() && !flush()) return std::nullopt;
    out += '\0';
    if (out.size() > 255) return std::nullopt;
    return out;
}

std::string to_lower(std::string_view wire) {
    std::string out(wire);
    size_t pos = 0;
    while (pos < out.size() && out[pos] != 0) {
        uint8_t l = static_cast<uint8_t>(out[pos]);
        for (size_t i = 1; i <= l && pos + i < out.size(); i++)
            out[pos + i] = static_cast<char>(ascii_lower(static_cast<uint8_t>(out[pos + i])));
        pos += 1 + l;
    }
    return out;
}

} // namespace dns
