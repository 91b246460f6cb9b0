// The freshness table below lists only the headers each row sets; the rest default to absent.
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"

#include <catch2/catch.hpp>

#include "edge/cache/cache_policy.h"
#include "edge/http/http_date.h"
#include "edge/http/structured_field.h"

#include <string>
#include <vector>

using namespace edge;

namespace {

constexpr uint64_t kNow = 1'700'000'000'000; // ms
constexpr uint64_t kDay = 86'400'000;
constexpr uint64_t kYear = 31'536'000'000;

struct Resp {
    int status = 200;
    std::string cache_control;
    std::string expires;
    std::string date;
    std::string age;
    std::string vary;
    bool set_cookie = false;
    bool validators = false;
    bool authorization = false;
};

Freshness fresh(const Resp& r, TtlPolicy p = {}) {
    ResponseFacts f;
    f.status = r.status;
    parse_cache_control(r.cache_control, &f.cache_control);
    f.expires = r.expires;
    f.date = r.date;
    f.age = r.age;
    f.vary = r.vary;
    f.has_set_cookie = r.set_cookie;
    f.has_validators = r.validators;
    f.request_had_authorization = r.authorization;
    f.request_time_ms = kNow;
    f.response_time_ms = kNow;
    return compute_freshness(f, p);
}

std::string date_at(uint64_t ms) {
    return format_http_date(static_cast<int64_t>(ms / 1000));
}

TtlPolicy ttl(uint64_t min_ms, uint64_t def_ms, uint64_t max_ms) {
    TtlPolicy p;
    p.min_ttl_ms = min_ms;
    p.default_ttl_ms = def_ms;
    p.max_ttl_ms = max_ms;
    return p;
}

} // namespace

TEST_CASE("Cache-Control parsing", "[edge][cache][policy]") {
    CacheControl cc;
    parse_cache_control("public, max-age=60, S-MAXAGE=\"30\", must-revalidate", &cc);
    CHECK(cc.public_);
    CHECK(cc.max_age == 60);
    CHECK(cc.s_maxage == 30);
    CHECK(cc.must_revalidate);
    CHECK_FALSE(cc.no_store);

    CacheControl two;
    parse_cache_control("max-age=10", &two);
    parse_cache_control("max-age=20, no-store", &two); // a second header line: first max-age wins
    CHECK(two.max_age == 10);
    CHECK(two.no_store);

    CacheControl bad;
    parse_cache_control("max-age=abc, private=\"Set-Cookie, X\", no-cache=\"a\"", &bad);
    CHECK(bad.max_age == 0); // invalid → stale
    // Qualified: field names, not the unqualified directives (see the qualified-forms case below).
    CHECK_FALSE(bad.private_);
    CHECK_FALSE(bad.no_cache);
    CHECK(bad.private_fields.size() == 2);
    CHECK(bad.no_cache_fields.size() == 1);

    CacheControl big;
    parse_cache_control("max-age=99999999999999999999", &big);
    CHECK(big.max_age == (int64_t{1} << 31));

    CacheControl empty;
    parse_cache_control(" , ,", &empty);
    CHECK(empty.max_age == -1);
    CHECK(empty.s_maxage == -1);
}

