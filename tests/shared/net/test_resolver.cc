#include <catch2/catch.hpp>

#include "shared/http/upstream_test_support.h"
#include "shared/net/fake_dns.h"
#include "shared/net/resolver.h"

#include <ares.h>

#include <optional>

using namespace upstream_test;
using upstream_test::FakeDns;

namespace {

struct Result {
    bool done = false;
    int status = -1;
    std::vector<shared::SocketAddress> addrs;
};

shared::Resolver::Callback into(Result& r) {
    return [&r](int status, const std::vector<shared::SocketAddress>& addrs) {
        r.done = true;
        r.status = status;
        r.addrs = addrs;
    };
}

shared::ResolverOptions fast_options(const std::string& servers) {
    shared::ResolverOptions o;
    o.servers = servers;
    o.query_timeout_ms = 200;
    o.tries = 1;
    return o;
}

} // namespace

TEST_CASE("resolver: IP literals resolve synchronously without c-ares", "[shared][net][resolver]") {
    uv_loop_t loop;
    uv_loop_init(&loop);
    {
        shared::Resolver res(&loop);
        REQUIRE(res.ok());
        Result r4, r6, rb, wrong;
        CHECK(res.resolve("192.0.2.7", 8080, AF_UNSPEC, into(r4)) == 0);
        REQUIRE(r4.done);
        CHECK(r4.status == 0);
        REQUIRE(r4.addrs.size() == 1);
        CHECK(r4.addrs[0].to_string() == "192.0.2.7:8080");
        CHECK(res.resolve("2001:db8::1", 443, AF_UNSPEC, into(r6)) == 0);
        REQUIRE(r6.addrs.size() == 1);
        CHECK(r6.addrs[0].to_string() == "[2001:db8::1]:443");
        CHECK(res.resolve("[::1]", 80, AF_UNSPEC, into(rb)) == 0);
        REQUIRE(rb.addrs.size() == 1);
        CHECK(rb.addrs[0].family() == AF_INET6);
        res.resolve("::1", 80, AF_INET, into(wrong));
        CHECK(wrong.done);
        CHECK(wrong.status != 0);
        CHECK_FALSE(shared::Resolver::parse_numeric("example.test", 1));
        CHECK_FALSE(shared::Resolver::parse_numeric("1.2.3", 1));
    }
    REQUIRE(finish_loop(&loop) == 0);
}

TEST_CASE("resolver: localhost comes from /etc/hosts and is then cached", "[shared][net][resolver]") {
    uv_loop_t loop;
    uv_loop_init(&loop);
    {
        FakeDns dns(60, /*silent=*/true);  // DNS would time out: only the hosts file can answer quickly
        shared::Resolver res(&loop, fast_options(dns.servers()));
        Result r;
        res.resolve("localhost", 9000, AF_INET, into(r));
        run_until(&loop, [&] { return r.done; }, 3000);
        REQUIRE(r.done);
        CHECK(r.status == 0);
        REQUIRE_FALSE(r.addrs.empty());
        CHECK(r.addrs[0].to_string() == "127.0.0.1:9000");
        Result again;
        CHECK(res.resolve("LocalHost", 9001, AF_INET, into(again)) == 0);  // cache hit, case-insensitive
        REQUIRE(again.done);
        CHECK(again.addrs[0].to_string() == "127.0.0.1:9001");
    }
    REQUIRE(finish_loop(&loop) == 0);
}

TEST_CASE("resolver: DNS answers are cached for their TTL, lookups coalesce", "[shared][net][resolver]") {
    uv_loop_t loop;
    uv_loop_init(&loop);
    {
        FakeDns dns(1);
        auto o = fast_options(dns.servers());
        o.min_ttl_ms = 0;
        shared::Resolver res(&loop, o);
        Result a, b;
        CHECK(res.resolve("a.test", 80, AF_INET, into(a)) != 0);  // asynchronous: a real query
        res.resolve("a.test", 81, AF_INET, into(b));
        run_until(&loop, [&] { return a.done && b.done; }, 3000);
        REQUIRE(a.done);
        REQUIRE(b.done);
        CHECK(a.status == 0);
        REQUIRE(a.addrs.size() == 1);
        CHECK(a.addrs[0].to_string() == "127.0.0.2:80");
        CHECK(b.addrs[0].to_string() == "127.0.0.2:81");
        CHECK(dns.a_queries() == 1);

        Result c;
        CHECK(res.resolve("a.test", 80, AF_INET, into(c)) == 0);
        CHECK(c.done);
        CHECK(dns.a_queries() == 1);

        run_for(&loop, 1100);  // the 1 s TTL runs out
        Result d;
        res.resolve("a.test", 80, AF_INET, into(d));
        run_until(&loop, [&] { return d.done; }, 3000);
        CHECK(d.status == 0);
        CHECK(dns.a_queries() == 2);
    }
    REQUIRE(finish_loop(&loop) == 0);
}

