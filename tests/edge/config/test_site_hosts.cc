#include <catch2/catch.hpp>

#include <random>
#include <string>

#include "edge/config/site_hosts.h"

using namespace edge;

namespace {

std::string norm(std::string_view in) {
    std::string out, err;
    return normalize_site_host(in, &out, &err) ? out : "ERR: " + err;
}

std::string req(std::string_view authority) {
    char buf[kMaxSiteHostBytes + 3];
    return std::string(normalize_request_host(authority, buf));
}

// Sites: 0 = example.com + www.example.com, 1 = *.example.com, 2 = *.cdn.example.com, 3 = [::1] + 127.0.0.1
SiteHosts table(size_t default_site) {
    SiteHosts t;
    size_t other = 0;
    for (auto [h, s] : {std::pair<const char*, size_t>{"www.example.com", 0},
                        {"example.com", 0},
                        {"*.example.com", 1},
                        {"*.cdn.example.com", 2},
                        {"[::1]", 3},
                        {"127.0.0.1", 3}}) {
        std::string n;
        std::string err;
        REQUIRE(normalize_site_host(h, &n, &err));
        REQUIRE(t.add(n, s, &other));
    }
    t.set_default(default_site);
    t.seal();
    return t;
}

} // namespace

TEST_CASE("Site hosts: configured names are normalized or refused", "[edge][config][sites]") {
    CHECK(norm("Example.COM") == "example.com");
    CHECK(norm("example.com.") == "example.com");
    CHECK(norm("*.Example.com") == "*.example.com");
    CHECK(norm("a_b.example.com") == "a_b.example.com");
    CHECK(norm("127.0.0.1") == "127.0.0.1");
    CHECK(norm("[0:0::1]") == "[::1]");
    CHECK(norm("[2001:DB8::A]") == "[2001:db8::a]");
    CHECK(norm("").rfind("ERR", 0) == 0);
    CHECK(norm("example.com:8080").rfind("ERR", 0) == 0); // a site has no port
    CHECK(norm("a..b").rfind("ERR", 0) == 0);
    CHECK(norm("-a.example.com").rfind("ERR", 0) == 0);
    CHECK(norm("a-.example.com").rfind("ERR", 0) == 0);
    CHECK(norm("a.*.example.com").rfind("ERR", 0) == 0); // wildcard only as the whole first label
    CHECK(norm("*a.example.com").rfind("ERR", 0) == 0);
    CHECK(norm("*").rfind("ERR", 0) == 0);
    CHECK(norm("ex ample.com").rfind("ERR", 0) == 0);
    CHECK(norm("[::g]").rfind("ERR", 0) == 0);
    CHECK(norm("::1").rfind("ERR", 0) == 0); // IPv6 needs brackets
    CHECK(norm(std::string(64, 'a') + ".com").rfind("ERR", 0) == 0);
    std::string long_name;
    for (int i = 0; i < 50; ++i)
        long_name += "abcd.";
    long_name += "com"; // 253 characters
    CHECK(norm(long_name) == long_name);
    CHECK(norm("x" + long_name).rfind("ERR", 0) == 0);
}

TEST_CASE("Site hosts: request authorities lose port, trailing dot and case", "[edge][config][sites]") {
    CHECK(req("Example.COM") == "example.com");
    CHECK(req("example.com:8080") == "example.com");
    CHECK(req("example.com.:8080") == "example.com");
    CHECK(req("example.com.") == "example.com");
    CHECK(req("[::1]:8080") == "[::1]");
    CHECK(req("[0:0:0:0:0:0:0:1]") == "[::1]");
    CHECK(req("[::1") == "");
    CHECK(req("[zz]") == "");
    CHECK(req("") == "");
    CHECK(req(std::string(300, 'a')) == "");
}

TEST_CASE("Site hosts: exact names, one-label wildcards, default", "[edge][config][sites]") {
    SiteHosts t = table(SiteHosts::npos);
    CHECK(t.find("example.com") == 0);
    CHECK(t.find("WWW.Example.Com:443") == 0);
    CHECK(t.find("www.example.com.") == 0);
    CHECK(t.find("blog.example.com") == 1);              // wildcard
    CHECK(t.find("a.b.example.com") == SiteHosts::npos); // CloudFront: one label only
    CHECK(t.find("x.cdn.example.com") == 2);             // the wildcard of the longer suffix
    CHECK(t.find("cdn.example.com") == 1);               // itself one label under *.example.com
    CHECK(t.find("[::1]:8080") == 3);
    CHECK(t.find("[0::1]") == 3);
    CHECK(t.find("127.0.0.1:8080") == 3);
    CHECK(t.find("example.org") == SiteHosts::npos);
    CHECK(t.find("") == SiteHosts::npos); // HTTP/1.0 without Host
    CHECK(t.find("com") == SiteHosts::npos);

    SiteHosts d = table(3);
    CHECK(d.find("example.org") == 3);
    CHECK(d.find("") == 3);
    CHECK(d.find("a.b.example.com") == 3);
    CHECK(d.find("blog.example.com") == 1);
}

TEST_CASE("Site hosts: the same name twice is refused", "[edge][config][sites]") {
    SiteHosts t;
    size_t other = 99;
    REQUIRE(t.add("example.com", 0, &other));
    REQUIRE(t.add("*.example.com", 1, &other)); // a wildcard and the apex are different names
    CHECK_FALSE(t.add("example.com", 2, &other));
    CHECK(other == 0);
    CHECK_FALSE(t.add("*.example.com", 2, &other));
    CHECK(other == 1);
}

TEST_CASE("Site hosts: any request authority is matched without crashing or reading past it", "[edge][config][sites]") {
    SiteHosts t = table(0);
    std::mt19937 rng(18);
    const std::string alphabet = "aB.-:[]%*0123456789fF_ \x7f";
    for (int i = 0; i < 20000; ++i) {
        std::string s(rng() % 300, 'x');
        for (char& c : s)
            c = alphabet[rng() % alphabet.size()];
        size_t site = t.find(s);
        CHECK((site <= 3));
        std::string out, err;
        if (normalize_site_host(s, &out, &err)) CHECK(out.size() <= kMaxSiteHostBytes + 2);
    }
}
