#include "edge/cache/cache_policy.h"

#include <algorithm>

#include "edge/http/http_date.h"
#include "edge/http/structured_field.h"
#include "shared/http/http_tokens.h"

namespace edge {
namespace {

constexpr int64_t kDeltaMax = int64_t{1} << 31; // RFC 9111 §1.2.2

uint64_t sat_mul_1000(int64_t s) {
    return s <= 0 ? 0 : static_cast<uint64_t>(s) * 1000u;
}

// The field names of a qualified no-cache / private argument (RFC 9111 §5.2.2.4: a quoted list; the token form
// "no-cache=a" is taken as well, as most caches do). An argument with no name in it (no-cache="") counts as a
// qualified directive naming nothing, never as the unqualified one.
void field_names(std::string_view arg, std::vector<std::string_view>* out) {
    shared::for_each_list_item(arg, [out](std::string_view name) { out->push_back(name); });
}

} // namespace

int64_t parse_delta_seconds(std::string_view s) {
    if (s.empty()) return -1;
    int64_t v = 0;
    for (char c : s) {
        if (c < '0' || c > '9') return -1;
        if (v < kDeltaMax) v = v * 10 + (c - '0');
    }
    return std::min(v, kDeltaMax);
}

void parse_cache_control(std::string_view value, CacheControl* cc) {
    shared::for_each_list_item(value, [cc](std::string_view item) {
        std::string_view name = item, arg;
        bool has_arg = false;
        if (size_t eq = item.find('='); eq != std::string_view::npos) {
            name = shared::trim_ows(item.substr(0, eq));
            arg = shared::trim_ows(item.substr(eq + 1));
            has_arg = true;
            if (arg.size() >= 2 && arg.front() == '"' && arg.back() == '"') arg = arg.substr(1, arg.size() - 2);
        }
        auto delta = [&](int64_t* slot) {
            // RFC 9111 §4.2.1: with repeated directives use the first; an invalid value means "stale" (0).
            if (*slot >= 0) return;
            int64_t v = has_arg ? parse_delta_seconds(arg) : -1;
            *slot = v < 0 ? 0 : v;
        };
        if (shared::ascii_iequals(name, "max-age")) {
            delta(&cc->max_age);
        } else if (shared::ascii_iequals(name, "s-maxage")) {
            delta(&cc->s_maxage);
        } else if (shared::ascii_iequals(name, "no-store")) {
            cc->no_store = true;
        } else if (shared::ascii_iequals(name, "no-cache")) {
            if (has_arg)
                field_names(arg, &cc->no_cache_fields);
            else
                cc->no_cache = true;
        } else if (shared::ascii_iequals(name, "private")) {
            if (has_arg)
                field_names(arg, &cc->private_fields);
            else
                cc->private_ = true;
        } else if (shared::ascii_iequals(name, "public")) {
            cc->public_ = true;
        } else if (shared::ascii_iequals(name, "must-revalidate")) {
            cc->must_revalidate = true;
        } else if (shared::ascii_iequals(name, "proxy-revalidate")) {
            cc->proxy_revalidate = true;
        } else if (shared::ascii_iequals(name, "must-understand")) {
            cc->must_understand = true;
        } else if (shared::ascii_iequals(name, "stale-while-revalidate")) {
            if (cc->stale_while_revalidate < 0 && has_arg) cc->stale_while_revalidate = parse_delta_seconds(arg);
        } else if (shared::ascii_iequals(name, "stale-if-error")) {
            if (cc->stale_if_error < 0 && has_arg) cc->stale_if_error = parse_delta_seconds(arg);
        }
    });
}

bool status_understood(int status) {
    // The status codes RFC 9110 §15 defines.
    return (status >= 200 && status <= 206) || (status >= 300 && status <= 308 && status != 306) ||
           (status >= 400 && status <= 417) || (status >= 421 && status <= 422) || status == 426 ||
           (status >= 500 && status <= 505);
}

bool status_storable(int status, bool has_explicit_freshness) {
    switch (status) {
    case 200:
    case 203:
    case 204:
    case 300:
    case 301:
    case 308:
    case 404:
    case 405:
    case 410:
    case 414:
        return true;
    case 206: // whole objects only
    case 304: // a revalidation's answer, merged into what is stored
        return false;
    default:
        // RFC 9111 §3: any other final status may be stored when the origin gave it explicit freshness (an error
        // the origin says may be reused for 10 s is reused for 10 s); without it, only the statuses above are
        // heuristically cacheable (error caching then follows the behavior's error_ttl).
        return status >= 200 && has_explicit_freshness;
    }
}

namespace {

// RFC 9213 §2.1: a cache that obeys a targeted field ignores Cache-Control and Expires. CDN-Cache-Control outranks
// Surrogate-Control, whose directives may carry a ";<device>" target (ignored: this edge obeys them all).
struct TargetedControls {
    CacheControl cdn, surrogate;
    bool has_cdn = false, has_surrogate = false;
    bool cdn_valid = true; // every CDN-Cache-Control line parses as an RFC 8941 Dictionary

