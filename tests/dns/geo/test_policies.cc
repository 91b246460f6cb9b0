// Each routing policy against Route53's documented semantics, through the same path the DNS engine uses
// (parse_steering_config → Steering::build → find → answer).
#include <catch2/catch.hpp>

#include <fstream>
#include <iterator>
#include <map>
#include <set>

#include "shared/log/log.h"

#include "dns/geo/geo_fixture.h"

using geo_test::client;
using geo_test::first;

namespace {

const char* kEdges = R"(
[[edge]]
name = "eu"
ipv4 = "192.0.2.10"
ipv6 = "2001:db8:e0::10"
latitude = 50.11
longitude = 8.68
health = { type = "tcp", port = 80 }
[[edge]]
name = "us"
ipv4 = "198.51.100.10"
ipv6 = "2001:db8:e1::10"
latitude = 38.95
longitude = -77.45
health = { type = "tcp", port = 80 }
[[edge]]
name = "ap"
ipv4 = "203.0.113.10"
latitude = 1.35
longitude = 103.82
health = { type = "tcp", port = 80 }
)";

constexpr const char* EU = "192.0.2.10";
constexpr const char* US = "198.51.100.10";
constexpr const char* AP = "203.0.113.10";

struct Fixture {
    geo_test::TempDir dir;
    std::unique_ptr<geo_test::Built> b;
    const dns::geo::SteeredName* name = nullptr;

    explicit Fixture(const std::string& steer, const std::string& extra = "",
                     const std::map<std::string, std::string>& files = {}) {
        for (auto& [n, text] : files)
            dir.write(n, text);
        std::string mmdb = geo_test::make_test_mmdb(dir);
        REQUIRE_FALSE(mmdb.empty());
        b = geo_test::build(dir, "[geo]\ndatabase = \"cities.mmdb\"\n" + extra + kEdges + steer);
        INFO(b->diags.to_string());
        REQUIRE(b->steering);
        name = b->steering->find(geo_test::wire("www.example.test."));
        REQUIRE(name);
    }
    dns::geo::Answer ask(const std::string& ip, int prefix = -1, uint16_t qtype = 1) {
        return b->steering->answer(*name, qtype, client(ip, prefix), 0);
    }
    // healthy: edge names that are up; all others down.
    void health(std::set<std::string> up) {
        dns::geo::HealthVector h;
        for (auto& n : b->steering->edge_names())
            h.push_back(up.count(n) ? 1 : 0);
        b->steering->set_health(h, 0);
    }
};

} // namespace

TEST_CASE("geoproximity: nearest edge from each continent - unknown gets the default", "[dns][geo][policy]") {
    Fixture f(R"(
[[steer]]
name = "www.example.test."
ttl = 60
policy = "geoproximity"
members = ["eu", "us", "ap"]
default = "us"
)");
    CHECK(first(f.ask("10.1.2.3")) == EU);   // Frankfurt
    CHECK(first(f.ask("10.1.200.3")) == EU); // Paris
    CHECK(first(f.ask("10.2.0.1")) == EU);   // London
    CHECK(first(f.ask("10.3.0.1")) == US);   // Ashburn
    CHECK(first(f.ask("10.4.0.1")) == US);   // San Jose
    CHECK(first(f.ask("10.5.0.1")) == US);   // Sao Paulo
    CHECK(first(f.ask("10.6.0.1")) == AP);   // Singapore
    CHECK(first(f.ask("10.7.0.1")) == AP);   // Tokyo
    CHECK(first(f.ask("10.8.0.1")) == AP);   // Sydney
    CHECK(first(f.ask("192.0.2.99")) == US); // outside the data → default
    CHECK(first(f.ask("2001:db8:1::5")) == EU);
    CHECK(first(f.ask("2001:db8:6::5")) == AP);
    CHECK(first(f.ask("2001:db8:ffff::5")) == US);
    CHECK(first(f.ask("::ffff:10.6.1.1")) == AP);

    auto a = f.ask("10.3.0.1");
    CHECK(a.rr_count == 1);
    CHECK_FALSE(a.nodata);
    CHECK_FALSE(a.failed_open);
    // The pre-rendered RR: pointer to the question, A, IN, TTL 60, rdlen 4.
    REQUIRE(a.records.size() == 16);
    const uint8_t head[] = {0xC0, 0x0C, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 198, 51, 100, 10};
    CHECK(std::equal(a.records.begin(), a.records.end(), head));
}

