#include "edge/http/response_writer.h"

#include <charconv>
#include <cstring>

namespace edge {

std::string_view x_cache_value(CacheResult r) {
    switch (r) {
    case CacheResult::hit: return "Hit from meridian";
    case CacheResult::refresh_hit: return "RefreshHit from meridian";
    case CacheResult::miss: return "Miss from meridian";
    case CacheResult::error: return "Error from meridian";
    case CacheResult::none: break;
    }
    return {};
}

std::string_view result_type_name(CacheResult r) {
    switch (r) {
    case CacheResult::hit: return "Hit";
    case CacheResult::refresh_hit: return "RefreshHit";
    case CacheResult::miss: return "Miss";
    case CacheResult::error: return "Error";
    case CacheResult::none: break;
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

void write_edge_headers(HeadWriter& w, const EdgeHeaders& h) {
    if (!h.date.empty()) w.header("Date", h.date);
    if (h.server) w.header("Server", "meridian");
    if (!h.via.empty()) w.header("Via", h.via);
    if (h.has_age) w.header_uint("Age", h.age);
    if (h.result != CacheResult::none) w.header("X-Cache", x_cache_value(h.result));
    if (!h.keep_alive) w.header("Connection", "close");
    else if (h.http10) w.header("Connection", "keep-alive");
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
