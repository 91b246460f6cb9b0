#include <arpa/inet.h>

#include <catch2/catch.hpp>

#include "dns/geo/location_db.h"
#include "dns/geo/radix_tree.h"

using dns::geo::RadixTree;

namespace {
std::array<uint8_t, 16> v4(const char* s) {
    std::array<uint8_t, 16> a{};
    inet_pton(AF_INET, s, a.data());
    return a;
}
} // namespace

TEST_CASE("radix tree: overlay, longest prefix and depth", "[dns][geo][radix]") {
    RadixTree t(0);
    auto p = v4("10.0.0.0");
    t.overlay(p.data(), 8, [](uint32_t) { return 1u; });
    auto q = v4("10.1.0.0");
    t.overlay(q.data(), 16, [](uint32_t) { return 2u; });

    auto a = v4("10.1.2.3");
    auto h = t.lookup(a.data(), 32);
    CHECK(h.value == 2);
    CHECK(h.depth == 16);
    auto b = v4("10.200.0.1");
    h = t.lookup(b.data(), 32);
    CHECK(h.value == 1);
    CHECK(h.depth == 9); // 10.1/16 and 10.128/9 part at the first bit of the second octet
    auto c = v4("192.0.2.1");
    h = t.lookup(c.data(), 32);
    CHECK(h.value == 0);
    CHECK(h.depth == 1);
}

TEST_CASE("radix tree: equal siblings merge, so the scope is as wide as is true", "[dns][geo][radix]") {
    RadixTree t(0);
    auto lo = v4("10.0.0.0");
    auto hi = v4("10.128.0.0");
    t.overlay(lo.data(), 9, [](uint32_t) { return 5u; });
    t.overlay(hi.data(), 9, [](uint32_t) { return 5u; });
    auto m = t.mapped([](uint32_t v) { return v; });
    auto a = v4("10.77.1.1");
    auto h = m.lookup(a.data(), 32);
    CHECK(h.value == 5);
    CHECK(h.depth == 8); // 10.0/9 + 10.128/9 merged into 10/8
    CHECK(m.leaf_count() == 9); // 10/8 plus the 8 sibling subtrees along its path

    // A map that makes everything equal collapses the tree to the root: scope 0.
    auto flat = m.mapped([](uint32_t) { return 7u; });
    CHECK(flat.node_count() == 0);
    CHECK(flat.lookup(a.data(), 32).depth == 0);
}

TEST_CASE("radix tree: bits past max_bits read as zero", "[dns][geo][radix]") {
    RadixTree t(0);
    auto p = v4("10.1.2.128");
    t.overlay(p.data(), 25, [](uint32_t) { return 3u; });
    auto a = v4("10.1.2.200");
    CHECK(t.lookup(a.data(), 32).value == 3);
    // Only /24 known: the missing bits are zero, i.e. 10.1.2.0/25, which is not the overlay.
    CHECK(t.lookup(a.data(), 24).value == 0);
    CHECK(t.lookup(a.data(), 24).depth == 25);
}

TEST_CASE("parse_cidr accepts prefixes and rejects bad ones", "[dns][geo][radix]") {
    int fam;
    uint8_t addr[16];
    unsigned len;
    std::string err;
    REQUIRE(dns::geo::parse_cidr("10.1.0.0/16", &fam, addr, &len, &err));
    CHECK(fam == AF_INET);
    CHECK(len == 16);
    REQUIRE(dns::geo::parse_cidr("2001:db8::/32", &fam, addr, &len, &err));
    CHECK(fam == AF_INET6);
    CHECK(len == 32);
    REQUIRE(dns::geo::parse_cidr("192.0.2.7", &fam, addr, &len, &err));
    CHECK(len == 32);
    CHECK_FALSE(dns::geo::parse_cidr("10.1.0.1/16", &fam, addr, &len, &err));
    CHECK(err.find("past the prefix") != std::string::npos);
    CHECK_FALSE(dns::geo::parse_cidr("10.1.0.0/33", &fam, addr, &len, &err));
    CHECK_FALSE(dns::geo::parse_cidr("10.1.0.0/", &fam, addr, &len, &err));
    CHECK_FALSE(dns::geo::parse_cidr("banana/8", &fam, addr, &len, &err));
    CHECK_FALSE(dns::geo::parse_cidr("2001:db8::/129", &fam, addr, &len, &err));
}

TEST_CASE("radix tree: the first-byte index gives the same value and depth as the bit walk", "[dns][geo][radix]") {
    RadixTree t(0);
    uint32_t v = 1;
    for (const char* p : {"10.0.0.0/8", "10.1.0.0/16", "10.1.128.0/17", "128.0.0.0/1", "192.168.0.0/16",
                          "0.0.0.0/3", "200.0.0.0/5", "10.2.3.4/32"}) {
        int fam;
        uint8_t a[16];
        unsigned len;
        std::string err;
        REQUIRE(dns::geo::parse_cidr(p, &fam, a, &len, &err));
        uint32_t val = v++;
        t.overlay(a, len, [val](uint32_t) { return val; });
    }
    RadixTree plain = t.mapped([](uint32_t x) { return x; });
    RadixTree fast = plain;
    fast.index_first_byte();
    uint32_t seed = 12345;
    for (int i = 0; i < 20000; ++i) {
        uint8_t a[16] = {};
        for (int k = 0; k < 4; ++k) {
            seed = seed * 1103515245u + 12345u;
            a[k] = static_cast<uint8_t>(seed >> 16);
        }
        if (i % 7 == 0) a[0] = 10;
        for (unsigned bits : {32u, 24u, 9u, 8u, 7u, 0u}) {
            auto x = plain.lookup(a, bits);
            auto y = fast.lookup(a, bits);
            REQUIRE(x.value == y.value);
            REQUIRE(x.depth == y.depth);
        }
    }
    // A tree that is a single leaf: depth 0 either way.
    RadixTree leaf(7);
    leaf.index_first_byte();
    uint8_t z[16] = {1, 2, 3, 4};
    CHECK(leaf.lookup(z, 32).depth == 0);
    CHECK(leaf.lookup(z, 32).value == 7);
}
