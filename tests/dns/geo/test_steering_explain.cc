// Steering::answer() with a trace and Steering::explain(): the explanation describes the very decision answer()
// made (same class, option and rotation), for every policy, under health changes and when failing open.
#include <catch2/catch.hpp>

#include <algorithm>
#include <map>
#include <set>

#include "dns/geo/geo_fixture.h"
#include "dns/geo/steering_config.h"

using geo_test::addresses;
using geo_test::client;

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
latitude = 38.95
longitude = -77.45
health = { type = "tcp", port = 80 }
[[edge]]
name = "ap"
ipv4 = "203.0.113.10"
latitude = 1.35
longitude = 103.82
)";

struct Fixture {
    geo_test::TempDir dir;
    std::unique_ptr<geo_test::Built> b;
    const dns::geo::SteeredName* name = nullptr;

    explicit Fixture(const std::string& steer) {
        std::string mmdb = geo_test::make_test_mmdb(dir);
        REQUIRE_FALSE(mmdb.empty());
        dir.write("clients.cidr", "10.200.1.0/24 office-eu\n");
        b = geo_test::build(dir, "[geo]\ndatabase = \"cities.mmdb\"\ncidr_file = \"clients.cidr\"\n" +
                                     std::string(kEdges) + steer);
        INFO(b->diags.to_string());
        REQUIRE(b->steering);
        name = b->steering->find(geo_test::wire("www.example.test."));
        REQUIRE(name);
    }
    void health(std::set<std::string> up) {
        dns::geo::HealthVector h;
        for (auto& n : b->steering->edge_names())
            h.push_back(up.count(n) ? 1 : 0);
        b->steering->set_health(h, 0);
    }
};

const std::map<std::string, std::string> kAddr = {
    {"eu", "192.0.2.10"}, {"us", "198.51.100.10"}, {"ap", "203.0.113.10"}};

std::vector<std::string> edge_addresses(const std::vector<std::string>& edges) {
    std::vector<std::string> out;
    for (auto& e : edges)
        out.push_back(kAddr.at(e));
    return out;
}

// Asks with a trace and checks the explanation against what was answered; returns the explanation.
dns::geo::SteeringExplanation traced(Fixture& f, const std::string& ip, int prefix, uint64_t seed = 7) {
    dns::geo::AnswerTrace t;
    t.seed = seed;
    dns::geo::Answer a = f.b->steering->answer(*f.name, 1, client(ip, prefix), 0, &t);
    REQUIRE(t.traced);
    dns::geo::SteeringExplanation e = f.b->steering->explain(t);
    INFO("client " << ip << "/" << prefix);
    CHECK(e.scope == a.scope_prefix);
    CHECK(e.failed_open == a.failed_open);
    CHECK(e.nodata == a.nodata);
    if (!a.nodata) {
        CHECK(edge_addresses(e.answer) == addresses(a)); // same records, same order
        size_t chosen =
            static_cast<size_t>(std::count_if(e.options.begin(), e.options.end(), [](auto& o) { return o.chosen; }));
        CHECK(chosen == 1);
        double total = 0;
        for (auto& o : e.options)
            total += o.probability;
        CHECK(total == Approx(1.0));
    }
    return e;
}

const char* kClients[] = {"10.1.2.3",         "10.1.200.3",     "10.2.0.1",  "10.3.0.1",      "10.4.0.1",
                          "10.5.0.1",         "10.6.0.1",       "10.7.0.1",  "10.8.0.1",      "10.9.0.1",
                          "10.10.0.1",        "10.200.1.7",     "192.0.2.1", "2001:db8:1::1", "2001:db8:6::1",
                          "2001:db8:ffff::1", "::ffff:10.3.0.1"};

} // namespace

