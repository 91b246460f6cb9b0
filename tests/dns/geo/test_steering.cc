// The query-path contract the DNS engine relies on: find(), qtypes, ECS scope, privacy truncation, and config
// errors reported with their key.
#include <catch2/catch.hpp>

#include "dns/geo/geo_fixture.h"

using geo_test::client;
using geo_test::first;

namespace {
const char* kGeo = R"(
[geo]
database = "cities.mmdb"
[[edge]]
name = "eu"
ipv4 = "192.0.2.10"
latitude = 50.11
longitude = 8.68
[[edge]]
name = "us"
ipv4 = "198.51.100.10"
ipv6 = "2001:db8:e1::10"
latitude = 38.95
longitude = -77.45
[[edge]]
name = "ap"
ipv4 = "203.0.113.10"
latitude = 1.35
longitude = 103.82
[[steer]]
name = "WWW.Example.Test"
type = ["A", "AAAA"]
ttl = 300
policy = "geoproximity"
default = "us"
)";
} // namespace

TEST_CASE("find: lowercase wire names, steered types", "[dns][geo][steering]") {
    geo_test::TempDir dir;
    REQUIRE_FALSE(geo_test::make_test_mmdb(dir).empty());
    auto b = geo_test::build(dir, kGeo);
    INFO(b->diags.to_string());
    REQUIRE(b->steering);
    auto& s = *b->steering;
    const auto* n = s.find(geo_test::wire("www.example.test."));
    REQUIRE(n);
    CHECK(n->name() == "www.example.test.");
    CHECK(n->steers(1));
    CHECK(n->steers(28));
    CHECK_FALSE(n->steers(16));
    CHECK(s.find(geo_test::wire("example.test.")) == nullptr);
    CHECK(s.find(geo_test::wire("wwww.example.test.")) == nullptr);
    CHECK(s.names().size() == 1);
    auto txt = s.answer(*n, 16, client("10.1.0.1"), 0);
    CHECK(txt.nodata);
    // AAAA: only us has IPv6, so everyone gets us.
    auto v6 = s.answer(*n, 28, client("10.1.0.1"), 0);
    CHECK(first(v6) == "2001:db8:e1::10");
    REQUIRE(v6.records.size() == 28);
    CHECK(v6.records[3] == 28);
    CHECK(v6.records[9] == 44); // TTL 300 = 0x12C
    CHECK(v6.records[8] == 1);
}

TEST_CASE("ECS scope: the depth the decision depended on, capped by privacy truncation", "[dns][geo][steering][ecs]") {
    geo_test::TempDir dir;
    REQUIRE_FALSE(geo_test::make_test_mmdb(dir).empty());
    auto b = geo_test::build(dir, kGeo);
    REQUIRE(b->steering);
    auto& s = *b->steering;
    const auto* n = s.find(geo_test::wire("www.example.test."));
    REQUIRE(n);

    // 10.1.0.0/16 (Frankfurt + Paris, both eu) vs 10.0.0.0/16 (unknown → us): decided at /16.
    auto a = s.answer(*n, 1, client("10.1.77.0", 24), 0);
    CHECK(first(a) == "192.0.2.10");
    CHECK(a.scope_prefix == 16);
    // Every address in the scope gets the same answer (never wider than true).
    for (unsigned x = 0; x < 256; x += 15)
        CHECK(first(s.answer(*n, 1, client("10.1." + std::to_string(x) + ".1", 24), 0)) == "192.0.2.10");
    CHECK(first(s.answer(*n, 1, client("10.0.3.0", 24), 0)) == "198.51.100.10");

    // San Jose and Sao Paulo (10.4/16, 10.5/16) both go to us: merged into 10.4/15.
    CHECK(s.answer(*n, 1, client("10.5.1.0", 24), 0).scope_prefix == 15);

    // A /32 source is truncated to /24; the scope never claims more than the /24 we used.
    auto full = s.answer(*n, 1, client("10.1.77.5", 32), 0);
    CHECK(full.scope_prefix == 16);
    // A short source prefix: the rest of the address is zero; scope may be longer than the source (RFC 7871
    // §7.2.1: the source was not specific enough).
    auto wide = s.answer(*n, 1, client("10.0.0.0", 8), 0);
    CHECK(wide.scope_prefix >= 8);
    // /0: one answer for everything only if the policy does not care; here it does, so scope > 0.
    auto zero = s.answer(*n, 1, client("0.0.0.0", 0), 0);
    CHECK(zero.scope_prefix >= 1);

    // IPv6, /56 cap.
    auto v6 = s.answer(*n, 1, client("2001:db8:6::", 56), 0);
    CHECK(first(v6) == "203.0.113.10");
    CHECK(v6.scope_prefix <= 56);
    CHECK(v6.scope_prefix >= 47);
    auto v6full = s.answer(*n, 1, client("2001:db8:6:1:2:3:4:5", 128), 0);
    CHECK(first(v6full) == "203.0.113.10");
    CHECK(v6full.scope_prefix <= 56);
    // Outside the data: default, with the scope of the unknown region.
    auto out = s.answer(*n, 1, client("2001:db8:9999::", 48), 0);
    CHECK(first(out) == "198.51.100.10");
}

