#include "edge/http/response_writer.h"

#include <algorithm>
#include <charconv>
#include <cstring>

namespace edge {

std::string_view x_cache_value(CacheResult r) {
    switch (r) {
    case CacheResult::hit:
        return "Hit from meridian";
    case CacheResult::refresh_hit:
        return "RefreshHit from meridian";
    case CacheResult::miss:
        return "Miss from meridian";
    case CacheResult::error:
        return "Error from meridian";
    case CacheResult::redirect:
        return "Redirect from meridian";
    case CacheResult::none:
        break;
    }
    return {};
}

std::string_view result_type_name(CacheResult r) {
    switch (r) {
    case CacheResult::hit:
        return "Hit";
    case CacheResult::refresh_hit:
        return "RefreshHit";
    case CacheResult::miss:
        return "Miss";
    case CacheResult::error:
        return "Error";
    case CacheResult::redirect:
        return "Redirect";
    case CacheResult::none:
        break;
    }
    return "-";
}

std::string_view DateCache::http_date(int64_t unix_seconds) {
    if (unix_seconds != sec_) {
        sec_ = unix_seconds;
        format_http_date(unix_seconds, buf_);
        len_ = kHttpDateLen;
    }
    return {buf_, len_};
}
void HeadWriter::status_line(int status, bool http10) {
    out_.append(http10 ? "HTTP/1.0 " : "HTTP/1.1 ");
    char num[8];
    auto r = std::to_chars(num, num + sizeof num, status);
    out_.append(num, static_cast<size_t>(r.ptr - num));
    out_.push_back(' ');
    out_.append(reason_phrase(status));
    out_.append("\r\n");
}

void HeadWriter::header(std::string_view name, std::string_view value) {
    out_.append(name);
    out_.append(": ");
    out_.append(value);
    out_.append("\r\n");
}

void HeadWriter::header_uint(std::string_view name, uint64_t value) {
    char num[24];
    auto r = std::to_chars(num, num + sizeof num, value);
    header(name, std::string_view(num, static_cast<size_t>(r.ptr - num)));
}

namespace {

std::string_view fwd_name(CacheStatus::Fwd f) {
    switch (f) {
    case CacheStatus::Fwd::bypass:
        return "bypass";
    case CacheStatus::Fwd::method:
        return "method";
    case CacheStatus::Fwd::uri_miss:
        return "uri-miss";
    case CacheStatus::Fwd::stale:
        return "stale";
    case CacheStatus::Fwd::none:
        break;
    }
    return {};
}

// "<name>; hit; ttl=N" / "<name>; fwd=uri-miss; fwd-status=200; stored; collapsed; ttl=N; detail=x", built on the
// stack (the hit path allocates nothing).
void write_cache_status(HeadWriter& w, std::string_view name, const CacheStatus& cs) {
    char buf[192];
    size_t n = 0;
    auto put = [&](std::string_view s) {
        size_t k = std::min(s.size(), sizeof buf - n);
        std::memcpy(buf + n, s.data(), k);
        n += k;
    };
    auto num = [&](int64_t v) {
        char d[24];
        auto r = std::to_chars(d, d + sizeof d, v);
        put(std::string_view(d, static_cast<size_t>(r.ptr - d)));
    };
    put(name.substr(0, 64));
    if (cs.fwd == CacheStatus::Fwd::none) {
        put("; hit");
    } else {
        put("; fwd=");
        put(fwd_name(cs.fwd));
        if (cs.fwd_status) {
            put("; fwd-status=");
            num(cs.fwd_status);
        }
    }
    if (cs.stored) put("; stored");
    if (cs.collapsed) put("; collapsed");
    if (cs.has_ttl) {
        put("; ttl=");
        num(cs.ttl);
    }
    if (!cs.detail.empty()) {
        put("; detail=");
        put(cs.detail);
    }
    w.header("Cache-Status", std::string_view(buf, n));
}

} // namespace

void write_edge_headers(HeadWriter& w, const EdgeHeaders& h) {
    if (!h.date.empty()) w.header("Date", h.date);
    if (h.server) w.header("Server", "meridian");
    if (!h.via.empty()) w.header("Via", h.via);
    if (h.has_age) w.header_uint("Age", h.age);
    if (h.result != CacheResult::none) w.header("X-Cache", x_cache_value(h.result));
    if (h.cache_status.present && !h.cache_name.empty()) write_cache_status(w, h.cache_name, h.cache_status);
    if (!h.keep_alive)
        w.header("Connection", "close");
    else if (h.http10)
        w.header("Connection", "keep-alive");
}

void write_simple_response(std::string& out, int status, std::string_view body, const EdgeHeaders& h, bool head_only,
                           std::string_view extra_header_lines) {
    HeadWriter w(out);
    w.status_line(status);
    write_edge_headers(w, h);
    out.append(extra_header_lines);
    w.header("Content-Type", "text/plain; charset=utf-8");
    w.header_uint("Content-Length", body.size());
    w.end();
    if (!head_only) out.append(body);
}

} // namespace edge