TEST_CASE("geoproximity: bias shrinks or grows an edge's reach as Route53 documents", "[dns][geo][policy]") {
    // London is ~640 km from eu and ~5,900 km from us: us needs bias > ~89 to win it.
    Fixture none(R"(
[[steer]]
name = "www.example.test."
policy = "geoproximity"
)");
    CHECK(first(none.ask("10.2.0.1")) == EU);

    Fixture strong(R"(
[[steer]]
name = "www.example.test."
policy = "geoproximity"
bias = { us = 95 }
)");
    CHECK(first(strong.ask("10.2.0.1")) == US);
    CHECK(first(strong.ask("10.1.0.1")) == EU); // Frankfurt: distance 0 to eu stays nearest
    CHECK(first(strong.ask("10.6.0.1")) == AP);

    Fixture weak(R"(
[[steer]]
name = "www.example.test."
policy = "geoproximity"
bias = { us = 80 }
)");
    CHECK(first(weak.ask("10.2.0.1")) == EU);

    // Negative bias pushes an edge away: Sao Paulo (us ~7,600 km, eu ~9,800 km) moves to eu at us = -50.
    Fixture neg(R"(
[[steer]]
name = "www.example.test."
policy = "geoproximity"
bias = { us = -50 }
)");
    CHECK(first(neg.ask("10.5.0.1")) == EU);
}

TEST_CASE("geoproximity: unhealthy nearest edge → next nearest - all down → fail open", "[dns][geo][policy][health]") {
    Fixture f(R"(
[[steer]]
name = "www.example.test."
policy = "geoproximity"
)");
    f.health({"us", "ap"});
    CHECK(first(f.ask("10.1.0.1")) == US); // Frankfurt: eu down, us next
    CHECK(first(f.ask("10.8.0.1")) == AP);
    CHECK(f.b->steering->failing_open_now() == 0);
    f.health({});
    auto a = f.ask("10.1.0.1");
    CHECK(first(a) == EU); // all down: answered as if all were healthy
    CHECK(a.failed_open);
    CHECK(f.b->steering->failed_open_total() == 1);
    CHECK(f.b->steering->failing_open_now() == 1);
    f.health({"eu", "us", "ap"});
    CHECK_FALSE(f.ask("10.1.0.1").failed_open);
}

TEST_CASE("geolocation: subdivision → country → continent → default - no match and no default → NODATA",
          "[dns][geo][policy]") {
    std::string sj = R"(
[[edge]]
name = "sj"
ipv4 = "198.51.100.20"
health = { type = "tcp", port = 80 }
)";
    Fixture f(R"(
[[steer]]
name = "www.example.test."
policy = "geolocation"
members = ["eu", "us", "ap", "sj"]
locations = { eu = ["continent:EU"], us = ["US"], ap = ["SG-01", "continent:OC"], sj = ["US-CA"] }
)",
              sj);
    CHECK(first(f.ask("10.4.0.1")) == "198.51.100.20"); // San Jose: subdivision US-CA wins over country US
    CHECK(first(f.ask("10.3.0.1")) == US);              // Ashburn: country
    CHECK(first(f.ask("10.1.0.1")) == EU);              // continent
    CHECK(first(f.ask("10.6.0.1")) == AP);              // subdivision SG-01
    CHECK(first(f.ask("10.8.0.1")) == AP);              // Sydney: continent OC
    CHECK(f.ask("10.7.0.1").nodata);                    // Tokyo: no rule, no default → NODATA
    CHECK(f.ask("192.0.2.1").nodata);
    CHECK(f.ask("10.7.0.1").rr_count == 0);

    // The subdivision's edge is down: the next larger area answers.
    f.health({"eu", "us", "ap"});
    CHECK(first(f.ask("10.4.0.1")) == US);

    Fixture d(R"(
[[steer]]
name = "www.example.test."
policy = "geolocation"
default = "eu"
locations = { us = ["continent:NA"] }
)");
    CHECK(first(d.ask("10.7.0.1")) == EU);  // Tokyo → default
    CHECK(first(d.ask("192.0.2.1")) == EU); // unknown → default
    CHECK(first(d.ask("10.3.0.1")) == US);
}

