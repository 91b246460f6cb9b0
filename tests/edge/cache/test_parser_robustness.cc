// Generated garbage through every header parser of the cache (fixed seed, bounded): no crash or sanitizer report,
// and the invariants that must hold for any input do hold.
#include <catch2/catch.hpp>

#include <random>
#include <string>

#include "edge/cache/cache_key.h"
#include "edge/cache/cache_policy.h"
#include "edge/http/http_date.h"
#include "edge/config/edge_config.h"

using namespace edge;

namespace {
std::string random_text(std::mt19937& rng, std::string_view alphabet, size_t max_len) {
    std::uniform_int_distribution<size_t> len(0, max_len), ch(0, alphabet.size() - 1);
    std::string s;
    for (size_t i = len(rng); i > 0; --i) s += alphabet[ch(rng)];
    return s;
}
} // namespace

TEST_CASE("Cache header parsers survive generated garbage", "[edge][cache][property]") {
    std::mt19937 rng(7);
    const std::string_view cc_alpha = "max-ages=,\" 0123456789nostrpivaecublmdxy\t=-";
    const std::string_view date_alpha = "SunMoTeWdhFriSatJanFebMrApyJulAgSOctNovDc ,:-0123456789GT";
    size_t bad_lifetime = 0, bad_date_roundtrip = 0, bad_key = 0, dates_parsed = 0;
    TtlPolicy p;
    p.min_ttl_ms = 1000;
    p.default_ttl_ms = 5000;
    p.max_ttl_ms = 10'000;
    for (int i = 0; i < 50'000; ++i) {
        ResponseFacts f;
        parse_cache_control(random_text(rng, cc_alpha, 60), &f.cache_control);
        std::string expires = i % 5 == 0 ? format_http_date(1'700'000'000 + (i * 37) % 100'000)
                                         : random_text(rng, date_alpha, 32);
        std::string date = i % 3 ? format_http_date(1'700'000'000 + i) : random_text(rng, date_alpha, 32);
        std::string age = random_text(rng, "0123456789x-", 6);
        f.expires = expires;
        f.date = date;
        f.age = age;
        f.has_validators = true;
        f.response_time_ms = 1'700'000'000'000;
        f.request_time_ms = f.response_time_ms - 10;
        Freshness fr = compute_freshness(f, p);
        // With min_ttl > 0 and a storable status, the clamp always holds.
        if (fr.store && (fr.lifetime_ms < p.min_ttl_ms || fr.lifetime_ms > p.max_ttl_ms)) ++bad_lifetime;
        if (auto t = parse_http_date(expires)) {
            ++dates_parsed;
            if (parse_http_date(format_http_date(*t)) != t) ++bad_date_roundtrip;
        }
        std::string key;
        std::string query = random_text(rng, "ab=&%?/", 40);
        if (build_cache_key(random_text(rng, "Ab.:/%?", 12), "/p", query, QueryStringPolicy::all, {}, &key)) {
            if (key.find("/p") == std::string::npos) ++bad_key;
        }
        path_pattern_matches(random_text(rng, "/*?ab.", 12), random_text(rng, "/ab.*?", 30));
    }
    CHECK(bad_lifetime == 0);
    CHECK(bad_date_roundtrip == 0);
    CHECK(bad_key == 0);
    CHECK(dates_parsed >= 10'000); // every fifth Expires is a real date
}
