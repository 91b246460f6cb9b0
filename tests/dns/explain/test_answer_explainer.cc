// meridian-dns explain through the whole engine: the config loaded as the daemon loads it, the query answered by
// the query engine, the steering part explained from the trace; and the operator's input checked.
#include <catch2/catch.hpp>

#include <algorithm>

#include "dns/dns_app.h"
#include "dns/explain/answer_explainer.h"
#include "dns/geo/geo_fixture.h"
#include "shared/json/json_value.h"

namespace {

struct App {
    geo_test::TempDir dir;
    dns::DnsApp app;
    App() {
        REQUIRE_FALSE(geo_test::make_test_mmdb(dir).empty());
        dir.write("example.test.zone", "$ORIGIN example.test.\n$TTL 3600\n@ IN SOA ns1 host 1 3600 600 86400 300\n"
                                       "@ IN NS ns1\nns1 IN A 127.0.0.1\nstatic IN A 192.0.2.99\n");
        std::string conf = dir.write("dns.toml", R"(
listen = "127.0.0.1:0"
[[zone]]
name = "example.test."
file = "example.test.zone"
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
latitude = 38.95
longitude = -77.45
[[steer]]
name = "www.example.test."
policy = "geoproximity"
members = ["eu", "us"]
default = "us"
)");
        shared::ConfigDiagnostics diags;
        bool ok = app.load(conf, diags);
        INFO(diags.to_string());
        REQUIRE(ok);
    }
    dns::Explanation explain(const char* name, const char* type, const char* client, const char* ecs) {
        dns::ExplainQuery q;
        std::string err;
        REQUIRE(dns::parse_explain_query(name, type, client, ecs, &q, &err));
        return app.explain(q);
    }
};

} // namespace

TEST_CASE("explain_query: the engine's answer and the steering explanation agree", "[dns][explain]") {
    App a;
    auto e = a.explain("www.example.test", "A", "203.0.113.5", "10.1.2.0/24");
    CHECK(e.rcode == "NOERROR");
    CHECK(e.authoritative);
    CHECK(e.zone == "example.test.");
    CHECK(e.answer_addresses == std::vector<std::string>{"192.0.2.10"});
    CHECK(e.ecs_scope > 0);
    REQUIRE(e.steered);
    CHECK(e.steering.answer == std::vector<std::string>{"eu"});
    CHECK(static_cast<int>(e.steering.scope) == e.ecs_scope);
    CHECK_FALSE(e.health_live); // not started: every edge taken as healthy

    // No ECS: the resolver's address decides, and no ECS option comes back.
    auto r = a.explain("www.example.test", "A", "10.3.0.1", "");
    CHECK(r.answer_addresses == std::vector<std::string>{"198.51.100.10"});
    CHECK(r.ecs_scope == -1);
    CHECK(r.steering.looked_up == "10.3.0.0/24");

    // ECS /0: not located by subnet; scope 0 echoed.
    auto z = a.explain("www.example.test", "A", "10.1.0.1", "0.0.0.0/0");
    CHECK(z.ecs_scope == 0);

    // Names that are not steered say so, and still show the zone's answer.
    auto s = a.explain("static.example.test", "A", "10.1.0.1", "");
    CHECK_FALSE(s.steered);
    CHECK(s.answer_addresses == std::vector<std::string>{"192.0.2.99"});
    CHECK(a.explain("nope.example.test", "A", "10.1.0.1", "").rcode == "NXDOMAIN");
    CHECK(a.explain("www.other.test", "A", "10.1.0.1", "").rcode == "REFUSED");

    // Both output forms carry the decision.
    std::string text = dns::explanation_text(e), json = dns::explanation_json(e);
    CHECK(text.find("geoproximity") != std::string::npos);
    CHECK(text.find("fail-open: no") != std::string::npos);
    CHECK(json.find("\"answered\":[\"eu\"]") != std::string::npos);
    shared::JsonValue v;
    std::string err;
    CHECK(shared::parse_json(json, &v, &err));
    INFO(err);
}

TEST_CASE("parse_explain_query: bad input gets a clear error", "[dns][explain]") {
    dns::ExplainQuery q;
    std::string err;
    CHECK_FALSE(dns::parse_explain_query("", "A", "10.0.0.1", "", &q, &err));
    CHECK_FALSE(dns::parse_explain_query("www.example.test", "NOPE", "10.0.0.1", "", &q, &err));
    CHECK(err.find("NOPE") != std::string::npos);
    CHECK_FALSE(dns::parse_explain_query("www.example.test", "A", "not-an-ip", "", &q, &err));
    CHECK_FALSE(dns::parse_explain_query("www.example.test", "A", "10.0.0.1", "10.0.0.0/33", &q, &err));
    CHECK_FALSE(dns::parse_explain_query("www.example.test", "A", "10.0.0.1", "10.0.0.0/x", &q, &err));
    REQUIRE(dns::parse_explain_query("www.example.test", "aaaa", "2001:db8::1", "198.51.100.77/24", &q, &err));
    CHECK(q.qtype == 28);
    CHECK(q.ecs_source == 24);
    CHECK(q.ecs_address[3] == 0); // host bits cleared
    REQUIRE(dns::parse_explain_query("www.example.test", "A", "10.0.0.1", "2001:db8::/32", &q, &err));
    CHECK(q.ecs_family == 2);
}