TEST_CASE("explain: every policy, many clients: the explanation is the answer given", "[dns][geo][explain]") {
    const char* policies[] = {
        "policy = \"geoproximity\"\nmembers = [\"eu\", \"us\", \"ap\"]\ndefault = \"us\"\n",
        "policy = \"geolocation\"\nmembers = [\"eu\", \"us\", \"ap\"]\n"
        "locations = { eu = [\"continent:EU\"], us = [\"US\"], ap = [\"continent:AS\"] }\ndefault = \"us\"\n",
        "policy = \"failover\"\nmembers = [\"us\", \"eu\"]\n",
        "policy = \"weighted\"\nmembers = [\"eu\", \"us\", \"ap\"]\nweights = { eu = 1, us = 2, ap = 0 }\n",
        "policy = \"multivalue\"\n",
        "policy = \"ip_based\"\ndefault = \"us\"\ncidr = { eu = [\"office-eu\"] }\n",
    };
    for (const char* p : policies) {
        Fixture f(std::string("[[steer]]\nname = \"www.example.test.\"\nttl = 60\n") + p);
        INFO(p);
        for (const char* ip : kClients)
            for (int prefix : {-1, 24, 16, 8})
                for (uint64_t seed : {1ull, 99ull, 12345ull})
                    traced(f, ip, prefix, seed);
        f.health({"eu"}); // us down (ap has no check: always healthy)
        for (const char* ip : kClients)
            traced(f, ip, 24);
        f.health({});
        for (const char* ip : kClients)
            traced(f, ip, 24);
    }
}

TEST_CASE("explain: a traced answer leaves the workers' counters alone", "[dns][geo][explain]") {
    Fixture f("[[steer]]\nname = \"www.example.test.\"\npolicy = \"failover\"\nmembers = [\"us\", \"eu\"]\n");
    f.health({});
    uint64_t answers = f.b->steering->answers_total(), open = f.b->steering->failed_open_total();
    dns::geo::AnswerTrace t;
    auto a = f.b->steering->answer(*f.name, 1, client("10.3.0.1"), 0, &t);
    CHECK(a.failed_open);
    CHECK(f.b->steering->answers_total() == answers);
    CHECK(f.b->steering->failed_open_total() == open);
    f.b->steering->answer(*f.name, 1, client("10.3.0.1"), 0);
    CHECK(f.b->steering->answers_total() == answers + 1);
}

TEST_CASE("explain: location found, geoproximity distances and the rule", "[dns][geo][explain]") {
    Fixture f("[[steer]]\nname = \"www.example.test.\"\npolicy = \"geoproximity\"\nmembers = [\"eu\", \"us\", "
              "\"ap\"]\nbias = { us = 50 }\n");
    auto e = traced(f, "10.1.2.3", 24);
    CHECK(e.policy == "geoproximity");
    CHECK(e.uses_location);
    CHECK(e.looked_up == "10.1.2.0/24");
    CHECK(e.location_known);
    CHECK(e.location.country == "DE");
    CHECK(e.location.subdivision == "DE-HE");
    CHECK(e.location_network == "10.1.0.0/17"); // Frankfurt's /16 minus Paris's /17
    CHECK(e.database.find("cities.mmdb") != std::string::npos);
    REQUIRE(e.walk.size() == 1);
    const auto& c = e.walk[0].candidates;
    REQUIRE(c.size() == 3);
    CHECK(c[0].name == "eu");
    CHECK(c[0].outcome == "answered");
    CHECK(c[0].rank == 0);
    CHECK(c[0].distance_km < 1);
    CHECK(c[1].bias == 50);
    CHECK(c[1].biased_km == Approx(c[1].distance_km * 0.5));
    CHECK(c[1].outcome == "not tried");
    CHECK(e.answer == std::vector<std::string>{"eu"});
    CHECK(e.class_network.substr(0, 5) == "10.0.");

    // Outside the data: unknown, the default order.
    auto u = traced(f, "192.0.2.1", 24);
    CHECK_FALSE(u.location_known);
    CHECK(u.walk[0].rule.find("default") != std::string::npos);

    // A /32 source is cut to /24 before use (RFC 7871 §11.1).
    auto full = traced(f, "10.1.2.3", 32);
    CHECK(full.capped);
    CHECK(full.looked_up == "10.1.2.0/24");
}