namespace {
// The process log written to a file while in scope (the steering logs its health decisions there).
struct CapturedLog {
    geo_test::TempDir dir;
    std::string path = dir.path + "/log.txt";
    CapturedLog() {
        std::string err;
        REQUIRE(shared::log::set_file(path, &err));
    }
    ~CapturedLog() {
        std::string err;
        shared::log::set_file("stderr", &err);
    }
    std::string text() const {
        std::ifstream in(path);
        return std::string(std::istreambuf_iterator<char>(in), {});
    }
    size_t count(const std::string& needle) const {
        std::string t = text();
        size_t n = 0;
        for (size_t p = t.find(needle); p != std::string::npos; p = t.find(needle, p + 1))
            ++n;
        return n;
    }
};
} // namespace

TEST_CASE("geolocation health: an unhealthy record falls back to the next less specific healthy one, in order",
          "[dns][geo][policy][health]") {
    std::string extra = R"(
[[edge]]
name = "sj"
ipv4 = "198.51.100.20"
health = { type = "tcp", port = 80 }
[[edge]]
name = "na"
ipv4 = "198.51.100.30"
health = { type = "tcp", port = 80 }
)";
    Fixture f(R"(
[[steer]]
name = "www.example.test."
policy = "geolocation"
members = ["sj", "us", "na"]
locations = { sj = ["US-CA"], us = ["US"], na = ["continent:NA"] }
default = "eu"
)",
              extra);
    const std::string SJ = "198.51.100.20", NA = "198.51.100.30";
    const char* SAN_JOSE = "10.4.0.1";
    CHECK(first(f.ask(SAN_JOSE)) == SJ); // subdivision
    f.health({"us", "na", "eu", "ap"});
    CHECK(first(f.ask(SAN_JOSE)) == US); // → country
    f.health({"na", "eu", "ap"});
    CHECK(first(f.ask(SAN_JOSE)) == NA); // → continent
    f.health({"eu", "ap"});
    auto d = f.ask(SAN_JOSE);
    CHECK(first(d) == EU); // → default "*"
    CHECK_FALSE(d.failed_open);
    // None of the client's records is healthy (ap is, but it is no record for North America): Route53 answers the
    // record that matched anyway (fails open), never another area's record.
    f.health({"ap"});
    auto open = f.ask(SAN_JOSE);
    CHECK(first(open) == SJ);
    CHECK(open.rr_count == 1);
    CHECK(open.failed_open);
    CHECK(f.ask("10.3.0.1").failed_open); // Ashburn: us, na, eu all down → its most specific, us
    CHECK(first(f.ask("10.3.0.1")) == US);
    CHECK(first(f.ask("10.6.0.1")) == EU);          // Singapore: only the default, down → the default
    CHECK(f.b->steering->failed_open_total() == 4); // counted per answer
    // Back up in reverse: the most specific healthy record wins again.
    f.health({"na", "ap"});
    CHECK(first(f.ask(SAN_JOSE)) == NA);
    CHECK_FALSE(f.ask(SAN_JOSE).failed_open);
    f.health({"sj", "us", "na", "eu", "ap"});
    CHECK(first(f.ask(SAN_JOSE)) == SJ);
}