TEST_CASE("resolver: IPv4 and IPv6 answers, IPv4 first", "[shared][net][resolver]") {
    uv_loop_t loop;
    uv_loop_init(&loop);
    {
        FakeDns dns(60);
        shared::Resolver res(&loop, fast_options(dns.servers()));
        Result both, v6;
        res.resolve("a.test", 443, AF_UNSPEC, into(both));
        res.resolve("a.test", 443, AF_INET6, into(v6));
        run_until(&loop, [&] { return both.done && v6.done; }, 3000);
        REQUIRE(both.addrs.size() == 2);
        CHECK(both.addrs[0].to_string() == "127.0.0.2:443");
        CHECK(both.addrs[1].to_string() == "[2001:db8::2]:443");
        REQUIRE(v6.addrs.size() == 1);
        CHECK(v6.addrs[0].family() == AF_INET6);
    }
    REQUIRE(finish_loop(&loop) == 0);
}

TEST_CASE("resolver: nonexistent names and dead servers fail without hanging", "[shared][net][resolver]") {
    uv_loop_t loop;
    uv_loop_init(&loop);
    {
        FakeDns dns(60);
        shared::Resolver res(&loop, fast_options(dns.servers()));
        Result nx;
        res.resolve("nonexistent.test", 80, AF_UNSPEC, into(nx));
        run_until(&loop, [&] { return nx.done; }, 3000);
        REQUIRE(nx.done);
        CHECK(nx.status == ARES_ENOTFOUND);
        CHECK(nx.addrs.empty());
        CHECK(std::string(shared::resolve_status_string(nx.status)).size() > 0);

        FakeDns silent(60, true);
        shared::Resolver res2(&loop, fast_options(silent.servers()));
        Result to;
        auto t0 = std::chrono::steady_clock::now();
        res2.resolve("a.test", 80, AF_INET, into(to));
        run_until(&loop, [&] { return to.done; }, 5000);
        REQUIRE(to.done);
        CHECK(to.status == ARES_ETIMEOUT);
        CHECK(std::chrono::steady_clock::now() - t0 < std::chrono::seconds(2));
    }
    REQUIRE(finish_loop(&loop) == 0);
}

TEST_CASE("resolver: cancel and destruction silence pending callbacks", "[shared][net][resolver]") {
    uv_loop_t loop;
    uv_loop_init(&loop);
    {
        FakeDns silent(60, true);
        int calls = 0;
        auto count = [&](int, const std::vector<shared::SocketAddress>&) { ++calls; };
        {
            shared::Resolver res(&loop, fast_options(silent.servers()));
            auto id = res.resolve("a.test", 80, AF_INET, count);
            REQUIRE(id != 0);
            res.resolve("a.test", 80, AF_INET, count);  // shares the query, not cancelled
            res.cancel(id);
            run_until(&loop, [&] { return calls == 1; }, 3000);
            CHECK(calls == 1);
            res.resolve("other.test", 80, AF_INET, count);
            // Destroyed with a query in flight: ARES_EDESTRUCTION is swallowed, no callback.
        }
        run_for(&loop, 300);
        CHECK(calls == 1);
    }
    REQUIRE(finish_loop(&loop) == 0);
}

TEST_CASE("resolver: bad server list is reported", "[shared][net][resolver]") {
    uv_loop_t loop;
    uv_loop_init(&loop);
    {
        shared::ResolverOptions o;
        o.servers = "not an address";
        shared::Resolver res(&loop, o);
        CHECK_FALSE(res.ok());
        CHECK(res.error().find("not an address") != std::string::npos);
        Result r;
        res.resolve("a.test", 80, AF_INET, into(r));
        CHECK(r.done);
        CHECK(r.status != 0);
        Result lit;
        res.resolve("127.0.0.1", 80, AF_INET, into(lit));  // literals still work
        CHECK(lit.status == 0);
    }
    REQUIRE(finish_loop(&loop) == 0);
}
