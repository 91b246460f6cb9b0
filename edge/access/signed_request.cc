#include "edge/access/signed_request.h"

#include <charconv>

#include <openssl/err.h>
#include <openssl/evp.h>

#include "edge/access/signed_policy.h"
#include "edge/access/url_safe_base64.h"
#include "edge/http/cookie_header.h"
#include "shared/http/http_tokens.h"

namespace edge {

namespace {

// Calls f(name, value, whole_pair) for each '&'-separated pair of `query`.
template <typename F> void for_each_param(std::string_view query, F&& f) {
    while (!query.empty()) {
        size_t amp = query.find('&');
        std::string_view pair = query.substr(0, amp);
        query = amp == std::string_view::npos ? std::string_view() : query.substr(amp + 1);
        size_t eq = pair.find('=');
        f(pair.substr(0, eq), eq == std::string_view::npos ? std::string_view() : pair.substr(eq + 1), pair);
    }
}

bool verify_with(const TrustedKey& k, bool sha256_rsa, std::string_view data, std::string_view sig) {
    EVP_MD_CTX* ctx = EVP_MD_CTX_new();
    if (!ctx) return false;
    const EVP_MD* md = k.ec || sha256_rsa ? EVP_sha256() : EVP_sha1();
    bool ok = EVP_DigestVerifyInit(ctx, nullptr, md, nullptr, k.key.get()) == 1 &&
              EVP_DigestVerify(ctx, reinterpret_cast<const unsigned char*>(sig.data()), sig.size(),
                               reinterpret_cast<const unsigned char*>(data.data()), data.size()) == 1;
    EVP_MD_CTX_free(ctx);
    ERR_clear_error(); // a failed verification leaves entries that would confuse the next TLS call on this thread
    return ok;
}

} // namespace

std::string_view to_string(SignedDenial d) {
    switch (d) {
    case SignedDenial::none:
        return "ok";
    case SignedDenial::missing:
        return "missing";
    case SignedDenial::malformed:
        return "malformed";
    case SignedDenial::unknown_key:
        return "unknown_key";
    case SignedDenial::bad_signature:
        return "bad_signature";
    case SignedDenial::expired:
        return "expired";
    case SignedDenial::not_yet_valid:
        return "not_yet_valid";
    case SignedDenial::wrong_ip:
        return "wrong_ip";
    case SignedDenial::resource_mismatch:
        return "resource_mismatch";
    }
    return "malformed";
}

bool is_signing_param(std::string_view name) {
    return name == "Expires" || name == "Policy" || name == "Signature" || name == "Key-Pair-Id" ||
           name == "Hash-Algorithm";
}

SignedParams signed_params_from_query(std::string_view query) {
    SignedParams p;
    for_each_param(query, [&](std::string_view name, std::string_view value, std::string_view) {
        if (name == "Expires")
            p.expires = value;
        else if (name == "Policy")
            p.policy = value;
        else if (name == "Signature")
            p.signature = value;
        else if (name == "Key-Pair-Id")
            p.key_pair_id = value;
        else if (name == "Hash-Algorithm")
            p.hash_algorithm = value;
    });
    return p;
}

SignedParams signed_params_from_cookies(std::span<const HeaderField> headers) {
    SignedParams p;
    for_each_cookie(headers, [&](std::string_view name, std::string_view value) {
        if (name == "CloudFront-Expires")
            p.expires = value;
        else if (name == "CloudFront-Policy")
            p.policy = value;
        else if (name == "CloudFront-Signature")
            p.signature = value;
        else if (name == "CloudFront-Key-Pair-Id")
            p.key_pair_id = value;
        else if (name == "CloudFront-Hash-Algorithm")
            p.hash_algorithm = value;
        return true;
    });
    return p;
}

std::string_view query_without_signing_params(std::string_view query, std::string* buf) {
    bool found = false;
    for_each_param(query, [&](std::string_view name, std::string_view, std::string_view) {
        found = found || is_signing_param(name);
    });
    if (!found) return query;
    buf->clear();
    for_each_param(query, [&](std::string_view name, std::string_view, std::string_view pair) {
        if (is_signing_param(name) || pair.empty()) return;
        if (!buf->empty()) buf->push_back('&');
        buf->append(pair);
    });
    return *buf;
}

std::string viewer_url(std::string_view scheme, std::string_view host, std::string_view path, std::string_view query) {
    std::string url;
    url.reserve(scheme.size() + 3 + host.size() + path.size() + 1 + query.size());
    url.append(scheme);
    url.append("://");
    for (char c : host)
        url.push_back(shared::ascii_lower(c));
    url.append(path);
    if (!query.empty()) {
        url.push_back('?');
        url.append(query);
    }
    return url;
}

SignedDenial verify_signed_request(const TrustedKeys& keys, const SignedParams& p, std::string_view url, int64_t now,
                                   std::string_view client_ip, std::string* detail) {
    std::string scratch;
    std::string& why = detail ? *detail : scratch;
    if (!p.any()) return SignedDenial::missing;
    bool canned = p.policy.empty();
    if (p.signature.empty() || p.key_pair_id.empty() || (canned && p.expires.empty())) {
        why = "incomplete: needs Expires or Policy, Signature and Key-Pair-Id";
        return SignedDenial::malformed;
    }
    bool sha256 = false;
    if (!p.hash_algorithm.empty()) {
        if (p.hash_algorithm == "SHA256") {
            sha256 = true;
        } else if (p.hash_algorithm != "SHA1") {
            why = "Hash-Algorithm must be SHA1 or SHA256";
            return SignedDenial::malformed;
        }
    }
    std::string sig;
    if (!url_safe_base64_decode(p.signature, &sig) || sig.empty()) {
        why = "Signature is not URL-safe base64";
        return SignedDenial::malformed;
    }

    std::string policy_text;
    int64_t expires = 0;
    if (canned) {
        auto [end, ec] = std::from_chars(p.expires.data(), p.expires.data() + p.expires.size(), expires);
        if (ec != std::errc() || end != p.expires.data() + p.expires.size() || expires < 0) {
            why = "Expires is not Unix seconds";
            return SignedDenial::malformed;
        }
        policy_text = canned_policy(url, expires);
    } else if (!url_safe_base64_decode(p.policy, &policy_text)) {
        why = "Policy is not URL-safe base64";
        return SignedDenial::malformed;
    }

    // Which key: a group may hold several keys under one id only across groups; any of them may verify.
    bool known = false, verified = false;
    for (const TrustedKey& k : keys.keys) {
        if (k.id != p.key_pair_id) continue;
        known = true;
        if (verify_with(k, sha256, policy_text, sig)) {
            verified = true;
            break;
        }
    }
    if (!known) {
        why = "Key-Pair-Id \"" + std::string(p.key_pair_id.substr(0, 64)) + "\" is not trusted here";
        return SignedDenial::unknown_key;
    }
    if (!verified) {
        why = canned ? "signature does not match the URL and Expires" : "signature does not match the policy";
        return SignedDenial::bad_signature;
    }

    // Only a policy whose signature holds is read: what an attacker sends is never parsed.
    if (canned) {
        if (now >= expires) {
            why = "expired at " + std::to_string(expires);
            return SignedDenial::expired;
        }
        return SignedDenial::none;
    }
    SignedPolicy pol;
    if (!parse_signed_policy(policy_text, &pol, &why)) return SignedDenial::malformed;
    if (pol.resource && !resource_matches(*pol.resource, url)) {
        why = "Resource \"" + *pol.resource + "\" does not match \"" + std::string(url) + "\"";
        return SignedDenial::resource_mismatch;
    }
    if (now >= pol.date_less_than) {
        why = "expired at " + std::to_string(pol.date_less_than);
        return SignedDenial::expired;
    }
    if (pol.date_greater_than && now < *pol.date_greater_than) {
        why = "valid from " + std::to_string(*pol.date_greater_than);
        return SignedDenial::not_yet_valid;
    }
    if (pol.source_ip && !ip_in_prefix(*pol.source_ip, client_ip)) {
        why = "client " + std::string(client_ip) + " is outside the policy's AWS:SourceIp";
        return SignedDenial::wrong_ip;
    }
    return SignedDenial::none;
}

} // namespace edge
