// HTTPS health checks through shared/http/http_client.h against an in-process TLS server with a self-signed
// certificate: verification on → the edge is unhealthy; off → healthy, with SNI and Host = the check's host.
#include <catch2/catch.hpp>

#include "dns/geo/geo_fixture.h"
#include "dns/health/health_checker.h"
#include "shared/loop/worker.h"
#include "shared/tls/tls_test_server.h"

TEST_CASE("health checker: HTTPS check verifies the certificate unless told not to", "[dns][health][tls]") {
    REQUIRE(tls_test::test_cert().ok);
    tls_test::Seen seen;
    tls_test::TlsServer server("HTTP/1.1 200 OK\r\nContent-Length: 8\r\nConnection: close\r\n\r\nhealthy\n", &seen);
    uv_loop_t loop;
    uv_loop_init(&loop);
    geo_test::TempDir dir;
    std::string port = std::to_string(server.port());
    std::string toml = R"(
[[edge]]
name = "lenient"
ipv4 = "192.0.2.1"
health = { type = "https", host = "localhost", address = "127.0.0.1", port = )" +
                       port + R"(, path = "/hc", verify_tls = false, body_contains = "healthy", interval = "2s", timeout = "2s" }
[[edge]]
name = "strict"
ipv4 = "192.0.2.2"
health = { type = "https", host = "localhost", address = "127.0.0.1", port = )" +
                       port + R"(, path = "/hc", interval = "2s", timeout = "2s" }
[[steer]]
name = "www.example.test."
policy = "multivalue"
members = ["lenient", "strict"]
)";
    auto b = geo_test::build(dir, toml);
    INFO(b->diags.to_string());
    REQUIRE(b->steering);
    {
        dns::health::HealthChecker checker(&loop, nullptr, 0);
        checker.watch(*b->steering);
        CHECK(checker.state("lenient") == 1);
        CHECK(checker.state("strict") == 0); // self-signed: not trusted by the system store
        {
            std::lock_guard<std::mutex> lk(seen.mu);
            CHECK(seen.sni == "localhost");
            CHECK(seen.request.rfind("GET /hc HTTP/1.1\r\n", 0) == 0);
            CHECK(seen.request.find("\r\nHost: localhost") != std::string::npos);
        }
        const auto* n = b->steering->find(geo_test::wire("www.example.test."));
        REQUIRE(n);
        CHECK(geo_test::addresses(b->steering->answer(*n, 1, geo_test::client("10.0.0.1"), 0)) ==
              std::vector<std::string>{"192.0.2.1"});
        checker.close();
    }
    REQUIRE(shared::close_loop(&loop) == 0);
}
