// Property tests over many generated paths (fixed seed, bounded): whatever comes in, a normalized path is either
// rejected or is a clean absolute path that cannot leave the root.
#include <catch2/catch.hpp>

#include <random>
#include <string>

#include "edge/origin/request_path.h"

using namespace edge;

namespace {

std::string random_path(std::mt19937& rng) {
    static const char* const kPieces[] = {"/", "//", ".", "..", "%2e", "%2E", "%2e%2e", "%2f", "%5c", "\\", "%00",
                                          "a", "b", "index.html", "%", "%4", "%41", "%252e", "?", "%3f", "\x01",
                                          "%ff", "\xc3\xa9", "...", " ", "%20", "~"};
    std::uniform_int_distribution<size_t> n_pieces(0, 12), piece(0, std::size(kPieces) - 1);
    std::string p = "/";
    for (size_t i = n_pieces(rng); i > 0; --i) p += kPieces[piece(rng)];
    return p;
}

// What a clean result looks like: starts with '/', no empty / "." / ".." segment, no NUL, backslash or control.
bool clean(std::string_view p) {
    if (p.empty() || p[0] != '/') return false;
    size_t start = 1;
    while (start <= p.size()) {
        size_t slash = p.find('/', start);
        if (slash == std::string_view::npos) slash = p.size();
        std::string_view seg = p.substr(start, slash - start);
        bool last = slash == p.size();
        if ((seg.empty() && !last) || seg == "." || seg == "..") return false;
        start = slash + 1;
    }
    for (char c : p) {
        if (c == '\\' || static_cast<unsigned char>(c) < 0x20 || c == 0x7f) return false;
    }
    return true;
}

} // namespace

TEST_CASE("Request path properties over 200,000 generated paths", "[edge][origin][path][property]") {
    std::mt19937 rng(20261125);
    size_t accepted = 0, rejected = 0, not_clean = 0, grew = 0, unstable = 0;
    std::string first_bad;
    char out[512], again[512];
    for (int i = 0; i < 200'000; ++i) {
        std::string raw = random_path(rng);
        PathError err;
        size_t n = normalize_request_path(raw, out, sizeof out, &err);
        if (err != PathError::none) {
            ++rejected;
            continue;
        }
        ++accepted;
        std::string_view p(out, n);
        if (!clean(p)) {
            ++not_clean;
            if (first_bad.empty()) first_bad = raw;
        }
        if (n > raw.size()) ++grew;
        // Normalizing the output again (with '%' escaped, since it is decoded text) changes nothing.
        std::string reencoded;
        for (char c : p) {
            if (c == '%') {
                reencoded += "%25";
            } else if (c == '?') {
                reencoded += "%3F";
            } else {
                reencoded += c;
            }
        }
        PathError err2;
        size_t n2 = normalize_request_path(reencoded, again, sizeof again, &err2);
        if (err2 != PathError::none || std::string_view(again, n2) != p) {
            ++unstable;
            if (first_bad.empty()) first_bad = raw;
        }
    }
    INFO("first bad input: " << first_bad);
    CHECK(accepted > 10'000);
    CHECK(rejected > 10'000);
    CHECK(not_clean == 0);
    CHECK(grew == 0);
    CHECK(unstable == 0);
}
