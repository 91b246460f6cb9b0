#include <catch2/catch.hpp>

#include "edge/cache/cached_object.h"
#include "edge/compress/variant_headers.h"

using namespace edge;

namespace {

Ref<CachedObject> object(std::vector<HeaderField> fields, size_t body_size, int status = 200, uint64_t expires = 5000) {
    ValidatorSpans val;
    std::string block = build_stored_header_block(status, "", fields.data(), fields.size(), false, &val);
    Freshness f;
    f.store = true;
    f.age_origin_ms = 1000;
    f.expires_at_ms = expires;
    return CachedObject::create_complete("h/p", status, block, val, f, std::string(body_size, 'a'));
}

} // namespace

TEST_CASE("which stored objects get variants", "[edge][compress]") {
    CHECK(variant_eligible(*object({{"Content-Type", "text/html"}}, 5000)));
    CHECK_FALSE(variant_eligible(*object({{"Content-Type", "text/html"}}, 999)));
    CHECK(variant_eligible(*object({{"Content-Type", "text/html"}}, 1000)));
    CHECK(variant_eligible(*object({{"Content-Type", "text/html"}}, 10'000'000)));
    CHECK_FALSE(variant_eligible(*object({{"Content-Type", "text/html"}}, 10'000'001)));
    CHECK_FALSE(variant_eligible(*object({{"Content-Type", "image/png"}}, 5000)));
    CHECK_FALSE(variant_eligible(*object({{"Content-Type", "font/woff2"}}, 5000)));
    CHECK_FALSE(variant_eligible(*object({}, 5000)));
    CHECK_FALSE(variant_eligible(*object({{"Content-Type", "text/html"}, {"Content-Encoding", "gzip"}}, 5000)));
    CHECK(variant_eligible(*object({{"Content-Type", "text/html"}, {"Content-Encoding", "identity"}}, 5000)));
    CHECK_FALSE(variant_eligible(*object({{"Content-Type", "text/html"}}, 5000, 404)));
    CHECK_FALSE(variant_eligible(
        *object({{"Content-Type", "text/html"}, {"Cache-Control", "max-age=60, No-Transform"}}, 5000)));
    CHECK(variant_eligible(
        *object({{"Content-Type", "text/html"}, {"Cache-Control", "max-age=60, no-transformx"}}, 5000)));
}

TEST_CASE("identity responses of compressible types get Vary", "[edge][compress]") {
    std::vector<HeaderField> js = {{"Content-Type", "application/javascript"}};
    CHECK(identity_needs_vary(200, js.data(), js.size()));
    CHECK_FALSE(identity_needs_vary(404, js.data(), js.size()));
    std::vector<HeaderField> png = {{"Content-Type", "image/png"}};
    CHECK_FALSE(identity_needs_vary(200, png.data(), png.size()));
    std::vector<HeaderField> has = {{"Content-Type", "text/css"}, {"vary", "Accept-Encoding"}};
    CHECK_FALSE(identity_needs_vary(200, has.data(), has.size()));
    std::vector<HeaderField> enc = {{"Content-Type", "text/css"}, {"Content-Encoding", "br"}};
    CHECK_FALSE(identity_needs_vary(200, enc.data(), enc.size()));
    std::vector<HeaderField> nt = {{"Content-Type", "text/css"}, {"Cache-Control", "no-transform"}};
    CHECK_FALSE(identity_needs_vary(200, nt.data(), nt.size()));
}

TEST_CASE("variant header block", "[edge][compress]") {
    std::vector<HeaderField> f = {{"Content-Type", "text/html"},
                                  {"ETag", "\"abc\""},
                                  {"Accept-Ranges", "bytes"},
                                  {"Last-Modified", "Wed, 21 Oct 2015 07:28:00 GMT"},
                                  {"Cache-Control", "max-age=60"}};
    auto id = object(f, 5000);
    ValidatorSpans val;
    std::string b = variant_header_block(id->header_block(), ContentCoding::br, &val);
    CHECK(b.rfind("HTTP/1.1 200 OK\r\n", 0) == 0);
    CHECK(block_header(b, "content-encoding") == "br");
    CHECK(block_header(b, "vary") == "Accept-Encoding");
    CHECK(block_header(b, "etag") == "W/\"abc\"");
    CHECK(block_header(b, "cache-control") == "max-age=60");
    bool found = true;
    block_header(b, "accept-ranges", &found);
    CHECK_FALSE(found);
    CHECK(b.substr(val.etag_off, val.etag_len) == "W/\"abc\"");
    CHECK(b.substr(val.last_modified_off, val.last_modified_len) == "Wed, 21 Oct 2015 07:28:00 GMT");

    // An existing Vary is merged, a weak ETag stays weak, Accept-Encoding is not listed twice.
    auto id2 = object({{"Content-Type", "text/css"}, {"Vary", "Origin"}, {"ETag", "W/\"w\""}}, 5000);
    std::string b2 = variant_header_block(id2->header_block(), ContentCoding::gzip, nullptr);
    CHECK(block_header(b2, "vary") == "Origin, Accept-Encoding");
    CHECK(block_header(b2, "etag") == "W/\"w\"");
    CHECK(block_header(b2, "content-encoding") == "gzip");
    auto id3 = object({{"Content-Type", "text/css"}, {"Vary", "accept-encoding"}}, 5000);
    std::string b3 = variant_header_block(id3->header_block(), ContentCoding::gzip, nullptr);
    CHECK(block_header(b3, "vary") == "accept-encoding");
}

TEST_CASE("variants are tied to their identity object", "[edge][compress]") {
    std::vector<HeaderField> f = {{"Content-Type", "text/html"}, {"ETag", "\"v1\""}};
    auto id = object(f, 5000, 200, 9000);
    ValidatorSpans val;
    std::string vb = variant_header_block(id->header_block(), ContentCoding::br, &val);
    Freshness fr;
    fr.expires_at_ms = 9000;
    auto v = CachedObject::create_complete("h/p\0br", 200, vb, val, fr, "x");
    CHECK(variant_tied(*v, *id));
    // A replacement identity (new expiry, or new ETag) unties it.
    CHECK_FALSE(variant_tied(*v, *object(f, 5000, 200, 9001)));
    CHECK_FALSE(variant_tied(*v, *object({{"Content-Type", "text/html"}, {"ETag", "\"v2\""}}, 5000, 200, 9000)));
    // After a revalidation both move together; the tie is checked against the identity's expiry before it.
    CHECK(variant_tied(*v, *object(f, 5000, 200, 20000), 9000));
    std::string mb = marker_header_block(id->header_block(), &val);
    auto m = CachedObject::create_complete("h/p\0br", 0, mb, val, fr, "");
    CHECK(is_variant_marker(*m));
    CHECK(variant_tied(*m, *id));
    CHECK_FALSE(is_variant_marker(*v));
}