TEST_CASE("ECS scope is 0 for location-independent policies", "[dns][geo][steering][ecs]") {
    geo_test::TempDir dir;
    auto b = geo_test::build(dir, R"(
[[edge]]
name = "a"
ipv4 = "192.0.2.1"
[[steer]]
name = "www.example.test."
policy = "simple"
)");
    INFO(b->diags.to_string());
    REQUIRE(b->steering);
    const auto* n = b->steering->find(geo_test::wire("www.example.test."));
    REQUIRE(n);
    auto a = b->steering->answer(*n, 1, client("10.1.2.0", 24), 0);
    CHECK(a.scope_prefix == 0);
    CHECK(first(a) == "192.0.2.1");
}

TEST_CASE("config errors name the key", "[dns][geo][config]") {
    geo_test::TempDir dir;
    auto check = [&](const std::string& toml, const std::string& want) {
        auto b = geo_test::build(dir, toml);
        INFO(toml);
        INFO(b->diags.to_string());
        CHECK_FALSE(b->steering);
        CHECK(b->diags.to_string().find(want) != std::string::npos);
    };
    const std::string edge = "[[edge]]\nname = \"a\"\nipv4 = \"192.0.2.1\"\n";
    check(edge + "[[steer]]\nname = \"w.test.\"\nmembers = [\"b\"]\n", "'b' is neither");
    check(edge + "[[steer]]\nname = \"w.test.\"\ntype = \"MX\"\n", "steered types are A and AAAA");
    check(edge + "[[steer]]\nname = \"w.test.\"\ntype = \"AAAA\"\n", "no member has an ipv6");
    check(edge + "[[steer]]\nname = \"w.test.\"\npolicy = \"geoproximity\"\n", "has no latitude/longitude");
    check(edge + "[[steer]]\nname = \"w.test.\"\npolicy = \"nearest\"\n", "policy");
    check(edge + "[[steer]]\nname = \"w.test.\"\n[[steer]]\nname = \"W.test\"\n", "steered twice");
    check(edge + "[[steer]]\nname = \"w.test.\"\npolicy = \"weighted\"\nweights = { a = 300 }\n", "weights.a");
    check(edge + "[[steer]]\nname = \"w.test.\"\npolicy = \"weighted\"\nweights = { zz = 3 }\n", "zz");
    check(edge + "[[steer]]\nname = \"w.test.\"\npolicy = \"geolocation\"\n", "geolocation needs");
    check(edge + "[[steer]]\nname = \"w.test.\"\npolicy = \"geolocation\"\nlocations = { a = [\"Europe\"] }\n",
          "not a location code");
    check(edge + "[[edge]]\nname = \"a\"\nipv4 = \"192.0.2.2\"\n", "defined twice");
    check("[[edge]]\nname = \"a\"\nipv4 = \"300.1.1.1\"\n", "expected an IPv4 address");
    check("[[edge]]\nname = \"a\"\n", "needs ipv4 and/or ipv6");
    check("[[edge]]\nname = \"a\"\nipv4 = \"192.0.2.1\"\nlatitude = 95\nlongitude = 0\n", "latitude");
    check("[[edge]]\nname = \"a\"\nipv4 = \"192.0.2.1\"\nhealth = { type = \"smtp\" }\n", "health.type");
    check("[[edge]]\nname = \"a\"\nipv4 = \"192.0.2.1\"\nhealth = { type = \"http\", interval = \"1s\", "
          "timeout = \"2s\" }\n",
          "timeout");
    check(edge + "[[pool]]\nname = \"p\"\nmembers = [\"q\"]\n[[pool]]\nname = \"q\"\nmembers = [\"p\"]\n",
          "contains itself");
    check(edge + "[[steer]]\nname = \"w.test.\"\ncolour = \"red\"\n", "colour");
    check(edge + "[geo]\ndatabase = \"missing.mmdb\"\n[[steer]]\nname = \"w.test.\"\npolicy = \"geoproximity\"\n"
                 "[[edge]]\nname = \"g\"\nipv4 = \"192.0.2.3\"\nlatitude = 1\nlongitude = 1\n",
          "");
    // A missing database is an error at build time, naming the file.
    {
        auto b = geo_test::build(dir, "[geo]\ndatabase = \"missing.mmdb\"\n[[edge]]\nname = \"g\"\nipv4 = "
                                      "\"192.0.2.3\"\nlatitude = 1\nlongitude = 1\n[[steer]]\nname = \"w.test.\"\n"
                                      "policy = \"geoproximity\"\n");
        CHECK_FALSE(b->steering);
        CHECK(b->diags.to_string().find("missing.mmdb") != std::string::npos);
    }
}