TEST_CASE("geolocation health: the log names the name, the client location and the candidates that failed, once",
          "[dns][geo][policy][health]") {
    // The issue's case: the matched member and the default are one edge (us), down; other edges are healthy.
    Fixture f(R"(
[[steer]]
name = "www.example.test."
policy = "geolocation"
members = ["us", "eu"]
locations = { us = ["continent:NA"], eu = ["continent:EU"] }
default = "us"
)");
    CapturedLog log;
    f.health({"eu", "ap"});
    auto a = f.ask("10.3.0.1"); // Ashburn
    CHECK(first(a) == US);      // fails open to its record; eu answers Europe only
    CHECK(a.failed_open);
    CHECK(first(f.ask("10.1.0.1")) == EU); // Frankfurt, unaffected
    std::string t = log.text();
    INFO(t);
    CHECK(log.count("steer www.example.test. A: location NA: edge us unhealthy: failing open to us") == 1);
    // The default's clients (Asia, Oceania, unknown... answered alike) have their own line.
    CHECK(log.count("steer www.example.test. A: location *: edge us unhealthy: failing open to us") == 1);
    CHECK(t.find("every edge") == std::string::npos);
    CHECK(t.find("location EU") == std::string::npos); // Europe is answered normally: nothing to say
    CHECK(t.find(" warn ") != std::string::npos);

    // The same health again (a periodic check): nothing new. A change is said once.
    f.health({"eu", "ap"});
    CHECK(log.count("failing open") == 2);
    f.health({"us", "eu", "ap"});
    CHECK(log.count("steer www.example.test. A: location NA: candidates healthy again") == 1);
    CHECK(log.count("candidates healthy again") == 2);

    // A fallback that works is said too (info), naming the skipped candidate and the answer: Europe's record is
    // down, the next less specific one, the default, answers.
    f.health({"us", "ap"});
    CHECK(first(f.ask("10.1.0.1")) == US);
    CHECK_FALSE(f.ask("10.1.0.1").failed_open);
    CHECK(log.count("steer www.example.test. A: location EU: edge eu unhealthy: answering us") == 1);

    // A reload builds a new Steering: carrying the log state over, it says nothing already said.
    auto again = geo_test::build(f.dir, std::string("[geo]\ndatabase = \"cities.mmdb\"\n") + kEdges + R"(
[[steer]]
name = "www.example.test."
policy = "geolocation"
members = ["us", "eu"]
locations = { us = ["continent:NA"], eu = ["continent:EU"] }
default = "us"
)");
    REQUIRE(again->steering);
    again->steering->carry_log_state(*f.b->steering);
    dns::geo::HealthVector h;
    for (auto& n : again->steering->edge_names())
        h.push_back(n == "us" || n == "ap");
    again->steering->set_health(h, 0);
    CHECK(log.count("location EU: edge eu unhealthy: answering us") == 1);
    CHECK(log.count("candidates healthy again") == 2);
    // ...and says what changed since.
    h.assign(h.size(), 1);
    again->steering->set_health(h, 0);
    CHECK(log.count("steer www.example.test. A: location EU: candidates healthy again") == 1);
}

TEST_CASE("geolocation health: a fallback that answers names what was skipped and what answers",
          "[dns][geo][policy][health]") {
    Fixture f(R"(
[[steer]]
name = "www.example.test."
policy = "geolocation"
members = ["us"]
locations = { us = ["US"] }
default = "eu"
)");
    CapturedLog log;
    f.health({"eu", "ap"});
    CHECK(first(f.ask("10.3.0.1")) == EU);
    CHECK_FALSE(f.ask("10.3.0.1").failed_open);
    INFO(log.text());
    CHECK(log.count("steer www.example.test. A: location NA/US: edge us unhealthy: answering eu") == 1);
    CHECK(log.count(" info geo ") >= 1);
}

TEST_CASE("failover: primary while healthy, then secondary, then back", "[dns][geo][policy]") {
    Fixture f(R"(
[[steer]]
name = "www.example.test."
policy = "failover"
members = ["us", "eu"]
)");
    auto a = f.ask("10.6.0.1");
    CHECK(first(a) == US);
    CHECK(a.scope_prefix == 0); // does not depend on the client's location
    f.health({"eu", "ap"});
    CHECK(first(f.ask("10.6.0.1")) == EU);
    f.health({"ap"});
    auto open = f.ask("10.6.0.1");
    CHECK(first(open) == US); // both down: fail open, the primary
    CHECK(open.failed_open);
    f.health({"us", "eu", "ap"});
    CHECK(first(f.ask("10.6.0.1")) == US);
}

TEST_CASE("weighted: spread within 3% of the weights over 10,000 decisions", "[dns][geo][policy]") {
    Fixture f(R"(
[[steer]]
name = "www.example.test."
policy = "weighted"
members = ["eu", "us", "ap"]
weights = { eu = 60, us = 30, ap = 10 }
)");
    std::map<std::string, int> n;
    for (int i = 0; i < 10000; ++i)
        ++n[first(f.ask("10.1.0.1"))];
    CHECK(std::abs(n[EU] - 6000) < 300);
    CHECK(std::abs(n[US] - 3000) < 300);
    CHECK(std::abs(n[AP] - 1000) < 300);

    f.health({"us", "ap"});
    n.clear();
    for (int i = 0; i < 10000; ++i)
        ++n[first(f.ask("10.1.0.1"))];
    CHECK(n[EU] == 0);
    CHECK(std::abs(n[US] - 7500) < 300); // 30:10 renormalised
}

