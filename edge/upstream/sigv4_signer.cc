#include "edge/upstream/sigv4_signer.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <algorithm>
#include <ctime>
#include <utility>
#include <vector>

#include "shared/http/http_tokens.h"

namespace edge {
namespace {

constexpr char kHex[] = "0123456789abcdef";
constexpr char kHexUpper[] = "0123456789ABCDEF";

std::string hex(const unsigned char* p, size_t n) {
    std::string s(2 * n, '0');
    for (size_t i = 0; i < n; i++) {
        s[2 * i] = kHex[p[i] >> 4];
        s[2 * i + 1] = kHex[p[i] & 15];
    }
    return s;
}

int hexval(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

// Decodes %XX (a '%' not followed by two hex digits stays as it is: it is then encoded as %25).
std::string decode(std::string_view s) {
    std::string out;
    out.reserve(s.size());
    for (size_t i = 0; i < s.size(); i++) {
        if (s[i] == '%' && i + 2 < s.size() && hexval(s[i + 1]) >= 0 && hexval(s[i + 2]) >= 0) {
            out.push_back(static_cast<char>(hexval(s[i + 1]) * 16 + hexval(s[i + 2])));
            i += 2;
        } else {
            out.push_back(s[i]);
        }
    }
    return out;
}

std::string hmac(std::string_view key, std::string_view data) {
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()), reinterpret_cast<const unsigned char*>(data.data()),
         data.size(), md, &len);
    return std::string(reinterpret_cast<const char*>(md), len);
}

std::string trim_collapse(std::string_view v) {
    // Canonical header values: leading/trailing whitespace trimmed, inner runs of spaces made one.
    v = shared::trim_ows(v);
    std::string out;
    bool space = false;
    for (char c : v) {
        if (c == ' ' || c == '\t') {
            space = true;
            continue;
        }
        if (space && !out.empty()) out.push_back(' ');
        space = false;
        out.push_back(c);
    }
    return out;
}

} // namespace

void sigv4_encode(std::string_view raw, bool keep_slash, std::string* out) {
    for (unsigned char c : raw) {
        bool plain = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
                     c == '.' || c == '_' || c == '~' || (keep_slash && c == '/');
        if (plain) {
            out->push_back(static_cast<char>(c));
        } else {
            out->push_back('%');
            out->push_back(kHexUpper[c >> 4]);
            out->push_back(kHexUpper[c & 15]);
        }
    }
}

std::string sigv4_canonical_uri(std::string_view path) {
    if (path.empty()) return "/";
    std::string out;
    sigv4_encode(decode(path), true, &out);
    return out;
}

std::string sigv4_canonical_query(std::string_view query) {
    std::vector<std::pair<std::string, std::string>> params;
    while (!query.empty()) {
        size_t amp = query.find('&');
        std::string_view item = query.substr(0, amp);
        query = amp == std::string_view::npos ? std::string_view() : query.substr(amp + 1);
        if (item.empty()) continue;
        size_t eq = item.find('=');
        std::string name, value;
        sigv4_encode(decode(item.substr(0, eq)), false, &name);
        if (eq != std::string_view::npos) sigv4_encode(decode(item.substr(eq + 1)), false, &value);
        params.emplace_back(std::move(name), std::move(value));
    }
    std::sort(params.begin(), params.end());
    std::string out;
    for (const auto& [n, v] : params) {
        if (!out.empty()) out.push_back('&');
        out += n;
        out.push_back('=');
        out += v;
    }
    return out;
}

std::string sigv4_amz_date(uint64_t unix_s) {
    std::time_t t = static_cast<std::time_t>(unix_s);
    std::tm tm{};
    gmtime_r(&t, &tm);
    char buf[32];
    std::strftime(buf, sizeof buf, "%Y%m%dT%H%M%SZ", &tm);
    return buf;
}

std::string sha256_hex(std::string_view data) {
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    EVP_Digest(data.data(), data.size(), md, &len, EVP_sha256(), nullptr);
    return hex(md, len);
}

std::string sigv4_signature(const SigV4Config& cfg, std::string_view date, std::string_view string_to_sign) {
    std::string k = hmac("AWS4" + cfg.secret_access_key, date);
    k = hmac(k, cfg.region);
    k = hmac(k, cfg.service);
    k = hmac(k, "aws4_request");
    std::string sig = hmac(k, string_to_sign);
    return hex(reinterpret_cast<const unsigned char*>(sig.data()), sig.size());
}

void sigv4_sign(const SigV4Config& cfg, uint64_t unix_s, std::string_view method, std::string_view body,
                std::string* target, shared::HttpHeaders* headers, std::string* canonical_request) {
    std::string_view t = *target;
    size_t q = t.find('?');
    std::string uri = sigv4_canonical_uri(t.substr(0, q));
    std::string query = q == std::string_view::npos ? std::string() : sigv4_canonical_query(t.substr(q + 1));
    *target = query.empty() ? uri : uri + "?" + query;

    std::erase_if(*headers, [](const shared::HttpHeader& h) {
        return shared::ascii_iequals(h.name, "authorization") || shared::ascii_istarts_with(h.name, "x-amz-");
    });
    std::string amz_date = sigv4_amz_date(unix_s);
    std::string payload = body.empty() ? "UNSIGNED-PAYLOAD" : sha256_hex(body);
    headers->push_back({"x-amz-content-sha256", payload});
    headers->push_back({"x-amz-date", amz_date});
    if (!cfg.session_token.empty()) headers->push_back({"x-amz-security-token", cfg.session_token});

    // Signed: Host and our x-amz-* headers (their values as sent).
    SigV4Input in;
    in.method = method;
    in.canonical_uri = uri;
    in.canonical_query = query;
    in.payload_hash = payload;
    in.amz_date = amz_date;
    for (const auto& h : *headers)
        if (shared::ascii_iequals(h.name, "host") || shared::ascii_istarts_with(h.name, "x-amz-"))
            in.headers.emplace_back(h.name, h.value);
    headers->push_back({"Authorization", sigv4_authorization(cfg, in, canonical_request)});
}

std::string sigv4_authorization(const SigV4Config& cfg, const SigV4Input& in, std::string* canonical_request) {
    std::vector<std::pair<std::string, std::string>> signed_headers;
    for (const auto& [name, value] : in.headers) {
        std::string n = name;
        for (char& c : n)
            c = shared::ascii_lower(c);
        signed_headers.emplace_back(std::move(n), trim_collapse(value));
    }
    std::sort(signed_headers.begin(), signed_headers.end());
    std::string canonical_headers, names;
    for (const auto& [n, v] : signed_headers) {
        canonical_headers += n + ":" + v + "\n";
        if (!names.empty()) names.push_back(';');
        names += n;
    }
    std::string creq = std::string(in.method) + "\n" + std::string(in.canonical_uri) + "\n" +
                       std::string(in.canonical_query) + "\n" + canonical_headers + "\n" + names + "\n" +
                       std::string(in.payload_hash);
    std::string date(in.amz_date.substr(0, 8));
    std::string scope = date + "/" + cfg.region + "/" + cfg.service + "/aws4_request";
    std::string sts = "AWS4-HMAC-SHA256\n" + std::string(in.amz_date) + "\n" + scope + "\n" + sha256_hex(creq);
    if (canonical_request) *canonical_request = std::move(creq);
    return "AWS4-HMAC-SHA256 Credential=" + cfg.access_key_id + "/" + scope + ", SignedHeaders=" + names +
           ", Signature=" + sigv4_signature(cfg, date, sts);
}

} // namespace edge
