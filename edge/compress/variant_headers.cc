#include "edge/compress/variant_headers.h"

#include <vector>

namespace edge {
namespace {

char lower(char c) {
    return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
}

bool ieq(std::string_view a, std::string_view lower_b) {
    if (a.size() != lower_b.size()) return false;
    for (size_t i = 0; i < a.size(); ++i) {
        if (lower(a[i]) != lower_b[i]) return false;
    }
    return true;
}

bool is_identity_coding(std::string_view v) {
    while (!v.empty() && (v.front() == ' ' || v.front() == '\t'))
        v.remove_prefix(1);
    while (!v.empty() && (v.back() == ' ' || v.back() == '\t'))
        v.remove_suffix(1);
    return v.empty() || ieq(v, "identity");
}

bool lists_accept_encoding(std::string_view vary) {
    size_t start = 0;
    while (start <= vary.size()) {
        size_t comma = vary.find(',', start);
        if (comma == std::string_view::npos) comma = vary.size();
        std::string_view tok = vary.substr(start, comma - start);
        while (!tok.empty() && (tok.front() == ' ' || tok.front() == '\t'))
            tok.remove_prefix(1);
        while (!tok.empty() && (tok.back() == ' ' || tok.back() == '\t'))
            tok.remove_suffix(1);
        if (ieq(tok, "accept-encoding") || tok == "*") return true;
        start = comma + 1;
    }
    return false;
}

// RFC 9111 §5.2.2.6: an intermediary must not transform a no-transform response (RFC 9110 §7.7), and changing its
// content coding is a transformation.
bool has_no_transform(std::string_view cache_control) {
    size_t start = 0;
    while (start <= cache_control.size()) {
        size_t comma = cache_control.find(',', start);
        if (comma == std::string_view::npos) comma = cache_control.size();
        std::string_view tok = cache_control.substr(start, comma - start);
        while (!tok.empty() && (tok.front() == ' ' || tok.front() == '\t'))
            tok.remove_prefix(1);
        while (!tok.empty() && (tok.back() == ' ' || tok.back() == '\t'))
            tok.remove_suffix(1);
        if (ieq(tok, "no-transform")) return true;
        start = comma + 1;
    }
    return false;
}

std::string_view strip_weak(std::string_view etag) {
    if (etag.size() > 2 && etag[0] == 'W' && etag[1] == '/') etag.remove_prefix(2);
    return etag;
}

// Splits a stored block into its status line (without CRLF) and header fields (views into the block).
std::string_view parse_block(std::string_view block, std::vector<HeaderField>* fields) {
    size_t eol = block.find("\r\n");
    std::string_view status_line = block.substr(0, eol);
    size_t pos = eol == std::string_view::npos ? block.size() : eol + 2;
    while (pos < block.size()) {
        size_t end = block.find("\r\n", pos);
        if (end == std::string_view::npos) end = block.size();
        std::string_view line = block.substr(pos, end - pos);
        size_t colon = line.find(':');
        if (colon != std::string_view::npos) {
            std::string_view v = line.substr(colon + 1);
            while (!v.empty() && v.front() == ' ')
                v.remove_prefix(1);
            fields->push_back({line.substr(0, colon), v});
        }
        pos = end + 2;
    }
    return status_line;
}

// "HTTP/1.1 200 OK" → the reason phrase.
std::string_view reason_of(std::string_view status_line) {
    size_t sp = status_line.find(' ');
    if (sp == std::string_view::npos) return {};
    size_t sp2 = status_line.find(' ', sp + 1);
    return sp2 == std::string_view::npos ? std::string_view() : status_line.substr(sp2 + 1);
}

} // namespace

std::string_view block_header(std::string_view block, std::string_view name, bool* found) noexcept {
    for (size_t pos = block.find("\r\n"); pos != std::string_view::npos; pos = block.find("\r\n", pos + 2)) {
        std::string_view rest = block.substr(pos + 2);
        if (rest.size() > name.size() && rest[name.size()] == ':') {
            bool eq = true;
            for (size_t i = 0; i < name.size() && eq; ++i)
                eq = lower(rest[i]) == lower(name[i]);
            if (eq) {
                std::string_view v = rest.substr(name.size() + 1);
                v = v.substr(0, v.find("\r\n"));
                while (!v.empty() && (v.front() == ' ' || v.front() == '\t'))
                    v.remove_prefix(1);
                if (found) *found = true;
                return v;
            }
        }
    }
    if (found) *found = false;
    return {};
}

bool variant_eligible_headers(int status, std::string_view block) noexcept {
    if (status != 200) return false;
    if (!is_compressible_type(block_header(block, "content-type"))) return false;
    if (has_no_transform(block_header(block, "cache-control"))) return false;
    return is_identity_coding(block_header(block, "content-encoding"));
}

bool variant_eligible(const CachedObject& o) noexcept {
    if (!o.complete()) return false;
    uint64_t size = o.body().size();
    if (size < kMinCompressBytes || size > kMaxCompressBytes) return false;
    return variant_eligible_headers(o.status(), o.header_block());
}

bool identity_needs_vary(int status, const HeaderField* fields, size_t count) noexcept {
    if (status != 200) return false;
    std::string_view ct, ce;
    for (size_t i = 0; i < count; ++i) {
        if (ieq(fields[i].name, "vary")) return false;
        if (ieq(fields[i].name, "cache-control") && has_no_transform(fields[i].value)) return false;
        if (ieq(fields[i].name, "content-type") && ct.empty()) ct = fields[i].value;
        if (ieq(fields[i].name, "content-encoding") && ce.empty()) ce = fields[i].value;
    }
    return is_compressible_type(ct) && is_identity_coding(ce);
}

std::string variant_header_block(std::string_view identity_block, ContentCoding c, ValidatorSpans* validators) {
    std::vector<HeaderField> in, out;
    in.reserve(24);
    std::string_view status_line = parse_block(identity_block, &in);
    out.reserve(in.size() + 2);
    std::string weak_etag;
    std::string merged_vary;
    bool has_vary = false;
    for (const HeaderField& f : in) {
        if (ieq(f.name, "accept-ranges") || ieq(f.name, "content-md5") || ieq(f.name, "content-encoding")) continue;
        if (ieq(f.name, "etag")) {
            if (f.value.size() > 2 && f.value[0] == 'W' && f.value[1] == '/') {
                out.push_back(f);
            } else {
                weak_etag = "W/" + std::string(f.value);
                out.push_back({f.name, weak_etag});
            }
            continue;
        }
        if (ieq(f.name, "vary") && !has_vary) {
            has_vary = true;
            if (!lists_accept_encoding(f.value)) {
                merged_vary = std::string(f.value) + (f.value.empty() ? "" : ", ") + "Accept-Encoding";
                out.push_back({f.name, merged_vary});
                continue;
            }
        }
        out.push_back(f);
    }
    out.push_back({"Content-Encoding", content_coding_name(c)});
    if (!has_vary) out.push_back({"Vary", "Accept-Encoding"});
    return build_stored_header_block(200, reason_of(status_line), out.data(), out.size(), true, validators);
}

std::string marker_header_block(std::string_view identity_block, ValidatorSpans* validators) {
    HeaderField f[2];
    size_t n = 0;
    bool found = false;
    std::string_view etag = block_header(identity_block, "etag", &found);
    if (found) f[n++] = {"ETag", etag};
    std::string_view lm = block_header(identity_block, "last-modified", &found);
    if (found) f[n++] = {"Last-Modified", lm};
    return build_stored_header_block(200, "", f, n, true, validators);
}

bool variant_tied(const CachedObject& v, const CachedObject& identity) noexcept {
    return variant_tied(v, identity, identity.expires_at_ms());
}

bool variant_tied(const CachedObject& v, const CachedObject& identity, uint64_t identity_expires_at_ms) noexcept {
    return v.expires_at_ms() == identity_expires_at_ms && strip_weak(v.etag()) == strip_weak(identity.etag()) &&
           v.last_modified() == identity.last_modified();
}

} // namespace edge
