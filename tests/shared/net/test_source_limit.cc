// shared/net/source_limit.h: open connections per client address (IPv4 address, IPv6 /64, IPv4-mapped as IPv4),
// shared by threads, in a fixed table that churn never fills.
#include <catch2/catch.hpp>

#include <arpa/inet.h>
#include <netinet/in.h>

#include <string>
#include <thread>
#include <vector>

#include "shared/net/source_limit.h"

using shared::PeerAddress;
using shared::SourceConnLimit;
using Admit = SourceConnLimit::Admit;

namespace {
PeerAddress v4(const char* ip, uint16_t port = 0) {
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    REQUIRE(inet_pton(AF_INET, ip, &a.sin_addr) == 1);
    PeerAddress p;
    REQUIRE(PeerAddress::from_sockaddr(reinterpret_cast<const sockaddr*>(&a), &p));
    return p;
}
PeerAddress v6(const char* ip, uint16_t port = 0) {
    sockaddr_in6 a{};
    a.sin6_family = AF_INET6;
    a.sin6_port = htons(port);
    REQUIRE(inet_pton(AF_INET6, ip, &a.sin6_addr) == 1);
    PeerAddress p;
    REQUIRE(PeerAddress::from_sockaddr(reinterpret_cast<const sockaddr*>(&a), &p));
    return p;
}
// The IPv4 address n (no Catch assertion inside: the threads of the concurrent test call it).
PeerAddress nth_v4(uint32_t n) {
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(n);
    PeerAddress p;
    PeerAddress::from_sockaddr(reinterpret_cast<const sockaddr*>(&a), &p);
    return p;
}
std::string text(const PeerAddress& p) {
    char buf[46];
    p.write_text(buf);
    return buf;
}
} // namespace

TEST_CASE("source conn limit: per address, any port; a released connection frees its place", "[shared][net]") {
    SourceConnLimit l(100);
    auto a1 = v4("192.0.2.1", 1000), a2 = v4("192.0.2.1", 2000), b = v4("192.0.2.2", 1000);
    CHECK(l.acquire(a1, 2) == Admit::counted);
    CHECK(l.acquire(a2, 2) == Admit::counted);
    CHECK(l.acquire(a1, 2) == Admit::refused); // the third from this address, whatever its port
    CHECK(l.acquire(b, 2) == Admit::counted);
    CHECK(l.count(a1) == 2);
    CHECK(l.count(b) == 1);
    l.release(a2);
    CHECK(l.count(a1) == 1);
    CHECK(l.acquire(a1, 2) == Admit::counted);
    l.release(a1);
    l.release(a1);
    CHECK(l.count(a1) == 0);
    l.release(a1); // one release too many stays at zero
    CHECK(l.count(a1) == 0);
    l.release(b);
    CHECK(l.addresses() == 0);
    // 0 = no limit, but still counted (a reload may set one).
    for (int i = 0; i < 100; i++)
        CHECK(l.acquire(b, 0) == Admit::counted);
    CHECK(l.count(b) == 100);
    // A limit set later applies to what is open already.
    CHECK(l.acquire(b, 100) == Admit::refused);
    CHECK(l.acquire(b, 101) == Admit::counted);
}

TEST_CASE("source conn limit: IPv6 is counted per /64, never together with IPv4", "[shared][net]") {
    SourceConnLimit l(100);
    auto x = v6("2001:db8:1:2::1"), y = v6("2001:db8:1:2:ffff::9"), z = v6("2001:db8:1:3::1");
    CHECK(l.acquire(x, 1) == Admit::counted);
    CHECK(l.acquire(y, 1) == Admit::refused); // same /64
    CHECK(l.count(y) == 1);
    CHECK(l.acquire(z, 1) == Admit::counted);
    CHECK(l.acquire(v4("0.0.0.1"), 1) == Admit::counted);
    CHECK(l.acquire(v6("::1"), 1) == Admit::counted); // ::/64
    CHECK(l.acquire(v4("0.0.0.0"), 1) == Admit::counted);
    l.release(y); // y's /64 is x's
    CHECK(l.count(x) == 0);
}

