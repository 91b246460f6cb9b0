#include <catch2/catch.hpp>

#include "edge/compress/content_coding.h"

using namespace edge;

namespace {
ContentCoding neg(std::string_view ae, bool br = true) {
    return negotiate_content_coding(ae, br);
}
} // namespace

TEST_CASE("Accept-Encoding: plain lists prefer br", "[edge][compress]") {
    CHECK(neg("gzip, deflate, br") == ContentCoding::br);
    CHECK(neg("br") == ContentCoding::br);
    CHECK(neg("gzip") == ContentCoding::gzip);
    CHECK(neg("deflate") == ContentCoding::identity);
    CHECK(neg("") == ContentCoding::identity);
    CHECK(neg("identity") == ContentCoding::identity);
    // CloudFront's rule: br whenever both are acceptable, whatever their order or weights.
    CHECK(neg("gzip;q=1.0, br;q=0.5") == ContentCoding::br);
    CHECK(neg("gzip, deflate, br", false) == ContentCoding::gzip);
    CHECK(neg("br", false) == ContentCoding::identity);
}

TEST_CASE("Accept-Encoding: q-values", "[edge][compress]") {
    CHECK(neg("br;q=0, gzip") == ContentCoding::gzip);
    CHECK(neg("br;q=0.000, gzip;q=0.001") == ContentCoding::gzip);
    CHECK(neg("br;q=0, gzip;q=0") == ContentCoding::identity);
    CHECK(neg("br;q=1.000") == ContentCoding::br);
    CHECK(neg("br; q=0.5") == ContentCoding::br);
    CHECK(neg("br ;q=0.5 ") == ContentCoding::br);
    CHECK(neg("br;Q=0") == ContentCoding::identity);
    // Malformed q: the member is ignored, not taken as q=1.
    CHECK(neg("br;q=2, gzip") == ContentCoding::gzip);
    CHECK(neg("br;q=1.5") == ContentCoding::identity);
    CHECK(neg("br;q=0.1234") == ContentCoding::identity);
    CHECK(neg("br;q=, gzip") == ContentCoding::gzip);
    CHECK(neg("br;q=abc") == ContentCoding::identity);
    CHECK(neg("br;level=3") == ContentCoding::br); // other parameters do not matter
    CHECK(neg("br;garbage") == ContentCoding::identity);
}

TEST_CASE("Accept-Encoding: identity;q=0 and *", "[edge][compress]") {
    CHECK(neg("identity;q=0") == ContentCoding::identity); // nothing else to offer: identity all the same
    CHECK(neg("gzip, identity;q=0") == ContentCoding::gzip);
    CHECK(neg("*") == ContentCoding::br);
    CHECK(neg("*", false) == ContentCoding::gzip);
    CHECK(neg("*;q=0") == ContentCoding::identity);
    CHECK(neg("br;q=0, *") == ContentCoding::gzip); // * covers only what is not named
    CHECK(neg("*;q=0, gzip") == ContentCoding::gzip);
    CHECK(neg("*;q=0, br;q=0.1") == ContentCoding::br);
}

TEST_CASE("Accept-Encoding: case, whitespace, aliases and garbage", "[edge][compress]") {
    CHECK(neg("GZIP") == ContentCoding::gzip);
    CHECK(neg("Br") == ContentCoding::br);
    CHECK(neg("x-gzip") == ContentCoding::gzip);
    CHECK(neg("  gzip  ,\t br\t") == ContentCoding::br);
    CHECK(neg(",,, ,gzip,,") == ContentCoding::gzip);
    CHECK(neg("gzip br") == ContentCoding::identity); // not a token
    CHECK(neg("brotli, gzipx, bro") == ContentCoding::identity);
    CHECK(neg("\x01\x02\xff;;;==,q=1") == ContentCoding::identity);
    CHECK(neg(";q=1") == ContentCoding::identity);
    CHECK(neg("br;q=0;q=1") == ContentCoding::br); // last q wins; harmless either way
    std::string huge(100000, ',');
    huge += "gzip";
    CHECK(neg(huge) == ContentCoding::gzip);
}

TEST_CASE("compressible media types", "[edge][compress]") {
    for (const char* t :
         {"text/html", "text/html; charset=utf-8", "TEXT/CSS", "text/plain", "text/javascript",
          "application/javascript", "application/json", "application/xml", "image/svg+xml", "application/wasm",
          "font/ttf", "font/otf", "application/manifest+json", "application/ld+json", "application/rss+xml",
          "application/vnd.ms-fontobject", " application/json ; charset=utf-8"}) {
        INFO(t);
        CHECK(is_compressible_type(t));
    }
    for (const char* t :
         {"image/png", "image/jpeg", "image/webp", "image/avif", "image/gif", "image/x-icon", "video/mp4", "audio/mpeg",
          "font/woff", "font/woff2", "application/zip", "application/gzip", "application/octet-stream",
          "application/pdf", "text/event-stream", "", "garbage", "application/x-brotli"}) {
        INFO(t);
        CHECK_FALSE(is_compressible_type(t));
    }
}

TEST_CASE("variant keys cannot collide with request keys", "[edge][compress]") {
    std::string k;
    variant_key("example.com/app.js", ContentCoding::br, &k);
    CHECK(k == std::string("example.com/app.js\0br", 21));
    std::string g;
    variant_key("example.com/app.js", ContentCoding::gzip, &g);
    CHECK(g != k);
    CHECK(g.find('\0') == std::string("example.com/app.js").size());
}
