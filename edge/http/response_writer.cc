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

std::string_view reason_phrase(int status) {
    switch (status) {
    case 100: return "Continue";
    case 200: return "OK";
    case 201: return "Created";
    case 202: return "Accepted";
    case 204: return "No Content";
    case 206: return "Partial Content";
    case 301: return "Moved Permanently";
    case 302: return "Found";
    case 303: return "See Other";
    case 304: return "Not Modified";
    case 307: return "Temporary Redirect";
    case 308: return "Permanent Redirect";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 408: return "Request Timeout";
    case 411: return "Length Required";
    case 412: return "Precondition Failed";
    case 413: return "Content Too Large";
    case 414: return "URI Too Long";
    case 416: return "Range Not Satisfiable";
    case 429: return "Too Many Requests";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 501: return "Not Implemented";
    case 502: return "Bad Gateway";
    case 503: return "Service Unavailable";
    case 504: return "Gateway Timeout";
    default: break;
    }
    return "Unknown";
}

namespace {
const char* const kDays[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
const char* const kMonths[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};

void put2(char* p, int v) {
    p[0] = static_cast<char>('0' + v / 10);
    p[1] = static_cast<char>('0' + v % 10);
}
} // namespace

size_t format_http_date(time_t unix_seconds, char* buf) {
    struct tm tm;
    gmtime_r(&unix_seconds, &tm);
    // "Sun, 06 Nov 1994 08:49:37 GMT"
    std::memcpy(buf, kDays[tm.tm_wday], 3);
    buf[3] = ',';
    buf[4] = ' ';
    put2(buf + 5, tm.tm_mday);
    buf[7] = ' ';
    std::memcpy(buf + 8, kMonths[tm.tm_mon], 3);
    buf[11] = ' ';
    int year = tm.tm_year + 1900;
    put2(buf + 12, (year / 100) % 100);
    put2(buf + 14, year % 100);
    buf[16] = ' ';
    put2(buf + 17, tm.tm_hour);
    buf[19] = ':';
    put2(buf + 20, tm.tm_min);
    buf[22] = ':';
    put2(buf + 23, tm.tm_sec);
    std::memcpy(buf + 25, " GMT", 4);
    return 29;
}

bool parse_http_date(std::string_view s, time_t* out) {
    char tmp[64];
    if (s.size() >= sizeof tmp) return false;
    std::memcpy(tmp, s.data(), s.size());
    tmp[s.size()] = 0;
    struct tm tm {};
    const char* end = strptime(tmp, "%a, %d %b %Y %H:%M:%S GMT", &tm);
    if (!end || *end) {
        tm = {};
        end = strptime(tmp, "%A, %d-%b-%y %H:%M:%S GMT", &tm);
    }
    if (!end || *end) {
        tm = {};
        end = strptime(tmp, "%a %b %e %H:%M:%S %Y", &tm);
    }
    if (!end || *end) return false;
    *out = timegm(&tm);
    return true;
}

std::string_view DateCache::http_date(time_t unix_seconds) {
    if (unix_seconds != sec_) {
        sec_ = unix_seconds;
        len_ = format_http_date(unix_seconds, buf_);
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
    w.header("Server", "meridian");
    if (!h.via.empty()) w.header("Via", h.via);
    if (h.has_age) w.header_uint("Age", h.age);
    if (h.result != CacheResult::none) w.header("X-Cache", x_cache_value(h.result));
    if (!h.keep_alive) w.header("Connection", "close");
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
