#include "edge/cache/stored_headers.h"
#include "shared/http/http_tokens.h"

#include <charconv>

namespace edge {
namespace {

// True when `name` is listed in any Connection header value (RFC 9110 §7.6.1: those fields are hop-by-hop too).
bool named_in_connection(std::string_view name, const HeaderField* h, size_t n) {
    for (size_t i = 0; i < n; ++i) {
        if (!shared::ascii_iequals(h[i].name, "connection")) continue;
        std::string_view v = h[i].value;
        size_t start = 0;
        while (start <= v.size()) {
            size_t comma = v.find(',', start);
            if (comma == std::string_view::npos) comma = v.size();
            std::string_view tok = v.substr(start, comma - start);
            while (!tok.empty() && (tok.front() == ' ' || tok.front() == '\t'))
                tok.remove_prefix(1);
            while (!tok.empty() && (tok.back() == ' ' || tok.back() == '\t'))
                tok.remove_suffix(1);
            if (tok.size() == name.size()) {
                bool eq = true;
                for (size_t k = 0; k < tok.size() && eq; ++k)
                    eq = shared::ascii_lower(tok[k]) == shared::ascii_lower(name[k]);
                if (eq) return true;
            }
            start = comma + 1;
        }
    }
    return false;
}

// Appends `h` to the block unless it is not stored at all; notes where ETag / Last-Modified landed.
void append_stored_field(const HeaderField& h, const HeaderField* all, size_t count, bool keep_set_cookie,
                         const std::vector<std::string_view>& omit, std::string* out, ValidatorSpans* spans) {
    if (is_edge_managed_header(h.name)) return;
    if (!keep_set_cookie && shared::ascii_iequals(h.name, "set-cookie")) return;
    for (std::string_view o : omit)
        if (shared::ascii_iequals(h.name, o)) return;
    if (named_in_connection(h.name, all, count)) return;
    out->append(h.name);
    out->append(": ");
    uint32_t off = static_cast<uint32_t>(out->size());
    out->append(h.value);
    out->append("\r\n");
    if (h.value.size() > UINT16_MAX) return;
    if (shared::ascii_iequals(h.name, "etag") && spans->etag_len == 0) {
        spans->etag_off = off;
        spans->etag_len = static_cast<uint16_t>(h.value.size());
    } else if (shared::ascii_iequals(h.name, "last-modified") && spans->last_modified_len == 0) {
        spans->last_modified_off = off;
        spans->last_modified_len = static_cast<uint16_t>(h.value.size());
    }
}

} // namespace

bool is_edge_managed_header(std::string_view name) {
    static constexpr std::string_view kManaged[] = {
        "connection",     "keep-alive",         "proxy-connection",    "te",   "trailer", "transfer-encoding",
        "upgrade",        "proxy-authenticate", "proxy-authorization", "date", "age",     "x-cache",
        "content-length",
    };
    for (std::string_view m : kManaged) {
        if (shared::ascii_iequals(name, m)) return true;
    }
    return false;
}

bool is_edge_only_header(std::string_view name) {
    return shared::ascii_iequals(name, "cdn-cache-control") || shared::ascii_iequals(name, "surrogate-control") ||
           shared::ascii_iequals(name, "surrogate-key") || shared::ascii_iequals(name, "cache-tag");
}

void append_not_modified_fields(std::string_view block, std::string& out) {
    static constexpr std::string_view kCarried[] = {"cache-control", "content-location", "etag", "expires",
                                                    "vary",          "last-modified"};
    for_each_stored_header(block, [&](std::string_view name, std::string_view value) {
        for (std::string_view c : kCarried) {
            if (shared::ascii_iequals(name, c)) {
                // The whole stored line: name, separator and value exactly as the 200 replays them.
                out.append(name.data(), static_cast<size_t>(value.data() + value.size() - name.data()));
                out.append("\r\n");
                return;
            }
        }
    });
}

std::string_view reason_phrase(int status) {
    switch (status) {
    case 100:
        return "Continue";
    case 102:
        return "Processing";
    case 103:
        return "Early Hints";
    case 200:
        return "OK";
    case 201:
        return "Created";
    case 202:
        return "Accepted";
    case 203:
        return "Non-Authoritative Information";
    case 204:
        return "No Content";
    case 206:
        return "Partial Content";
    case 300:
        return "Multiple Choices";
    case 301:
        return "Moved Permanently";
    case 302:
        return "Found";
    case 303:
        return "See Other";
    case 304:
        return "Not Modified";
    case 307:
        return "Temporary Redirect";
    case 308:
        return "Permanent Redirect";
    case 400:
        return "Bad Request";
    case 401:
        return "Unauthorized";
    case 403:
        return "Forbidden";
    case 404:
        return "Not Found";
    case 405:
        return "Method Not Allowed";
    case 408:
        return "Request Timeout";
    case 410:
        return "Gone";
    case 411:
        return "Length Required";
    case 412:
        return "Precondition Failed";
    case 413:
        return "Content Too Large";
    case 414:
        return "URI Too Long";
    case 416:
        return "Range Not Satisfiable";
    case 431:
        return "Request Header Fields Too Large";
    case 500:
        return "Internal Server Error";
    case 501:
        return "Not Implemented";
    case 502:
        return "Bad Gateway";
    case 503:
        return "Service Unavailable";
    case 504:
        return "Gateway Timeout";
    case 508:
        return "Loop Detected";
    default:
        return "Unknown";
    }
}

std::string build_stored_header_block(int status, std::string_view reason, const HeaderField* headers, size_t count,
                                      bool keep_set_cookie, ValidatorSpans* validators,
                                      const std::vector<std::string_view>& omit) {
    std::string out;
    size_t need = 32;
    for (size_t i = 0; i < count; ++i)
        need += headers[i].name.size() + headers[i].value.size() + 4;
    out.reserve(need);
    if (status < 100 || status > 999) status = 500;
    char num[4];
    std::to_chars(num, num + 3, status);
    out.append("HTTP/1.1 ");
    out.append(num, 3);
    out.push_back(' ');
    out.append(reason.empty() ? reason_phrase(status) : reason);
    out.append("\r\n");
    ValidatorSpans spans;
    bool edge_only = false;
    for (int pass = 0; pass < 2; ++pass) {
        // Pass 0: the fields viewers get; pass 1: the edge-only ones, after them.
        for (size_t i = 0; i < count; ++i) {
            const HeaderField& h = headers[i];
            if (is_edge_only_header(h.name) != (pass == 1)) continue;
            if (pass == 1 && !edge_only) {
                edge_only = true;
                spans.edge_fields_off = static_cast<uint32_t>(out.size());
            }
            append_stored_field(h, headers, count, keep_set_cookie, omit, &out, &spans);
        }
    }
    if (validators) *validators = spans;
    return out;
}

namespace {

bool updatable_by_304(std::string_view name) {
    return !is_edge_managed_header(name) && !shared::ascii_iequals(name, "content-encoding") &&
           !shared::ascii_iequals(name, "vary");
}

} // namespace

bool merge_stored_header_block(std::string_view stored, const HeaderField* update, size_t count, bool keep_set_cookie,
                               std::string* out, ValidatorSpans* validators,
                               const std::vector<std::string_view>& omit) {
    // "HTTP/1.1 200 OK": status at 9..12, the reason after it.
    size_t eol = stored.find("\r\n");
    std::string_view status_line = stored.substr(0, eol == std::string_view::npos ? stored.size() : eol);
    int status = 500;
    if (status_line.size() >= 12) std::from_chars(status_line.data() + 9, status_line.data() + 12, status);
    std::string_view reason = status_line.size() > 13 ? status_line.substr(13) : std::string_view();

    auto updated = [&](std::string_view name) {
        for (size_t i = 0; i < count; ++i)
            if (shared::ascii_iequals(update[i].name, name) && updatable_by_304(update[i].name)) return true;
        return false;
    };
    std::vector<HeaderField> merged;
    merged.reserve(count + 16);
    std::vector<std::string_view> placed; // names whose 304 values are in already
    for_each_stored_header(stored, [&](std::string_view n, std::string_view v) {
        if (!updated(n)) {
            merged.push_back({n, v});
            return;
        }
        for (std::string_view p : placed)
            if (shared::ascii_iequals(p, n)) return;
        placed.push_back(n);
        for (size_t i = 0; i < count; ++i)
            if (shared::ascii_iequals(update[i].name, n)) merged.push_back(update[i]);
    });
    for (size_t i = 0; i < count; ++i) {
        if (!updatable_by_304(update[i].name)) continue;
        bool in_stored = false;
        for_each_stored_header(stored, [&](std::string_view n, std::string_view) {
            in_stored = in_stored || shared::ascii_iequals(n, update[i].name);
        });
        if (!in_stored) merged.push_back(update[i]);
    }
    std::string block =
        build_stored_header_block(status, reason, merged.data(), merged.size(), keep_set_cookie, validators, omit);
    if (block == stored) return false;
    *out = std::move(block);
    return true;
}

} // namespace edge