    bool take(std::string_view name, std::string_view value) {
        if (shared::ascii_iequals(name, "cdn-cache-control")) {
            // RFC 9213 §2.1: a Structured Field; one that does not parse is ignored whole, and a directive whose value
            // has the wrong type (max-age="60": a String, not an Integer) is ignored alone.
            cdn_valid = cdn_valid && sf_dictionary_valid(value);
            shared::for_each_list_item(value, [&](std::string_view item) {
                size_t eq = item.find('=');
                if (eq != std::string_view::npos && shared::trim_ows(item.substr(eq + 1)).starts_with('"')) return;
                parse_cache_control(item, &cdn);
            });
            has_cdn = true;
            return true;
        }
        if (shared::ascii_iequals(name, "surrogate-control")) {
            shared::for_each_list_item(
                value, [&](std::string_view item) { parse_cache_control(item.substr(0, item.find(';')), &surrogate); });
            has_surrogate = true;
            return true;
        }
        return false;
    }
    // The targeted field this edge obeys, or null (none, or only an invalid CDN-Cache-Control).
    const CacheControl* chosen() const {
        if (has_cdn && cdn_valid) return &cdn;
        return has_surrogate ? &surrogate : nullptr;
    }
    void apply(ResponseFacts* f) const {
        const CacheControl* c = chosen();
        if (!c) return;
        f->cache_control = *c;
        f->expires = {};
        f->targeted = true;
    }
};

} // namespace

ResponseFacts response_facts(int status, const HeaderField* headers, size_t count, uint64_t request_time_ms,
                             uint64_t response_time_ms) {
    ResponseFacts f;
    f.status = status;
    f.request_time_ms = request_time_ms;
    f.response_time_ms = response_time_ms;
    bool vary_blocking = false;
    TargetedControls targeted;
    for (size_t i = 0; i < count; ++i) {
        std::string_view n = headers[i].name, v = headers[i].value;
        if (shared::ascii_iequals(n, "cache-control")) {
            parse_cache_control(v, &f.cache_control);
        } else if (targeted.take(n, v)) {
            continue;
        } else if (shared::ascii_iequals(n, "expires")) {
            if (f.expires.empty()) f.expires = v.empty() ? std::string_view("invalid") : v;
        } else if (shared::ascii_iequals(n, "date")) {
            if (f.date.empty()) f.date = v;
        } else if (shared::ascii_iequals(n, "age")) {
            if (f.age.empty()) f.age = v;
        } else if (shared::ascii_iequals(n, "set-cookie")) {
            f.has_set_cookie = true;
        } else if (shared::ascii_iequals(n, "etag") || shared::ascii_iequals(n, "last-modified")) {
            f.has_validators = true;
            if (f.last_modified.empty() && (n[0] == 'l' || n[0] == 'L')) f.last_modified = v;
        } else if (shared::ascii_iequals(n, "vary") && !vary_blocking) {
            bool other = false;
            shared::for_each_list_item(v, [&](std::string_view item) {
                if (!shared::ascii_iequals(item, "accept-encoding")) other = true;
            });
            if (other || f.vary.empty()) f.vary = v.empty() ? f.vary : v;
            vary_blocking = other;
        }
    }
    targeted.apply(&f);
    if (f.has_set_cookie) {
        // Set-Cookie named by a qualified no-cache / private is left out of what is stored, so it no longer keeps
        // the response out of the cache.
        for (std::string_view n : omitted_fields(f.cache_control))
            if (shared::ascii_iequals(n, "set-cookie")) f.has_set_cookie = false;
    }
    return f;
}

std::vector<std::string_view> omitted_fields(const CacheControl& cc) {
    std::vector<std::string_view> out;
    if (!cc.private_) out = cc.private_fields;
    if (!cc.no_cache) out.insert(out.end(), cc.no_cache_fields.begin(), cc.no_cache_fields.end());
    return out;
}

StaleWindows stale_windows(std::string_view stored_fields) {
    CacheControl cc;
    TargetedControls targeted;
    for_each_stored_header(stored_fields, [&](std::string_view n, std::string_view v) {
        if (shared::ascii_iequals(n, "cache-control"))
            parse_cache_control(v, &cc);
        else
            targeted.take(n, v);
    });
    if (const CacheControl* t = targeted.chosen()) cc = *t;
    StaleWindows w;
    if (cc.must_revalidate || cc.proxy_revalidate || cc.no_cache) return w;
    if (cc.stale_while_revalidate > 0) w.while_revalidate_ms = static_cast<uint64_t>(cc.stale_while_revalidate) * 1000;
    if (cc.stale_if_error > 0) w.if_error_ms = static_cast<uint64_t>(cc.stale_if_error) * 1000;
    return w;
}

Freshness freshness_after_304(int stored_status, std::string_view stored_header_block, bool has_validators,
                              const HeaderField* headers_304, size_t count, uint64_t request_time_ms,
                              uint64_t response_time_ms, const TtlPolicy& policy) {
    return compute_freshness(facts_after_304(stored_status, stored_header_block, has_validators, headers_304, count,
                                             request_time_ms, response_time_ms),
                             policy);
}

ResponseFacts facts_after_304(int stored_status, std::string_view stored_header_block, bool has_validators,
                              const HeaderField* headers_304, size_t count, uint64_t request_time_ms,
                              uint64_t response_time_ms) {
    ResponseFacts fresh304 = response_facts(stored_status, headers_304, count, request_time_ms, response_time_ms);
    bool has_cc = false, has_expires = false;
    for (size_t i = 0; i < count; ++i) {
        has_cc |= shared::ascii_iequals(headers_304[i].name, "cache-control");
        has_expires |= shared::ascii_iequals(headers_304[i].name, "expires");
    }
    ResponseFacts f = fresh304;
    // What the 304 does not update keeps its stored value.
    CacheControl stored_cc;
    std::string_view stored_expires, stored_vary;
    bool stored_cookie = false;
    TargetedControls stored_targeted;
    for_each_stored_header(stored_header_block, [&](std::string_view n, std::string_view v) {
        if (shared::ascii_iequals(n, "cache-control")) {
            parse_cache_control(v, &stored_cc);
        } else if (stored_targeted.take(n, v)) {
            return;
        } else if (shared::ascii_iequals(n, "expires")) {
            if (stored_expires.empty()) stored_expires = v.empty() ? std::string_view("invalid") : v;
        } else if (shared::ascii_iequals(n, "vary")) {
            if (stored_vary.empty()) stored_vary = v;
        } else if (shared::ascii_iequals(n, "set-cookie")) {
            stored_cookie = true;
        }
    });
    if (!fresh304.targeted) {
        if (!has_cc) f.cache_control = stored_cc;
        if (!has_expires) f.expires = stored_expires;
        // A stored targeted field the 304 did not replace still outranks Cache-Control and Expires.
        stored_targeted.apply(&f);
    }
    if (f.vary.empty()) f.vary = stored_vary;
    f.has_set_cookie = f.has_set_cookie || stored_cookie;
    if (f.has_set_cookie) {
        for (std::string_view n : omitted_fields(f.cache_control))
            if (shared::ascii_iequals(n, "set-cookie")) f.has_set_cookie = false;
    }
    f.has_validators = has_validators || f.has_validators;
    return f;
}

uint64_t corrected_initial_age_ms(int64_t date_s, int64_t age_s, uint64_t request_time_ms, uint64_t response_time_ms) {
    // RFC 9111 §4.2.3
    uint64_t apparent_age = 0;
    if (date_s >= 0) {
        uint64_t date_ms = sat_mul_1000(date_s);
        apparent_age = response_time_ms > date_ms ? response_time_ms - date_ms : 0;
    }
    uint64_t response_delay = response_time_ms > request_time_ms ? response_time_ms - request_time_ms : 0;
    uint64_t corrected_age_value = (age_s > 0 ? sat_mul_1000(age_s) : 0) + response_delay;
    return std::max(apparent_age, corrected_age_value);
}

uint32_t age_seconds(uint64_t age_origin_ms, uint64_t now_ms) {
    if (now_ms <= age_origin_ms) return 0;
    uint64_t s = (now_ms - age_origin_ms) / 1000;
    return s > kDeltaMax ? static_cast<uint32_t>(kDeltaMax) : static_cast<uint32_t>(s);
}

Freshness compute_freshness(const ResponseFacts& f, const TtlPolicy& p) {
    Freshness out;
    const CacheControl& cc = f.cache_control;

    int64_t date_s = f.date.empty() ? -1 : parse_http_date(f.date).value_or(-1);
    // A list ("7200, 0" on one line, as two Age lines are combined) counts by its first member, like the first of two
    // lines does (RFC 9111 §5.1: a cache uses the first value; the rest is invalid and ignored).
    std::string_view age_first = f.age.substr(0, f.age.find(','));
    int64_t age_s = f.age.empty() ? -1 : parse_delta_seconds(shared::trim_ows(age_first));

    // RFC 9111 §4.2.1: s-maxage (shared caches) > max-age > Expires - Date.
    bool explicit_fresh = false;
    uint64_t explicit_ms = 0;
    if (cc.s_maxage >= 0) {
        explicit_fresh = true;
        explicit_ms = sat_mul_1000(cc.s_maxage);
    } else if (cc.max_age >= 0) {
        explicit_fresh = true;
        explicit_ms = sat_mul_1000(cc.max_age);
    } else if (!f.expires.empty()) {
        explicit_fresh = true;
        // An invalid Expires (e.g. "0") means already expired (RFC 9111 §5.3).
        if (auto exp = parse_http_date(shared::trim_ows(f.expires))) {
            uint64_t base_ms = date_s >= 0 ? sat_mul_1000(date_s) : f.response_time_ms;
            uint64_t exp_ms = sat_mul_1000(*exp);
            explicit_ms = exp_ms > base_ms ? exp_ms - base_ms : 0;
        }
    }

    out.date_s = date_s >= 0 ? date_s : static_cast<int64_t>(f.response_time_ms / 1000);
    out.corrected_initial_age_ms = corrected_initial_age_ms(date_s, age_s, f.request_time_ms, f.response_time_ms);
    out.age_origin_ms =
        f.response_time_ms > out.corrected_initial_age_ms ? f.response_time_ms - out.corrected_initial_age_ms : 0;

    auto refuse = [&](StoreReason r) {
        out.store = false;
        out.reason = r;
        out.lifetime_ms = 0;
        out.expires_at_ms = 0;
        return out;
    };

    if (!status_storable(f.status, explicit_fresh)) return refuse(StoreReason::status);
    // RFC 9111 §3, §5.2.2.3: with must-understand, only a status whose semantics this cache knows may be stored.
    if (cc.must_understand && !status_understood(f.status)) return refuse(StoreReason::status);
    if (f.has_set_cookie && !p.cache_set_cookie) return refuse(StoreReason::set_cookie);
    if (!f.vary.empty()) {
        bool other = false, star = false;
        shared::for_each_list_item(f.vary, [&](std::string_view item) {
            if (!shared::ascii_iequals(item, "accept-encoding")) other = true;
            if (item == "*") star = true;
        });
        if (star || (other && !p.vary_variants)) return refuse(StoreReason::vary);
    }
    // RFC 9111 §3.5
    if (f.request_had_authorization && !cc.public_ && cc.s_maxage < 0 && !cc.must_revalidate) {
        return refuse(StoreReason::authorization);
    }

    bool is_error = f.status >= 400;
    uint64_t lifetime;
    if (explicit_fresh) {
        lifetime = std::clamp(explicit_ms, p.min_ttl_ms, std::max(p.min_ttl_ms, p.max_ttl_ms));
    } else if (is_error) {
        lifetime = std::min(p.error_ttl_ms, p.max_ttl_ms);
    } else {
        uint64_t ttl = p.default_ttl_ms;
        if (p.heuristic_fraction > 0 && !f.last_modified.empty()) {
            // RFC 9111 §4.2.2: a fraction of the time since the last change (RFC suggests 10%), capped.
            auto lm = parse_http_date(shared::trim_ows(f.last_modified));
            uint64_t base_ms = date_s >= 0 ? sat_mul_1000(date_s) : f.response_time_ms;
            ttl = 0;
            if (lm && sat_mul_1000(*lm) < base_ms) {
                double h = static_cast<double>(base_ms - sat_mul_1000(*lm)) * p.heuristic_fraction;
                ttl = h >= static_cast<double>(p.heuristic_max_ms) ? p.heuristic_max_ms : static_cast<uint64_t>(h);
            }
        }
        lifetime = std::clamp(ttl, p.min_ttl_ms, std::max(p.min_ttl_ms, p.max_ttl_ms));
    }
    // RFC 9111 §5.2.2.10: s-maxage also implies proxy-revalidate.
    out.must_revalidate = cc.must_revalidate || cc.proxy_revalidate || cc.s_maxage >= 0;
    out.keep_stale = p.keep_stale && !out.must_revalidate;

    if (p.min_ttl_ms == 0) {
        // RFC 9111 as written: a shared cache does not store no-store or private responses, and revalidates
        // no-cache ones before every use.
        // must-understand (RFC 9111 §5.2.2.3) overrides no-store for a status this cache understands — every
        // status status_storable() let through.
        if (cc.no_store && !cc.must_understand) return refuse(StoreReason::no_store);
        if (cc.private_) return refuse(StoreReason::private_);
        if (cc.no_cache) {
            lifetime = 0;
            out.must_revalidate = true;
        }
    } else if (cc.no_store || cc.private_ || cc.no_cache) {
        // CloudFront: with a minimum TTL > 0 the object is cached regardless: for the minimum TTL, or for what
        // max-age/Expires say when that is longer (the clamp above already keeps it >= min_ttl).
        if (!explicit_fresh) lifetime = p.min_ttl_ms;
    }

    // A 0-lifetime object is only of use with validators, or while a stale window (RFC 5861) lets it be served.
    bool stale_window = !cc.must_revalidate && !cc.proxy_revalidate && !cc.no_cache &&
                        (cc.stale_while_revalidate > 0 || cc.stale_if_error > 0);
    if (lifetime == 0 && !f.has_validators && !stale_window) return refuse(StoreReason::zero_ttl);
    out.store = true;
    out.reason = StoreReason::stored;
    out.lifetime_ms = lifetime;
    out.expires_at_ms = out.age_origin_ms + lifetime;
    return out;
}

} // namespace edge