TEST_CASE("name_in_zone", "[dns][geo][steering]") {
    using dns::geo::name_in_zone;
    CHECK(name_in_zone(geo_test::wire("www.example.test."), geo_test::wire("example.test.")));
    CHECK(name_in_zone(geo_test::wire("example.test."), geo_test::wire("example.test.")));
    CHECK(name_in_zone(geo_test::wire("a.b.c."), geo_test::wire(".")));
    CHECK_FALSE(name_in_zone(geo_test::wire("www.example.test."), geo_test::wire("ample.test.")));
    CHECK_FALSE(name_in_zone(geo_test::wire("example.test."), geo_test::wire("www.example.test.")));
    CHECK_FALSE(name_in_zone(geo_test::wire("wwwexample.test."), geo_test::wire("example.test.")));
}

TEST_CASE("steer ttl is a duration like every other time key", "[dns][geo][config]") {
    geo_test::TempDir dir;
    const std::string edge = "[[edge]]\nname = \"a\"\nipv4 = \"192.0.2.1\"\n";
    auto ttl_of = [&](const std::string& ttl_line) -> int64_t {
        auto b = geo_test::build(dir, edge + "[[steer]]\nname = \"w.test.\"\n" + ttl_line);
        INFO(b->diags.to_string());
        if (!b->steering) return -1;
        const auto* n = b->steering->find(geo_test::wire("w.test."));
        REQUIRE(n);
        auto a = b->steering->answer(*n, 1, client("192.0.2.99"), 0);
        REQUIRE(a.rr_count == 1);
        const uint8_t* rr = a.records.data(); // owner pointer, type, class, then the TTL
        return (int64_t{rr[6]} << 24) | (rr[7] << 16) | (rr[8] << 8) | rr[9];
    };
    CHECK(ttl_of("") == 60);
    CHECK(ttl_of("ttl = \"60s\"\n") == 60);
    CHECK(ttl_of("ttl = \"1m30s\"\n") == 90);
    CHECK(ttl_of("ttl = \"2h\"\n") == 7200);
    CHECK(ttl_of("ttl = 300\n") == 300);
    CHECK(ttl_of("ttl = \"0s\"\n") == 0);
    auto error_of = [&](const std::string& ttl_line) {
        auto b = geo_test::build(dir, edge + "[[steer]]\nname = \"w.test.\"\n" + ttl_line);
        CHECK_FALSE(b->steering);
        return b->diags.to_string();
    };
    CHECK_THAT(error_of("ttl = \"1500ms\"\n"), Catch::Contains("ttl") && Catch::Contains("whole seconds"));
    CHECK_THAT(error_of("ttl = \"soon\"\n"), Catch::Contains("ttl") && Catch::Contains("expected a duration"));
    CHECK_THAT(error_of("ttl = -5\n"), Catch::Contains("ttl"));
    CHECK_THAT(error_of("ttl = \"100000d\"\n"), Catch::Contains("whole seconds, at most"));
}
