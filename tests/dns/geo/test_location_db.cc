#include <arpa/inet.h>

#include <catch2/catch.hpp>

#include "dns/geo/location_db.h"
#include "dns/geo/geo_fixture.h"
#include "shared/config/config.h"

using dns::geo::LocationDb;

namespace {
dns::geo::LocationId find(const LocationDb& db, const char* ip) {
    uint8_t a[16] = {};
    if (inet_pton(AF_INET, ip, a) == 1) return db.lookup(AF_INET, a);
    inet_pton(AF_INET6, ip, a);
    return db.lookup(AF_INET6, a);
}
} // namespace

TEST_CASE("mmdb reader: GeoLite2-City fields from a database the test writes", "[dns][geo][mmdb]") {
    geo_test::TempDir dir;
    std::string mmdb = geo_test::make_test_mmdb(dir);
    REQUIRE_FALSE(mmdb.empty());
    LocationDb db;
    std::string err;
    REQUIRE(db.load_mmdb(mmdb, &err));

    const auto& fra = db.location(find(db, "10.1.2.3"));
    CHECK(fra.has_coords);
    CHECK(fra.latitude == Approx(50.11));
    CHECK(fra.longitude == Approx(8.68));
    CHECK(fra.continent == "EU");
    CHECK(fra.country == "DE");
    CHECK(fra.subdivision == "DE-HE");

    // A more specific network inside 10.1/16.
    CHECK(db.location(find(db, "10.1.200.1")).country == "FR");
    CHECK(db.location(find(db, "10.10.0.1")).continent == "AN");
    CHECK(db.location(find(db, "10.10.0.1")).subdivision.empty());

    // IPv6, and IPv4-mapped IPv6 read as IPv4.
    CHECK(db.location(find(db, "2001:db8:6::1")).country == "SG");
    CHECK(db.location(find(db, "::ffff:10.3.0.9")).subdivision == "US-VA");

    // Outside the data: unknown.
    CHECK(find(db, "192.0.2.1") == dns::geo::kUnknownLocation);
    CHECK(find(db, "2001:db8:99::1") == dns::geo::kUnknownLocation);
    CHECK(find(db, "11.0.0.1") == dns::geo::kUnknownLocation);

    // Same data, same location id: 10.1/17 (Frankfurt) and 2001:db8:1::/48 share it.
    CHECK(find(db, "10.1.0.1") == find(db, "2001:db8:1::1"));
}

TEST_CASE("mmdb reader: missing or non-mmdb file is a clear error", "[dns][geo][mmdb]") {
    geo_test::TempDir dir;
    LocationDb db;
    std::string err;
    CHECK_FALSE(db.load_mmdb(dir.path + "/nope.mmdb", &err));
    CHECK(err.find("nope.mmdb") != std::string::npos);
    std::string junk = dir.write("junk.mmdb", "this is not a maxmind database\n");
    CHECK_FALSE(db.load_mmdb(junk, &err));
    CHECK(err.find("junk.mmdb") != std::string::npos);
}

TEST_CASE("CIDR collection: names, attributes, longest prefix, overlay on mmdb", "[dns][geo][cidr]") {
    geo_test::TempDir dir;
    std::string mmdb = geo_test::make_test_mmdb(dir);
    LocationDb db;
    std::string err;
    REQUIRE(db.load_mmdb(mmdb, &err));
    shared::ConfigDiagnostics diags;
    REQUIRE(db.load_cidr_text("# test\n"
                              "10.1.0.0/16   fra-office\n"
                              "10.1.5.0/24   lab lat=1.5 lon=2.5 country=XX   # more specific\n"
                              "172.16.0.0/12 corp continent=EU\n"
                              "2001:db8:77::/48 v6-site lat=-10 lon=20\n",
                              "test.cidr", diags));
    CHECK(diags.ok());
    const auto& office = db.location(find(db, "10.1.4.1"));
    CHECK(office.cidr_name == "fra-office");
    CHECK(office.country == "DE"); // kept from the mmdb
    const auto& paris = db.location(find(db, "10.1.200.1"));
    CHECK(paris.cidr_name == "fra-office");
    CHECK(paris.country == "FR");
    const auto& lab = db.location(find(db, "10.1.5.9"));
    CHECK(lab.cidr_name == "lab");
    CHECK(lab.country == "XX");
    CHECK(lab.latitude == Approx(1.5));
    CHECK(db.location(find(db, "172.20.1.1")).continent == "EU");
    CHECK(db.location(find(db, "2001:db8:77::5")).cidr_name == "v6-site");
    CHECK(db.location(find(db, "2001:db8:77::5")).has_coords);
    CHECK(find(db, "192.0.2.1") == dns::geo::kUnknownLocation);
}

TEST_CASE("CIDR collection: bad lines are reported with file:line", "[dns][geo][cidr]") {
    LocationDb db;
    shared::ConfigDiagnostics diags;
    CHECK_FALSE(db.load_cidr_text("10.0.0.0/8 ok\n"
                                  "10.0.0.1/8 hostbits\n"
                                  "10.2.0.0/16\n"
                                  "10.3.0.0/16 x lat=100 lon=0\n"
                                  "10.4.0.0/16 x lat=1\n"
                                  "10.5.0.0/16 x colour=red\n"
                                  "10.0.0.0/8 dup\n",
                                  "bad.cidr", diags));
    std::string all = diags.to_string();
    INFO(all);
    CHECK(diags.error_count() == 6);
    CHECK(all.find("bad.cidr:2") != std::string::npos);
    CHECK(all.find("bad.cidr:3") != std::string::npos);
    CHECK(all.find("bad.cidr:4") != std::string::npos);
    CHECK(all.find("bad.cidr:5") != std::string::npos);
    CHECK(all.find("bad.cidr:6") != std::string::npos);
    CHECK(all.find("bad.cidr:7") != std::string::npos);
    CHECK(all.find("line 1") != std::string::npos);
}