TEST_CASE("source conn limit: an IPv4-mapped IPv6 address counts as its IPv4 address", "[shared][net]") {
    // A dual-stack [::] listener reports IPv4 clients as ::ffff:a.b.c.d; their /64 is ::ffff:0:0/64 for all of
    // them, so counting it per /64 would make every IPv4 client one client.
    SourceConnLimit l(100);
    auto m1 = v6("::ffff:192.0.2.1"), m2 = v6("::ffff:192.0.2.2"), p1 = v4("192.0.2.1");
    CHECK(m1.v4_mapped());
    CHECK(l.acquire(m1, 1) == Admit::counted);
    CHECK(l.acquire(m2, 1) == Admit::counted); // another IPv4 client
    CHECK(l.acquire(p1, 1) == Admit::refused); // the same client as m1, seen by an IPv4 listener
    CHECK(l.count(p1) == 1);
    l.release(p1);
    CHECK(l.count(m1) == 0);
    CHECK(text(m1) == "192.0.2.1");
    CHECK(text(p1) == "192.0.2.1");
    CHECK(text(v6("2001:db8::7")) == "2001:db8::7");
    // Other families are not addresses it knows.
    sockaddr_storage un{};
    un.ss_family = AF_UNIX;
    PeerAddress p;
    CHECK_FALSE(PeerAddress::from_sockaddr(reinterpret_cast<const sockaddr*>(&un), &p));
    CHECK_FALSE(PeerAddress::from_sockaddr(nullptr, &p));
}

TEST_CASE("source conn limit: churn of many distinct addresses never fills the table", "[shared][net]") {
    // 1,000 connections open at a time, each from a new address, 200,000 times over: the table holds the open ones
    // only, and every count stays exact (backward-shift deletion leaves no tombstones to fill it).
    constexpr uint32_t kOpen = 1000, kTotal = 200'000;
    SourceConnLimit l(kOpen);
    CHECK(l.capacity() >= 2 * kOpen);
    for (uint32_t i = 0; i < kTotal; i++) {
        REQUIRE(l.acquire(nth_v4(i), 1) == Admit::counted);
        if (i >= kOpen) {
            l.release(nth_v4(i - kOpen));
            if (i % 9973 == 0) {
                REQUIRE(l.count(nth_v4(i - kOpen)) == 0);
                REQUIRE(l.count(nth_v4(i - kOpen + 1)) == 1);
                REQUIRE(l.acquire(nth_v4(i), 1) == Admit::refused);
            }
        }
        if (i % 1000 == 999) REQUIRE(l.addresses() == std::min(i + 1, kOpen));
    }
    for (uint32_t i = kTotal - kOpen; i < kTotal; i++) {
        REQUIRE(l.count(nth_v4(i)) == 1);
        l.release(nth_v4(i));
    }
    CHECK(l.addresses() == 0);
}

TEST_CASE("source conn limit: more addresses than it was sized for are admitted uncounted, never refused",
          "[shared][net]") {
    // Sized for 1 connection (64 shards of 64 slots), then given 20,000 addresses at once (a reload that raised
    // the connection limit past the table): the shards fill, the rest is let in without a count.
    SourceConnLimit l(1);
    size_t counted = 0, uncounted = 0;
    std::vector<bool> was_counted(20'000);
    for (uint32_t i = 0; i < 20'000; i++) {
        Admit a = l.acquire(nth_v4(i), 1);
        REQUIRE(a != Admit::refused);
        was_counted[i] = a == Admit::counted;
        (a == Admit::counted ? counted : uncounted)++;
    }
    CHECK(counted == l.addresses());
    CHECK(counted <= l.capacity() / 4 * 3);
    CHECK(uncounted > 0);
    for (uint32_t i = 0; i < 20'000; i++)
        if (was_counted[i]) l.release(nth_v4(i));
    CHECK(l.addresses() == 0);
    CHECK(l.acquire(nth_v4(5), 1) == Admit::counted);
}

TEST_CASE("source conn limit: acquire and release from 4 threads end at zero", "[shared][net]") {
    SourceConnLimit l(4 * 64);
    constexpr int kThreads = 4, kRounds = 20'000;
    std::vector<std::thread> ts;
    for (int t = 0; t < kThreads; t++) {
        ts.emplace_back([&, t] {
            std::vector<PeerAddress> mine;
            for (int r = 0; r < kRounds; r++) {
                // Shared addresses (every thread counts 0..63, with a limit) and the thread's own.
                PeerAddress a = (r & 1) ? nth_v4(static_cast<uint32_t>(r % 64))
                                        : nth_v4(static_cast<uint32_t>(1'000'000 * (t + 1) + r % 500));
                if (l.acquire(a, 3) == Admit::counted) mine.push_back(a);
                if (mine.size() > 32 || (r & 7) == 0) {
                    while (!mine.empty()) {
                        l.release(mine.back());
                        mine.pop_back();
                    }
                }
            }
            for (auto& a : mine)
                l.release(a);
        });
    }
    for (auto& t : ts)
        t.join();
    CHECK(l.addresses() == 0);
    for (uint32_t i = 0; i < 64; i++)
        CHECK(l.count(nth_v4(i)) == 0);
    for (uint32_t i = 0; i < 64; i++)
        CHECK(l.acquire(nth_v4(i), 1) == Admit::counted);
}
