#include "edge/compress/content_coding.h"
#include "shared/http/http_tokens.h"

#include <algorithm>

namespace edge {
namespace {

bool is_tchar(char c) {
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) return true;
    switch (c) {
    case '!':
    case '#':
    case '$':
    case '%':
    case '&':
    case '\'':
    case '*':
    case '+':
    case '-':
    case '.':
    case '^':
    case '_':
    case '`':
    case '|':
    case '~':
        return true;
    default:
        return false;
    }
}

// RFC 9110 §12.4.2 qvalue: "0" ["." 0*3DIGIT] / "1" ["." 0*3("0")], in thousandths. -1 when malformed.
int parse_qvalue(std::string_view v) {
    if (v.empty() || v.size() > 5 || (v[0] != '0' && v[0] != '1')) return -1;
    int q = v[0] == '1' ? 1000 : 0;
    if (v.size() == 1) return q;
    if (v[1] != '.') return -1;
    int scale = 100;
    for (size_t i = 2; i < v.size(); ++i) {
        if (v[i] < '0' || v[i] > '9') return -1;
        q += (v[i] - '0') * scale;
        scale /= 10;
    }
    return q > 1000 ? -1 : q;
}

} // namespace

ContentCoding negotiate_content_coding(std::string_view ae, bool br_available) noexcept {
    // Thousandths; -1 = not mentioned.
    int q_br = -1, q_gzip = -1, q_star = -1;
    while (!ae.empty()) {
        size_t comma = ae.find(',');
        std::string_view member = ae.substr(0, comma);
        ae = comma == std::string_view::npos ? std::string_view() : ae.substr(comma + 1);
        size_t semi = member.find(';');
        std::string_view coding = shared::trim_ows(member.substr(0, semi));
        if (coding.empty()) continue;
        bool token = true;
        for (char c : coding)
            token = token && is_tchar(c);
        if (!token) continue;
        int q = 1000;
        bool ok = true;
        // Parameters: only q matters; any malformed parameter discards the member (garbage is harmless).
        while (ok && semi != std::string_view::npos) {
            std::string_view rest = member.substr(semi + 1);
            semi = rest.find(';');
            std::string_view param = shared::trim_ows(rest.substr(0, semi));
            member = rest;
            size_t eq = param.find('=');
            if (eq == std::string_view::npos) {
                ok = false;
                break;
            }
            std::string_view name = shared::trim_ows(param.substr(0, eq));
            if (shared::ascii_iequals(name, "q")) {
                q = parse_qvalue(shared::trim_ows(param.substr(eq + 1)));
                ok = q >= 0;
            }
        }
        if (!ok) continue;
        if (shared::ascii_iequals(coding, "br"))
            q_br = q;
        else if (shared::ascii_iequals(coding, "gzip") || shared::ascii_iequals(coding, "x-gzip"))
            q_gzip = std::max(q_gzip, q);
        else if (coding == "*")
            q_star = q;
    }
    if (q_br < 0) q_br = q_star;
    if (q_gzip < 0) q_gzip = q_star;
    if (br_available && q_br > 0) return ContentCoding::br;
    if (q_gzip > 0) return ContentCoding::gzip;
    return ContentCoding::identity;
}

std::string_view content_coding_name(ContentCoding c) noexcept {
    switch (c) {
    case ContentCoding::gzip:
        return "gzip";
    case ContentCoding::br:
        return "br";
    case ContentCoding::identity:
        break;
    }
    return "identity";
}

bool is_compressible_type(std::string_view ct) noexcept {
    ct = shared::trim_ows(ct.substr(0, ct.find(';')));
    if (ct.empty()) return false;
    // A stream that never ends cannot be compressed as a whole object.
    if (shared::ascii_iequals(ct, "text/event-stream")) return false;
    if (shared::ascii_istarts_with(ct, "text/")) return true;
    static constexpr std::string_view kTypes[] = {
        "application/javascript",
        "application/x-javascript",
        "application/ecmascript",
        "application/json",
        "application/xml",
        "application/wasm",
        "application/x-sh",
        "application/vnd.ms-fontobject",
        "application/x-font-ttf",
        "application/x-font-opentype",
        "application/x-font-truetype",
        "application/graphql",
        "image/svg+xml",
        "font/ttf",
        "font/otf",
        "font/eot",
        "font/opentype",
    };
    for (std::string_view t : kTypes) {
        if (shared::ascii_iequals(ct, t)) return true;
    }
    // Structured-syntax suffixes (RFC 6838 §4.2.8): manifest+json, ld+json, rss+xml, atom+xml, xhtml+xml...
    if (shared::ascii_istarts_with(ct, "application/") && (shared::ascii_iends_with(ct, "+json") || shared::ascii_iends_with(ct, "+xml"))) return true;
    return false;
}

void variant_key(std::string_view identity_key, ContentCoding c, std::string* out) {
    out->clear();
    out->append(identity_key);
    out->push_back('\0');
    out->append(content_coding_name(c));
}

} // namespace edge
