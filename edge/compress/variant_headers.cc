#include "edge/compress/variant_headers.h"

#include <vector>

#include "edge/cache/cache_policy.h"
#include "shared/http/http_tokens.h"

namespace edge {
namespace {

bool is_identity_coding(std::string_view v) {
    v = shared::trim_ows(v);
    return v.empty() || shared::ascii_iequals(v, "identity");
}

bool lists_accept_encoding(std::string_view vary) {
    bool listed = false;
    shared::for_each_list_item(vary, [&](std::string_view tok) {
        listed |= shared::ascii_iequals(tok, "accept-encoding") || tok == "*";
    });
    return listed;
}

// RFC 9111 §5.2.2.6: an intermediary must not transform a no-transform response (RFC 9110 §7.7), and changing its
// content coding is a transformation.
bool has_no_transform(std::string_view cache_control) {
    bool found = false;
    shared::for_each_list_item(cache_control,
                               [&](std::string_view tok) { found |= shared::ascii_iequals(tok, "no-transform"); });
    return found;
}

std::string_view strip_weak(std::string_view etag) {
    if (etag.size() > 2 && etag[0] == 'W' && etag[1] == '/') etag.remove_prefix(2);
    return etag;
}

// Splits a stored block into its status line (without CRLF) and header fields (views into the block).
std::string_view parse_block(std::string_view block, std::vector<HeaderField>* fields) {
    for_each_stored_header(block, [&](std::string_view name, std::string_view value) { fields->push_back({name, value}); });
    return block.substr(0, block.find("\r\n"));
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
                eq = shared::ascii_lower(rest[i]) == shared::ascii_lower(name[i]);
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
        if (shared::ascii_iequals(fields[i].name, "vary")) return false;
        if (shared::ascii_iequals(fields[i].name, "cache-control") && has_no_transform(fields[i].value)) return false;
        if (shared::ascii_iequals(fields[i].name, "content-type") && ct.empty()) ct = fields[i].value;
        if (shared::ascii_iequals(fields[i].name, "content-encoding") && ce.empty()) ce = fields[i].value;
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
        if (shared::ascii_iequals(f.name, "accept-ranges") || shared::ascii_iequals(f.name, "content-md5") || shared::ascii_iequals(f.name, "content-encoding")) continue;
        if (shared::ascii_iequals(f.name, "etag")) {
            if (f.value.size() > 2 && f.value[0] == 'W' && f.value[1] == '/') {
                out.push_back(f);
            } else {
                weak_etag = "W/" + std::string(f.value);
                out.push_back({f.name, weak_etag});
            }
            continue;
        }
        if (shared::ascii_iequals(f.name, "vary") && !has_vary) {
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