TEST_CASE("Freshness: s-maxage > max-age > Expires - Date > default TTL", "[edge][cache][policy]") {
    CHECK(fresh({.cache_control = "max-age=60, s-maxage=30"}).lifetime_ms == 30'000);
    CHECK(fresh({.cache_control = "max-age=60"}).lifetime_ms == 60'000);
    CHECK(
        fresh({.cache_control = "max-age=60", .expires = date_at(kNow + 600'000), .date = date_at(kNow)}).lifetime_ms ==
        60'000);
    CHECK(fresh({.expires = date_at(kNow + 600'000), .date = date_at(kNow)}).lifetime_ms == 600'000);
    // Expires without Date: measured from the response time.
    CHECK(fresh({.expires = date_at(kNow + 120'000)}).lifetime_ms == 120'000);
    // Expires in the past or invalid: explicit freshness of 0 → not stored without validators, stored stale with.
    CHECK(fresh({.expires = date_at(kNow - 10'000), .date = date_at(kNow)}).reason == StoreReason::zero_ttl);
    auto invalid = fresh({.expires = "0", .validators = true});
    CHECK(invalid.store);
    CHECK(invalid.lifetime_ms == 0);
    CHECK(fresh({}).lifetime_ms == kDay);
    auto f = fresh({.cache_control = "max-age=60"});
    CHECK(f.store);
    CHECK(f.expires_at_ms == kNow + 60'000);
}

TEST_CASE("Freshness: CloudFront min/default/max TTL clamp", "[edge][cache][policy]") {
    TtlPolicy p = ttl(100'000, 1'000'000, 2'000'000);
    CHECK(fresh({.cache_control = "max-age=50"}, p).lifetime_ms == 100'000);     // below min → min
    CHECK(fresh({.cache_control = "max-age=500"}, p).lifetime_ms == 500'000);    // between → as sent
    CHECK(fresh({.cache_control = "max-age=5000"}, p).lifetime_ms == 2'000'000); // above max → max
    CHECK(fresh({.cache_control = "s-maxage=5000"}, p).lifetime_ms == 2'000'000);
    CHECK(fresh({.expires = date_at(kNow + 10'000), .date = date_at(kNow)}, p).lifetime_ms == 100'000);
    CHECK(fresh({.expires = date_at(kNow + 9'000'000), .date = date_at(kNow)}, p).lifetime_ms == 2'000'000);
    CHECK(fresh({}, p).lifetime_ms == 1'000'000); // no header → default
    // min_ttl = 0: max-age honoured up to max TTL.
    TtlPolicy zero = ttl(0, kDay, kYear);
    CHECK(fresh({.cache_control = "max-age=0", .validators = true}, zero).lifetime_ms == 0);
    CHECK(fresh({.cache_control = "max-age=999999999"}, zero).lifetime_ms == kYear);
}

TEST_CASE("Freshness: no-store, private, no-cache with min_ttl = 0 follow RFC 9111", "[edge][cache][policy]") {
    CHECK(fresh({.cache_control = "no-store"}).reason == StoreReason::no_store);
    CHECK_FALSE(fresh({.cache_control = "no-store, max-age=60"}).store);
    CHECK(fresh({.cache_control = "private, max-age=60"}).reason == StoreReason::private_);
    auto nc = fresh({.cache_control = "no-cache, max-age=60", .validators = true});
    CHECK(nc.store);
    CHECK(nc.lifetime_ms == 0); // revalidate on every use
    CHECK(nc.must_revalidate);
    CHECK(fresh({.cache_control = "no-cache"}).reason == StoreReason::zero_ttl); // nothing to revalidate with
    CHECK(fresh({.cache_control = "public, must-revalidate, max-age=5"}).must_revalidate);
    CHECK(fresh({.cache_control = "s-maxage=5"}).must_revalidate); // RFC 9111 §5.2.2.10
    CHECK_FALSE(fresh({.cache_control = "max-age=5"}).must_revalidate);
}

TEST_CASE("Freshness: min_ttl > 0 overrides no-store, private and no-cache like CloudFront", "[edge][cache][policy]") {
    TtlPolicy p = ttl(300'000, kDay, kYear);
    for (const char* cc : {"no-store", "private", "no-cache", "no-store, no-cache, private", "no-store, max-age=0"}) {
        INFO(cc);
        auto f = fresh({.cache_control = cc}, p);
        CHECK(f.store);
        CHECK(f.lifetime_ms == 300'000);
    }
    // With a larger max-age the max-age wins (at least min TTL).
    CHECK(fresh({.cache_control = "no-cache, max-age=600"}, p).lifetime_ms == 600'000);
}

TEST_CASE("Freshness: storable statuses", "[edge][cache][policy]") {
    for (int s : {200, 203, 204, 300, 301, 308, 404, 405, 410, 414}) {
        INFO(s);
        CHECK(fresh({.status = s}).store);
    }
    for (int s : {206, 304, 100, 103}) {
        INFO(s);
        CHECK(fresh({.status = s, .cache_control = "max-age=60"}).reason == StoreReason::status);
    }
    // RFC 9111 §3: any other final status with explicit freshness (the survey's status-NNN-fresh cases), none
    // without it.
    for (int s : {500, 501, 502, 503, 504, 599, 201, 299, 400, 403, 499}) {
        INFO(s);
        CHECK(fresh({.status = s, .cache_control = "max-age=60"}).store);
        CHECK(fresh({.status = s, .cache_control = "max-age=60"}).lifetime_ms == 60'000);
        CHECK(fresh({.status = s}).reason == StoreReason::status);
    }
    CHECK_FALSE(fresh({.status = 302}).store);
    CHECK(fresh({.status = 302, .cache_control = "max-age=60"}).store);
    CHECK(fresh({.status = 307, .expires = date_at(kNow + 60'000)}).store);
    // 4xx without explicit freshness: error TTL, not the default TTL.
    CHECK(fresh({.status = 404}).lifetime_ms == 10'000);
    CHECK(fresh({.status = 404, .cache_control = "max-age=600"}).lifetime_ms == 600'000);
}

TEST_CASE("Freshness: Set-Cookie, Vary and Authorization", "[edge][cache][policy]") {
    CHECK(fresh({.cache_control = "max-age=60", .set_cookie = true}).reason == StoreReason::set_cookie);
    TtlPolicy allow;
    allow.cache_set_cookie = true;
    CHECK(fresh({.cache_control = "max-age=60", .set_cookie = true}, allow).store);
    // min_ttl does not override the Set-Cookie rule.
    TtlPolicy min = ttl(60'000, kDay, kYear);
    CHECK_FALSE(fresh({.set_cookie = true}, min).store);

    CHECK(fresh({.vary = "Accept-Encoding"}).store);
    CHECK(fresh({.vary = "*"}).reason == StoreReason::vary);
    CHECK(fresh({.vary = "accept-encoding, Cookie"}).reason == StoreReason::vary);
    TtlPolicy variants;
    variants.vary_variants = true; // the proxy stores it as a variant of its key
    CHECK(fresh({.vary = "accept-encoding, Cookie"}, variants).store);
    CHECK(fresh({.vary = "*"}, variants).reason == StoreReason::vary);
    CHECK(fresh({.vary = "Foo, *"}, variants).reason == StoreReason::vary);

    CHECK(fresh({.cache_control = "max-age=60", .authorization = true}).reason == StoreReason::authorization);
    CHECK(fresh({.cache_control = "public, max-age=60", .authorization = true}).store);
    CHECK(fresh({.cache_control = "s-maxage=60", .authorization = true}).store);
}

TEST_CASE("Age: RFC 9111 §4.2.3 corrected initial age and current age", "[edge][cache][policy][age]") {
    // No Date, no Age, instant response: age 0.
    CHECK(corrected_initial_age_ms(-1, -1, kNow, kNow) == 0);
    // Age header plus the response delay.
    CHECK(corrected_initial_age_ms(-1, 100, kNow - 2'000, kNow) == 102'000);
    // Apparent age from Date when larger.
    CHECK(corrected_initial_age_ms(static_cast<int64_t>((kNow - 50'000) / 1000), 10, kNow, kNow) == 50'000);
    // Date in the future (clock skew): apparent age 0, not negative.
    CHECK(corrected_initial_age_ms(static_cast<int64_t>((kNow + 50'000) / 1000), -1, kNow, kNow) == 0);

    CHECK(age_seconds(kNow, kNow) == 0);
    CHECK(age_seconds(kNow, kNow + 999) == 0);
    CHECK(age_seconds(kNow, kNow + 61'500) == 61);
    CHECK(age_seconds(kNow + 5, kNow) == 0);

    // An object that arrived already 100 s old with max-age=300 is fresh for 200 s more.
    auto f = fresh({.cache_control = "max-age=300", .age = "100"});
    CHECK(f.age_origin_ms == kNow - 100'000);
    CHECK(f.expires_at_ms == kNow + 200'000);
    CHECK(age_seconds(f.age_origin_ms, kNow + 10'000) == 110);
    // Older than its max-age: stale at once.
    auto old = fresh({.cache_control = "max-age=60", .age = "100", .validators = true});
    CHECK(old.store);
    CHECK(old.expires_at_ms < kNow);
    // One line holding a list counts by its first member, as the first of two lines does (survey: age-parse-suffix).
    CHECK(fresh({.cache_control = "max-age=3600", .age = "7200, 0", .validators = true}).expires_at_ms < kNow);
    CHECK(fresh({.cache_control = "max-age=3600", .age = "100 , 7200"}).expires_at_ms == kNow + 3'500'000);
}

TEST_CASE("delta-seconds", "[edge][cache][policy]") {
    CHECK(parse_delta_seconds("0") == 0);
    CHECK(parse_delta_seconds("86400") == 86400);
    CHECK(parse_delta_seconds("") == -1);
    CHECK(parse_delta_seconds("-1") == -1);
    CHECK(parse_delta_seconds("1.5") == -1);
    CHECK(parse_delta_seconds("4294967296") == (int64_t{1} << 31));
}

TEST_CASE("response_facts collects the storage facts from a header list", "[edge][cache][policy]") {
    HeaderField h[] = {
        {"Cache-Control", "public"},
        {"cache-control", "max-age=60"},
        {"Expires", "0"},
        {"Date", "Sun, 06 Nov 1994 08:49:37 GMT"},
        {"Age", "5"},
        {"ETag", "\"e\""},
        {"Vary", "Accept-Encoding"},
        {"Vary", "Cookie"},
        {"Set-Cookie", "a=b"},
    };
    ResponseFacts f = response_facts(200, h, std::size(h), 10, 20);
    CHECK(f.status == 200);
    CHECK(f.cache_control.public_);
    CHECK(f.cache_control.max_age == 60);
    CHECK(f.expires == "0");
    CHECK(f.date == "Sun, 06 Nov 1994 08:49:37 GMT");
    CHECK(f.age == "5");
    CHECK(f.has_validators);
    CHECK(f.has_set_cookie);
    CHECK(f.vary == "Cookie"); // the blocking Vary line wins
    CHECK(f.request_time_ms == 10);
    CHECK(f.response_time_ms == 20);
    HeaderField plain[] = {{"Vary", "accept-encoding"}, {"Last-Modified", "x"}};
    ResponseFacts p = response_facts(404, plain, 2, 0, 0);
    CHECK(p.vary == "accept-encoding");
    CHECK(p.has_validators);
    CHECK_FALSE(p.has_set_cookie);
    CHECK(compute_freshness(p, {}).store);
}

TEST_CASE("Freshness after a 304 keeps stored directives the 304 does not repeat", "[edge][cache][policy]") {
    std::string block = "HTTP/1.1 200 OK\r\nCache-Control: max-age=600\r\nETag: \"v1\"\r\nContent-Type: text/css\r\n";
    int seen = 0;
    for_each_stored_header(block, [&](std::string_view n, std::string_view v) {
        ++seen;
        if (n == "ETag") CHECK(v == "\"v1\"");
    });
    CHECK(seen == 3);
    TtlPolicy p;
    // 304 with only an ETag: the stored max-age=600 applies from now.
    HeaderField bare[] = {{"ETag", "\"v1\""}};
    Freshness a = freshness_after_304(200, block, true, bare, 1, kNow, kNow, p);
    CHECK(a.store);
    CHECK(a.lifetime_ms == 600'000);
    CHECK(a.expires_at_ms == kNow + 600'000);
    // 304 with its own Cache-Control: that one replaces the stored one.
    HeaderField cc[] = {{"Cache-Control", "max-age=30"}};
    CHECK(freshness_after_304(200, block, true, cc, 1, kNow, kNow, p).lifetime_ms == 30'000);
    HeaderField ns[] = {{"Cache-Control", "no-store"}};
    CHECK_FALSE(freshness_after_304(200, block, true, ns, 1, kNow, kNow, p).store);
    // Stored without any freshness header: default TTL.
    CHECK(freshness_after_304(200, "HTTP/1.1 200 OK\r\nETag: \"x\"\r\n", true, bare, 1, kNow, kNow, p).lifetime_ms ==
          86'400'000);
    // The 304's Age counts.
    HeaderField aged[] = {{"Age", "100"}};
    CHECK(freshness_after_304(200, block, true, aged, 1, kNow, kNow, p).expires_at_ms == kNow + 500'000);
}

TEST_CASE("Targeted cache control: CDN-Cache-Control, then Surrogate-Control, outrank Cache-Control and Expires "
          "(RFC 9213)",
          "[edge][cache][policy]") {
    TtlPolicy p;
    auto lifetime = [&](std::vector<HeaderField> h) {
        Freshness f = compute_freshness(response_facts(200, h.data(), h.size(), kNow, kNow), p);
        return f.store ? static_cast<int64_t>(f.lifetime_ms) : -1;
    };
    CHECK(lifetime({{"Cache-Control", "max-age=60"}, {"CDN-Cache-Control", "max-age=600"}}) == 600'000);
    CHECK(lifetime({{"CDN-Cache-Control", "max-age=600"}, {"Cache-Control", "no-store"}}) == 600'000);
    CHECK(lifetime({{"Cache-Control", "private"}, {"CDN-Cache-Control", "max-age=5"}}) == 5'000);
    CHECK(lifetime({{"Cache-Control", "max-age=600"}, {"CDN-Cache-Control", "no-store"}}) == -1);
    CHECK(lifetime({{"Cache-Control", "max-age=600"}, {"CDN-Cache-Control", "private"}}) == -1);
    // Expires is ignored too: the targeted field without freshness leaves the default TTL.
    std::string past = date_at(kNow - 1000);
    CHECK(lifetime({{"Expires", past}, {"CDN-Cache-Control", "public"}}) == static_cast<int64_t>(kDay));
    CHECK(lifetime({{"Cache-Control", "max-age=60"}, {"Surrogate-Control", "max-age=300"}}) == 300'000);
    CHECK(lifetime({{"Surrogate-Control", "max-age=300;edge-a, no-store;other"}}) == -1);
    CHECK(lifetime({{"Surrogate-Control", "max-age=300"}, {"CDN-Cache-Control", "max-age=30"}}) == 30'000);
    CHECK(lifetime({{"Cache-Control", "max-age=60"}}) == 60'000); // nothing targeted: as before

    // After a 304: a stored targeted field still outranks the Cache-Control the 304 brings, unless the 304 has its
    // own targeted field.
    std::string block =
        "HTTP/1.1 200 OK\r\nCache-Control: max-age=60\r\nETag: \"v\"\r\nCDN-Cache-Control: max-age=600\r\n";
    HeaderField cc[] = {{"Cache-Control", "max-age=1"}};
    CHECK(freshness_after_304(200, block, true, cc, 1, kNow, kNow, p).lifetime_ms == 600'000);
    HeaderField cdn[] = {{"CDN-Cache-Control", "max-age=20"}};
    CHECK(freshness_after_304(200, block, true, cdn, 1, kNow, kNow, p).lifetime_ms == 20'000);
}

TEST_CASE("Stale windows: stale-while-revalidate and stale-if-error (RFC 5861)", "[edge][cache][policy]") {
    CacheControl cc;
    parse_cache_control("max-age=1, stale-while-revalidate=30, stale-if-error=\"600\"", &cc);
    CHECK(cc.stale_while_revalidate == 30);
    CHECK(cc.stale_if_error == 600);
    StaleWindows w = stale_windows("HTTP/1.1 200 OK\r\nCache-Control: max-age=1, stale-while-revalidate=30\r\n"
                                   "Cache-Control: stale-if-error=600\r\n");
    CHECK(w.while_revalidate_ms == 30'000);
    CHECK(w.if_error_ms == 600'000);
    // Never for what must not be served stale; the targeted field decides when there is one.
    CHECK(stale_windows("HTTP/1.1 200 OK\r\nCache-Control: stale-if-error=60, must-revalidate\r\n").if_error_ms == 0);
    CHECK(stale_windows("HTTP/1.1 200 OK\r\nCache-Control: stale-if-error=60, no-cache\r\n").if_error_ms == 0);
    CHECK(stale_windows("HTTP/1.1 200 OK\r\nCache-Control: stale-if-error=60\r\nCDN-Cache-Control: max-age=5\r\n")
              .if_error_ms == 0);
    CHECK(stale_windows("HTTP/1.1 200 OK\r\nCache-Control: stale-while-revalidate=bad\r\n").while_revalidate_ms == 0);
    // A 0-lifetime answer without validators is stored when a stale window makes it useful.
    TtlPolicy p;
    CHECK(fresh({.cache_control = "max-age=0, stale-while-revalidate=30"}, p).store);
    CHECK_FALSE(fresh({.cache_control = "max-age=0"}, p).store);
}

TEST_CASE("Heuristic freshness from Last-Modified (RFC 9111 §4.2.2), off by default", "[edge][cache][policy]") {
    TtlPolicy p;
    auto lifetime = [&](std::vector<HeaderField> h) {
        Freshness f = compute_freshness(response_facts(200, h.data(), h.size(), kNow, kNow), p);
        return f.store ? static_cast<int64_t>(f.lifetime_ms) : -1;
    };
    std::string date = date_at(kNow);
    std::string ten_days_ago = date_at(kNow - 10 * kDay);
    CHECK(lifetime({{"Date", date}, {"Last-Modified", ten_days_ago}}) == static_cast<int64_t>(kDay)); // default_ttl
    p.heuristic_fraction = 0.1;
    p.heuristic_max_ms = 7 * kDay;
    CHECK(lifetime({{"Date", date}, {"Last-Modified", ten_days_ago}}) == static_cast<int64_t>(kDay)); // 10% of 10 d
    CHECK(lifetime({{"Date", date}, {"Last-Modified", date_at(kNow - 1000 * kDay)}}) ==
          static_cast<int64_t>(7 * kDay)); // capped
    CHECK(lifetime({{"Date", date}, {"Last-Modified", date_at(kNow - 100'000)}}) == 10'000);
    CHECK(lifetime({{"Date", date}, {"Last-Modified", ten_days_ago}, {"Cache-Control", "max-age=5"}}) == 5'000);
    CHECK(lifetime({{"Date", date}}) == static_cast<int64_t>(kDay)); // no Last-Modified: default_ttl
    // A Last-Modified in the future (or invalid) gives no heuristic lifetime: 0, revalidated every time.
    CHECK(lifetime({{"Date", date}, {"Last-Modified", date_at(kNow + kDay)}}) == 0);
}

TEST_CASE("must-understand overrides no-store for understood statuses (RFC 9111 §5.2.2.3)", "[edge][cache][policy]") {
    CHECK(fresh({.cache_control = "max-age=60, must-understand, no-store"}).store);
    CHECK_FALSE(fresh({.cache_control = "max-age=60, no-store"}).store);
    CHECK_FALSE(fresh({.status = 299, .cache_control = "max-age=60, must-understand, no-store"}).store);
}

TEST_CASE("The stored Date is the origin's, or the time of receipt (RFC 9110 §6.6.1)", "[edge][cache][policy]") {
    TtlPolicy p;
    auto date_of = [&](std::vector<HeaderField> h, uint64_t received_ms) {
        return compute_freshness(response_facts(200, h.data(), h.size(), received_ms - 300, received_ms), p).date_s;
    };
    const int64_t origin_s = static_cast<int64_t>(kNow / 1000) - 100;
    std::string origin = format_http_date(origin_s);
    // The origin's Date, however long ago it was (Age says how old the response is, not Date).
    CHECK(date_of({{"Date", origin}, {"Cache-Control", "max-age=600"}}, kNow) == origin_s);
    // The first of duplicates.
    CHECK(date_of({{"Date", origin}, {"Date", date_at(kNow)}}, kNow) == origin_s);
    // None, or one that is no HTTP-date: when it arrived.
    CHECK(date_of({{"Cache-Control", "max-age=600"}}, kNow + 2'500) == static_cast<int64_t>((kNow + 2'500) / 1000));
    CHECK(date_of({{"Date", "yesterday"}}, kNow) == static_cast<int64_t>(kNow / 1000));
    CHECK(date_of({{"Date", ""}}, kNow) == static_cast<int64_t>(kNow / 1000));
    // RFC 9111 §4.3.4: a 304 brings its own Date, or is given the time it arrived.
    std::string block = "HTTP/1.1 200 OK\r\nCache-Control: max-age=600\r\nETag: \"v1\"\r\n";
    std::string later = date_at(kNow + 50'000);
    HeaderField with_date[] = {{"ETag", "\"v1\""}, {"Date", later}};
    CHECK(freshness_after_304(200, block, true, with_date, 2, kNow, kNow + 51'000, p).date_s ==
          static_cast<int64_t>((kNow + 50'000) / 1000));
    HeaderField bare[] = {{"ETag", "\"v1\""}};
    CHECK(freshness_after_304(200, block, true, bare, 1, kNow, kNow + 61'000, p).date_s ==
          static_cast<int64_t>((kNow + 61'000) / 1000));
}

TEST_CASE("Qualified no-cache and private name fields instead of refusing reuse (RFC 9111 §5.2.2.4, §5.2.2.7)",
          "[edge][cache][policy]") {
    using Names = std::vector<std::string_view>;
    CacheControl cc;
    parse_cache_control(R"(no-cache="X-Foo, x-bar", private="Set-Cookie", max-age=60)", &cc);
    CHECK_FALSE(cc.no_cache);
    CHECK_FALSE(cc.private_);
    CHECK(cc.no_cache_fields == Names{"X-Foo", "x-bar"});
    CHECK(cc.private_fields == Names{"Set-Cookie"});
    CHECK(omitted_fields(cc) == Names{"Set-Cookie", "X-Foo", "x-bar"});
    // The unqualified form, in the same field or another line, wins over the qualified one.
    parse_cache_control("no-cache", &cc);
    CHECK(cc.no_cache);
    CHECK(omitted_fields(cc) == Names{"Set-Cookie"});
    CacheControl token;
    parse_cache_control("no-cache=X-Foo, private=\"\"", &token);
    CHECK(token.no_cache_fields == Names{"X-Foo"});
    CHECK(token.private_fields.empty());
    CHECK_FALSE(token.no_cache);
    CHECK_FALSE(token.private_);

    // Stored and reused without revalidation for its max-age.
    Freshness nc = fresh({.cache_control = R"(max-age=60, no-cache="X-Foo")"});
    CHECK(nc.store);
    CHECK(nc.lifetime_ms == 60'000);
    CHECK_FALSE(nc.must_revalidate);
    Freshness pv = fresh({.cache_control = R"(max-age=60, private="X-Foo")"});
    CHECK(pv.store);
    CHECK(pv.lifetime_ms == 60'000);
    CHECK(fresh({.cache_control = R"(max-age=60, no-cache, no-cache="X-Foo")"}).lifetime_ms == 0);
    CHECK_FALSE(fresh({.cache_control = R"(max-age=60, private, private="X-Foo")"}).store);
    CHECK_FALSE(fresh({.cache_control = "max-age=60, private"}).store);

    // Set-Cookie named by either form leaves the stored response, so it no longer keeps it out of the cache.
    auto stored = [](std::vector<HeaderField> h) {
        return compute_freshness(response_facts(200, h.data(), h.size(), kNow, kNow), TtlPolicy{}).store;
    };
    CHECK(stored({{"Cache-Control", R"(max-age=60, private="set-cookie")"}, {"Set-Cookie", "a=b"}}));
    CHECK(stored(
        {{"Cache-Control", R"(no-cache="Set-Cookie")"}, {"Cache-Control", "max-age=60"}, {"Set-Cookie", "a=b"}}));
    CHECK_FALSE(stored({{"Cache-Control", R"(max-age=60, private="X-Foo")"}, {"Set-Cookie", "a=b"}}));
    CHECK_FALSE(stored({{"Cache-Control", R"(max-age=60, private, private="Set-Cookie")"}, {"Set-Cookie", "a=b"}}));

    // After a 304, the directives that apply are the 304's when it has Cache-Control, else the stored ones.
    std::string block = "HTTP/1.1 200 OK\r\nCache-Control: max-age=60, private=\"X-Foo\"\r\nETag: \"e\"\r\n";
    HeaderField bare[] = {{"ETag", "\"e\""}};
    CHECK(omitted_fields(facts_after_304(200, block, true, bare, 1, kNow, kNow).cache_control) == Names{"X-Foo"});
    HeaderField own[] = {{"ETag", "\"e\""}, {"Cache-Control", "max-age=60"}};
    CHECK(omitted_fields(facts_after_304(200, block, true, own, 2, kNow, kNow).cache_control).empty());
}

TEST_CASE(
    "CDN-Cache-Control: a value that is not an RFC 8941 Dictionary is ignored whole; a wrong-typed directive alone",
    "[edge][cache][policy]") {
    CHECK(sf_dictionary_valid("max-age=60"));
    CHECK(sf_dictionary_valid("max-age=60, stale-if-error=30, private, no-cache"));
    CHECK(sf_dictionary_valid("max-age=\"60\""));
    CHECK(sf_dictionary_valid("a;b=?1, c=(1 2 \"x\");d, e=:aGk=:, f=1.25, g=tok/en"));
    CHECK(sf_dictionary_valid(""));
    CHECK_FALSE(sf_dictionary_valid("max-age=10000, &&&&&"));
    CHECK_FALSE(sf_dictionary_valid("Max-Age=60"));
    CHECK_FALSE(sf_dictionary_valid("max-age=60,"));
    CHECK_FALSE(sf_dictionary_valid("max-age=1.2345"));
    CHECK_FALSE(sf_dictionary_valid("a=\"unterminated"));
    CHECK_FALSE(sf_dictionary_valid("a=1 b=2"));

    // The survey's cdn-cc-invalid-sh-type-unknown / -wrong: Cache-Control: no-store must then decide.
    TtlPolicy strict = ttl(0, 0, kYear); // conf/examples/edge-rfc9111.toml: no minimum, no default TTL
    auto with = [&](std::string cdn) {
        std::vector<HeaderField> h = {{"CDN-Cache-Control", cdn}, {"Cache-Control", "no-store"}};
        return compute_freshness(response_facts(200, h.data(), h.size(), kNow, kNow), strict);
    };
    CHECK(with("max-age=10000").store);
    CHECK(with("max-age=10000").lifetime_ms == 10'000'000);
    CHECK_FALSE(with("max-age=10000, &&&&&").store);   // ignored: Cache-Control's no-store decides
    CHECK(with("max-age=\"10000\"").lifetime_ms == 0); // the directive alone is ignored: nothing makes it fresh
}