TEST_CASE("weighted: weight 0 answers only when every non-zero member is down - all zero = equal",
          "[dns][geo][policy]") {
    Fixture f(R"(
[[steer]]
name = "www.example.test."
policy = "weighted"
members = ["eu", "us"]
weights = { eu = 5, us = 0 }
)");
    for (int i = 0; i < 1000; ++i)
        REQUIRE(first(f.ask("10.1.0.1")) == EU);
    f.health({"us"});
    CHECK(first(f.ask("10.1.0.1")) == US);

    Fixture z(R"(
[[steer]]
name = "www.example.test."
policy = "weighted"
members = ["eu", "us"]
weights = { eu = 0, us = 0 }
)");
    std::map<std::string, int> n;
    for (int i = 0; i < 10000; ++i)
        ++n[first(z.ask("10.1.0.1"))];
    CHECK(std::abs(n[EU] - 5000) < 300);
    CHECK(std::abs(n[US] - 5000) < 300);
}

TEST_CASE("multivalue: up to 8 healthy records, rotated", "[dns][geo][policy]") {
    std::string many;
    std::string members = "members = [";
    for (int i = 1; i <= 10; ++i) {
        many += "[[edge]]\nname = \"m" + std::to_string(i) + "\"\nipv4 = \"10.99.0." + std::to_string(i) +
                "\"\nhealth = { type = \"tcp\", port = 80 }\n";
        members += std::string(i > 1 ? ", " : "") + "\"m" + std::to_string(i) + "\"";
    }
    members += "]\n";
    Fixture f("[[steer]]\nname = \"www.example.test.\"\npolicy = \"multivalue\"\n" + members, many);
    std::set<std::string> firsts;
    std::map<std::string, int> seen;
    for (int i = 0; i < 2000; ++i) {
        auto a = f.ask("10.1.0.1");
        REQUIRE(a.rr_count == 8);
        auto addrs = geo_test::addresses(a);
        REQUIRE(std::set<std::string>(addrs.begin(), addrs.end()).size() == 8); // no duplicates
        firsts.insert(addrs[0]);
        for (auto& x : addrs)
            ++seen[x];
    }
    CHECK(firsts.size() == 10); // every record leads some answers
    CHECK(seen.size() == 10);   // every healthy record is answered
    for (auto& [addr, count] : seen)
        CHECK(std::abs(count - 1600) < 200);

    dns::geo::HealthVector h(f.b->steering->edge_names().size(), 1);
    for (size_t i = 0; i < h.size(); ++i)
        if (f.b->steering->edge_names()[i] == "m1" || f.b->steering->edge_names()[i] == "m2" ||
            f.b->steering->edge_names()[i] == "m3" || f.b->steering->edge_names()[i] == "m4")
            h[i] = 0;
    f.b->steering->set_health(h, 0);
    for (int i = 0; i < 200; ++i) {
        auto addrs = geo_test::addresses(f.ask("10.1.0.1"));
        REQUIRE(addrs.size() == 6);
        for (auto& x : addrs)
            REQUIRE((x != "10.99.0.1" && x != "10.99.0.2" && x != "10.99.0.3" && x != "10.99.0.4"));
    }
}

TEST_CASE("simple: all members answered", "[dns][geo][policy]") {
    Fixture f(R"(
[[steer]]
name = "www.example.test."
policy = "simple"
members = ["eu", "us"]
)");
    auto a = f.ask("10.1.0.1");
    CHECK(a.rr_count == 2);
    CHECK(a.scope_prefix == 0);
}

TEST_CASE("latency: lowest measured latency for the client's region wins", "[dns][geo][policy]") {
    Fixture f(R"(
[[steer]]
name = "www.example.test."
policy = "latency"
default = "us"
[[steer.latency]]
from = ["continent:EU", "continent:AF"]
eu = 20
us = 90
ap = 170
[[steer.latency]]
from = ["JP"]
eu = 230
us = 150
ap = 70
[[steer.latency]]
from = ["US-CA"]
eu = 140
us = 60
ap = 50
)");
    CHECK(first(f.ask("10.2.0.1")) == EU);
    CHECK(first(f.ask("10.9.0.1")) == EU); // Johannesburg: AF row
    CHECK(first(f.ask("10.7.0.1")) == AP); // Tokyo: country row
    CHECK(first(f.ask("10.4.0.1")) == AP); // San Jose: subdivision row
    CHECK(first(f.ask("10.3.0.1")) == US); // no row → default
    f.health({"us", "ap"});
    CHECK(first(f.ask("10.2.0.1")) == US); // next lowest
}

