#include "shared/http/bearer_token.h"

#include <cctype>
#include <fstream>
#include <iterator>

#include "shared/config/config.h"
#include "shared/http/http_tokens.h"

namespace shared {

namespace {

// RFC 4648 base64 (padding optional); false on any other character.
bool decode_base64(std::string_view in, std::string* out) {
    uint32_t acc = 0;
    int bits = 0;
    for (char c : in) {
        int v;
        if (c >= 'A' && c <= 'Z')
            v = c - 'A';
        else if (c >= 'a' && c <= 'z')
            v = c - 'a' + 26;
        else if (c >= '0' && c <= '9')
            v = c - '0' + 52;
        else if (c == '+')
            v = 62;
        else if (c == '/')
            v = 63;
        else if (c == '=')
            break;
        else
            return false;
        acc = (acc << 6) | static_cast<uint32_t>(v);
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out->push_back(static_cast<char>((acc >> bits) & 0xff));
        }
    }
    return true;
}

} // namespace

std::string read_token_file(ConfigSection& sec, std::string_view key) {
    std::string file = sec.get_path(key, "");
    if (file.empty()) return {};
    std::ifstream in(file);
    std::string token((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    while (!token.empty() && std::isspace(static_cast<unsigned char>(token.back())))
        token.pop_back();
    if (!in.good() && !in.eof()) {
        sec.error(key, "\"" + file + "\": cannot be read");
        return {};
    }
    if (token.size() < 16 || token.find_first_of(" \t\r\n") != std::string::npos) {
        sec.error(key, "\"" + file + "\": the token must be one line of at least 16 characters");
        return {};
    }
    return token;
}

bool same_secret(std::string_view a, std::string_view b) noexcept {
    unsigned char diff = a.size() == b.size() ? 0 : 1;
    for (size_t i = 0; i < a.size(); ++i)
        diff |= static_cast<unsigned char>(a[i] ^ (i < b.size() ? b[i] : 0));
    return diff == 0;
}

BearerCheck check_bearer(std::string_view auth, std::string_view token) {
    auth = trim_ows(auth);
    if (auth.size() > 7 && ascii_iequals(auth.substr(0, 7), "Bearer ")) {
        return same_secret(trim_ows(auth.substr(7)), token) ? BearerCheck::ok : BearerCheck::wrong;
    }
    if (auth.size() > 6 && ascii_iequals(auth.substr(0, 6), "Basic ")) {
        std::string creds;
        if (!decode_base64(trim_ows(auth.substr(6)), &creds)) return BearerCheck::wrong;
        size_t colon = creds.find(':');
        if (colon == std::string::npos) return BearerCheck::wrong;
        return same_secret(std::string_view(creds).substr(colon + 1), token) ? BearerCheck::ok : BearerCheck::wrong;
    }
    return BearerCheck::missing;
}

} // namespace shared
