// edge/cache/vary_variant.h: which Vary fields key a variant, the variant suffix, the marker.
#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include "edge/cache/vary_variant.h"

using namespace edge;

TEST_CASE("Vary: the request fields a response varies on", "[edge][cache][vary]") {
    auto fields = [](std::vector<HeaderField> h, std::string* out) {
        return vary_request_fields(h.data(), h.size(), out);
    };
    std::string f;
    CHECK(fields({{"Vary", "Foo, Bar"}}, &f));
    CHECK(f == "foo,bar");
    CHECK(fields({{"Vary", "Accept-Encoding"}}, &f));
    CHECK(f.empty()); // the compression variants' business
    CHECK(fields({{"vary", "accept-encoding, Origin"}, {"Vary", "origin, X-Y"}}, &f));
    CHECK(f == "origin,x-y"); // every line, each name once, lower case
    CHECK(fields({}, &f));
    CHECK(f.empty());
    CHECK_FALSE(fields({{"Vary", "Foo, *"}}, &f)); // never reused (RFC 9111 §4.1)
    CHECK_FALSE(fields({{"Vary", "Fo o"}}, &f));   // not a token
    CHECK_FALSE(fields({{"Vary", "a,b,c,d,e,f,g,h,i"}}, &f));
    CHECK(fields({{"Vary", "a,b,c,d,e,f,g,h"}}, &f));
}

TEST_CASE("Vary: the variant suffix names each field's value, or its absence", "[edge][cache][vary]") {
    std::vector<HeaderField> req = {{"Foo", " 1 "}, {"Accept", "x"}, {"foo", "2"}};
    std::string key = "h/p";
    append_vary_suffix(req, "foo,bar", 0xab, &key);
    CHECK(key == "h/p\nvab\nfoo:1,2\nbar!");
    std::string other = "h/p";
    append_vary_suffix({}, "foo,bar", 0xab, &other);
    CHECK(other == "h/p\nvab\nfoo!\nbar!");
    std::string gen2 = "h/p";
    append_vary_suffix(req, "foo,bar", 0xac, &gen2);
    CHECK(gen2 != key); // another marker generation: the old variants are out of reach
}

TEST_CASE("Vary: a marker holds its fields and generation and is never an answer", "[edge][cache][vary]") {
    uint64_t g = new_vary_generation();
    CHECK(new_vary_generation() != g);
    Ref<CachedObject> m = make_vary_marker("h/p", "foo,bar", g, 1000, 5000);
    REQUIRE(m);
    CHECK(is_vary_marker(*m));
    CHECK(m->key() == "h/p");
    CHECK(m->fresh(5999));
    std::string_view fields;
    uint64_t gen = 0;
    REQUIRE(read_vary_marker(*m, &fields, &gen));
    CHECK(fields == "foo,bar");
    CHECK(gen == g);
    Freshness f;
    Ref<CachedObject> answer = CachedObject::create_complete("h/p", 200, "HTTP/1.1 200 OK\r\n", {}, f, "x");
    CHECK_FALSE(is_vary_marker(*answer));
    CHECK_FALSE(read_vary_marker(*answer, &fields, &gen));
}