TEST_CASE("ip_based: CIDR collection locations → edges, default otherwise", "[dns][geo][policy]") {
    Fixture f(R"(
[[steer]]
name = "www.example.test."
type = ["A", "AAAA"]
policy = "ip_based"
default = "us"
cidr = { eu = ["office-fra"], ap = ["office-sg", "v6-lab"] }
)",
              "cidr_file = \"clients.cidr\"\n",
              {{"clients.cidr", "10.1.0.0/16 office-fra\n10.6.7.0/24 office-sg\n2001:db8:aa::/48 v6-lab\n"
                                "10.3.0.0/16 unmapped-name\n"}});
    CHECK(first(f.ask("10.1.9.9")) == EU);
    CHECK(first(f.ask("10.6.7.1")) == AP);
    CHECK(first(f.ask("10.6.8.1")) == US); // Singapore but not in the collection → default
    CHECK(first(f.ask("10.3.0.1")) == US);
    CHECK(first(f.ask("2001:db8:aa::1", -1, 28)) == "2001:db8:e1::10"); // ap has no IPv6: the default answers AAAA
    CHECK(first(f.ask("2001:db8:aa::1")) == AP);                        // A for an IPv6 client
    CHECK(first(f.ask("2001:db8:bb::1", -1, 28)) == "2001:db8:e1::10");
    CHECK(f.ask("10.6.7.1").scope_prefix == 24);
}

TEST_CASE("composition: geoproximity across weighted pools", "[dns][geo][policy]") {
    Fixture f(R"(
[[edge]]
name = "eu2"
ipv4 = "192.0.2.11"
latitude = 48.86
longitude = 2.35
[[pool]]
name = "europe"
policy = "weighted"
members = ["eu", "eu2"]
weights = { eu = 1, eu2 = 3 }
[[pool]]
name = "america"
policy = "failover"
members = ["us", "eu"]
[[steer]]
name = "www.example.test."
policy = "geoproximity"
members = ["europe", "america", "ap"]
)");
    std::map<std::string, int> n;
    for (int i = 0; i < 10000; ++i)
        ++n[first(f.ask("10.1.0.1"))];
    CHECK(std::abs(n[EU] - 2500) < 300);
    CHECK(std::abs(n["192.0.2.11"] - 7500) < 300);
    CHECK(first(f.ask("10.3.0.1")) == US);
    f.health({"eu", "ap"}); // us down: america fails over to eu
    CHECK(first(f.ask("10.3.0.1")) == EU);
    f.health({"ap"}); // eu and us down: europe still has eu2 (no check = always healthy)
    for (int i = 0; i < 100; ++i)
        REQUIRE(first(f.ask("10.1.0.1")) == "192.0.2.11");
    CHECK(first(f.ask("10.3.0.1")) == "192.0.2.11"); // america empty → next nearest pool
}

TEST_CASE("answers are counted by edge, every edge a multivalue answer names (the console)", "[dns][geo][console]") {
    std::string many;
    std::string members = "members = [";
    for (int i = 1; i <= 10; ++i) {
        many += "[[edge]]\nname = \"m" + std::to_string(i) + "\"\nipv4 = \"10.99.0." + std::to_string(i) + "\"\n";
        members += std::string(i > 1 ? ", " : "") + "\"m" + std::to_string(i) + "\"";
    }
    members += "]\n";
    Fixture f("[[steer]]\nname = \"www.example.test.\"\npolicy = \"multivalue\"\n" + members +
                  "[[steer]]\nname = \"w.example.test.\"\npolicy = \"weighted\"\nmembers = [\"eu\", \"us\"]\n",
              many);
    std::map<std::string, uint64_t> seen;
    for (int i = 0; i < 500; ++i)
        for (auto& x : geo_test::addresses(f.ask("10.1.0.1")))
            ++seen[x];
    const auto& names = f.b->steering->edge_names();
    std::vector<uint64_t> by_edge = f.b->steering->answers_by_edge();
    REQUIRE(by_edge.size() == names.size());
    REQUIRE(names.size() > 10); // more than one line of counters per worker
    uint64_t total = 0;
    for (size_t e = 0; e < names.size(); ++e) {
        total += by_edge[e];
        if (names[e][0] == 'm') CHECK(by_edge[e] == seen["10.99.0." + names[e].substr(1)]);
    }
    CHECK(total == 500 * 8);
    CHECK(f.b->steering->answers_total() == 500);
    // A traced answer (explain) is not counted.
    dns::geo::AnswerTrace t;
    f.b->steering->answer(*f.name, 1, client("10.1.0.1"), 0, &t);
    CHECK(f.b->steering->answers_by_edge() == by_edge);
}