TEST_CASE("explain: failover under health changes, then failing open", "[dns][geo][explain]") {
    Fixture f("[[steer]]\nname = \"www.example.test.\"\npolicy = \"failover\"\nmembers = [\"us\", \"eu\"]\n");
    auto e = traced(f, "10.3.0.1", 24);
    CHECK_FALSE(e.uses_location);
    CHECK(e.scope == 0);
    CHECK(e.walk[0].candidates[0].outcome == "answered");
    CHECK(e.walk[0].candidates[1].outcome == "not tried");

    f.health({"eu"});
    e = traced(f, "10.3.0.1", 24);
    CHECK(e.walk[0].candidates[0].outcome == "unavailable");
    CHECK_FALSE(e.walk[0].candidates[0].healthy);
    CHECK(e.walk[0].candidates[0].has_check);
    CHECK(e.walk[0].candidates[1].outcome == "answered");
    CHECK(e.answer == std::vector<std::string>{"eu"});
    CHECK_FALSE(e.failed_open);

    f.health({});
    e = traced(f, "10.3.0.1", 24);
    CHECK(e.failed_open);
    REQUIRE(e.walk.size() == 2); // the normal pass, then the fail-open pass
    CHECK_FALSE(e.walk[0].fail_open_pass);
    CHECK(e.walk[0].candidates[0].outcome == "unavailable");
    CHECK(e.walk[1].fail_open_pass);
    CHECK(e.walk[1].candidates[0].outcome == "answered");
    CHECK(e.answer == std::vector<std::string>{"us"});
}

TEST_CASE("explain: weighted options with their probabilities", "[dns][geo][explain]") {
    Fixture f("[[steer]]\nname = \"www.example.test.\"\npolicy = \"weighted\"\nmembers = [\"eu\", \"us\", \"ap\"]\n"
              "weights = { eu = 1, us = 3, ap = 0 }\n");
    auto e = traced(f, "10.3.0.1", 24);
    REQUIRE(e.options.size() == 2);
    CHECK(e.options[0].edges == std::vector<std::string>{"eu"});
    CHECK(e.options[0].probability == Approx(0.25));
    CHECK(e.options[1].probability == Approx(0.75));
    CHECK(e.walk[0].candidates[0].weight == 1);
    CHECK(e.walk[0].candidates[2].outcome == "not tried"); // weight 0: only when the others are unavailable
    // Different seeds draw both options, and each explanation names the one drawn.
    std::set<std::string> drawn;
    for (uint64_t seed = 1; seed < 64; ++seed)
        drawn.insert(traced(f, "10.3.0.1", 24, seed).answer.at(0));
    CHECK(drawn == std::set<std::string>{"eu", "us"});
    f.health({}); // eu and us down: the weight-0 member answers
    e = traced(f, "10.3.0.1", 24);
    CHECK(e.answer == std::vector<std::string>{"ap"});
    CHECK(e.walk[0].candidates[2].outcome == "answered");
}

TEST_CASE("explain: geolocation and latency rules", "[dns][geo][explain]") {
    Fixture g("[[steer]]\nname = \"www.example.test.\"\npolicy = \"geolocation\"\nmembers = [\"eu\", \"us\"]\n"
              "locations = { eu = [\"DE\"], us = [\"continent:NA\"] }\ndefault = \"us\"\n");
    CHECK(traced(g, "10.1.2.3", 24).walk[0].rule == "country DE");
    CHECK(traced(g, "10.3.0.1", 24).walk[0].rule == "continent NA");
    auto d = traced(g, "10.7.0.1", 24);
    CHECK(d.walk[0].rule.rfind("default", 0) == 0);
    CHECK(d.answer == std::vector<std::string>{"us"});
    CHECK(d.walk[0].candidates[0].outcome == "not ranked");
}
