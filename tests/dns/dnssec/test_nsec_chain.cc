// The NSEC chain's canonical order and its covering lookup.
#include <catch2/catch.hpp>

#include <algorithm>
#include <string>
#include <vector>

#include "dns/dnssec/nsec_chain.h"
#include "dns/wire/dns_name.h"

using namespace dns;

namespace {
std::string wire(const char* text) {
    return to_lower(*name_from_text(text));
}
std::string key(const std::string& w) {
    uint8_t buf[kMaxCanonicalKey];
    return std::string(reinterpret_cast<const char*>(buf), canonical_key(w, buf));
}
} // namespace

TEST_CASE("canonical keys sort names in RFC 4034 §6.1 order", "[dns][dnssec]") {
    // The RFC's own example list, in order (upper case folded: the zone keeps lower-case names).
    std::vector<std::string> names = {wire("example."),         wire("a.example."),      wire("yljkjljk.a.example."),
                                      wire("z.a.example."),     wire("zabc.a.example."), wire("z.example."),
                                      wire("\\001.z.example."), wire("*.z.example."),    wire("\\200.z.example.")};
    for (size_t i = 0; i + 1 < names.size(); i++) {
        INFO(name_to_text(names[i]) << " < " << name_to_text(names[i + 1]));
        CHECK(key(names[i]) < key(names[i + 1]));
    }
    // A zero byte inside a label sorts below every other byte, and a label that is a prefix sorts first.
    CHECK(key(wire("\\000.example.")) < key(wire("\\001.example.")));
    CHECK(key(wire("a.example.")) < key(wire("a\\000.example.")));
    CHECK(key(wire("a\\000.example.")) < key(wire("a\\001.example.")));
    CHECK(key(wire("a\\001.example.")) < key(wire("a\\002.example.")));
    CHECK(key(wire("ab.example.")) < key(wire("b.example.")));
}

TEST_CASE("the chain finds the NSEC that covers a name", "[dns][dnssec]") {
    NsecChain chain;
    // Added in any order; node indices are what the lookups give back.
    std::vector<std::string> names = {wire("c.example."), wire("example."), wire("a.example."), wire("x.b.example.")};
    for (uint32_t i = 0; i < names.size(); i++)
        chain.add(names[i], i);
    chain.seal();
    REQUIRE(chain.size() == 4);
    CHECK(chain.node_at(0) == 1); // the apex first
    CHECK(chain.node_at(1) == 2);
    CHECK(chain.node_at(2) == 3);
    CHECK(chain.node_at(3) == 0);
    auto owner = [&](const char* n) { return chain.node_at(chain.floor(wire(n))); };
    CHECK(owner("a.example.") == 2);   // a name in the chain: itself
    CHECK(owner("aa.example.") == 2);  // between a and x.b
    CHECK(owner("b.example.") == 2);   // an empty non-terminal: the NSEC before it names its child next
    CHECK(owner("*.example.") == 1);   // '*' sorts before letters: covered by the apex's NSEC
    CHECK(owner("y.b.example.") == 3); // after x.b, before c
    CHECK(owner("zzz.example.") == 0); // after the last name: its NSEC wraps to the apex
    CHECK(owner("deep.zzz.example.") == 0);
}
