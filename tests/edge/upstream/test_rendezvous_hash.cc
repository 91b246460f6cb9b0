#include <catch2/catch.hpp>

#include <map>
#include <string>
#include <vector>

#include "edge/upstream/rendezvous_hash.h"

using namespace edge;

namespace {

// The parent a key goes to among `parents` (their addresses).
std::string first_choice(const std::string& key, const std::vector<std::string>& parents) {
    std::vector<uint64_t> h;
    for (const auto& p : parents)
        h.push_back(stable_hash(p));
    std::vector<size_t> order(parents.size());
    rendezvous_order(stable_hash(key), h.data(), h.size(), order.data());
    return parents[order[0]];
}

std::vector<std::string> keys(size_t n) {
    std::vector<std::string> k;
    for (size_t i = 0; i < n; ++i)
        k.push_back(" example.com/assets/" + std::to_string(i) + ".js");
    return k;
}

} // namespace

TEST_CASE("rendezvous hash: stable values (every edge, build and restart ranks parents alike)", "[edge][tier]") {
    // FNV-1a 64 test vectors: a change here sends every key to another parent after an upgrade.
    CHECK(stable_hash("") == 0xcbf29ce484222325ull);
    CHECK(stable_hash("a") == 0xaf63dc4c8601ec8cull);
    CHECK(stable_hash("foobar") == 0x85944171f73967e8ull);
    // And the ranking built on it.
    std::vector<std::string> p = {"10.0.0.1:80", "10.0.0.2:80", "10.0.0.3:80"};
    CHECK(first_choice("/a", p) == first_choice("/a", p));
    std::vector<uint64_t> h = {stable_hash(p[0]), stable_hash(p[1]), stable_hash(p[2])};
    size_t o1[3], o2[3];
    rendezvous_order(stable_hash("/x"), h.data(), 3, o1);
    std::vector<uint64_t> rev = {h[2], h[1], h[0]};
    rendezvous_order(stable_hash("/x"), rev.data(), 3, o2);
    // The order the parents are listed in does not matter: only their addresses do.
    for (int i = 0; i < 3; ++i)
        CHECK(h[o1[i]] == rev[o2[i]]);
}

TEST_CASE("rendezvous hash: keys spread evenly over the parents", "[edge][tier]") {
    std::vector<std::string> p = {"10.0.0.1:80", "10.0.0.2:80", "10.0.0.3:80", "10.0.0.4:80"};
    std::map<std::string, int> n;
    for (const auto& k : keys(20000))
        ++n[first_choice(k, p)];
    REQUIRE(n.size() == 4);
    for (auto& [parent, count] : n) {
        INFO(parent);
        CHECK(count > 5000 * 0.9);
        CHECK(count < 5000 * 1.1);
    }
}

TEST_CASE("rendezvous hash: a parent joining (3 -> 4) takes about 1/4 of the keys, none move between the others",
          "[edge][tier]") {
    std::vector<std::string> three = {"10.0.0.1:80", "10.0.0.2:80", "10.0.0.3:80"};
    std::vector<std::string> four = three;
    four.push_back("10.0.0.4:80");
    size_t moved = 0, total = 20000;
    for (const auto& k : keys(total)) {
        std::string a = first_choice(k, three), b = first_choice(k, four);
        if (a == b) continue;
        ++moved;
        CHECK(b == "10.0.0.4:80"); // a key moves only to the newcomer
    }
    double frac = static_cast<double>(moved) / static_cast<double>(total);
    CHECK(frac > 0.22);
    CHECK(frac < 0.28);
}

TEST_CASE("rendezvous hash: a parent leaving moves only its own keys, each to its second choice", "[edge][tier]") {
    std::vector<std::string> four = {"10.0.0.1:80", "10.0.0.2:80", "10.0.0.3:80", "10.0.0.4:80"};
    std::vector<std::string> three = {"10.0.0.1:80", "10.0.0.3:80", "10.0.0.4:80"}; // .2 left
    std::map<std::string, int> took;
    for (const auto& k : keys(20000)) {
        std::string a = first_choice(k, four), b = first_choice(k, three);
        if (a != "10.0.0.2:80") {
            CHECK(a == b); // a survivor's key stays put
            continue;
        }
        ++took[b];
        // The new home is the key's second choice among the four.
        std::vector<uint64_t> h;
        for (const auto& p : four)
            h.push_back(stable_hash(p));
        size_t order[4];
        rendezvous_order(stable_hash(k), h.data(), 4, order);
        CHECK(four[order[1]] == b);
    }
    // ... spread over all three survivors, not dumped on one neighbour (as a ring without virtual nodes would).
    REQUIRE(took.size() == 3);
    for (auto& [p, n] : took)
        CHECK(n > 5000 / 3 * 0.8);
}
