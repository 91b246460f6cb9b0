#include "edge/access_log/access_log.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstring>
#include <ctime>

#include "shared/json/json_value.h"

namespace edge {

AccessLogFile::~AccessLogFile() {
    int fd = fd_.exchange(-1);
    if (fd >= 0) ::close(fd);
    if (parked_ >= 0) ::close(parked_);
}

// Workers load fd_ without a lock and may still write to the number they loaded after a swap, so a descriptor number
// that has served as the access log is never closed while the process runs: a new file is put behind it with dup3,
// and turning the log off points it at /dev/null and parks it for the next open(). Closing it would let the next
// accept() or open() reuse the number, and a late log line would land in a client socket or a cached body file.
bool AccessLogFile::open(const std::string& path, std::string* err) {
    if (path.empty()) {
        int old = fd_.load();
        if (old >= 0) {
            int null = ::open("/dev/null", O_WRONLY | O_CLOEXEC);
            if (null < 0) {
                if (err) *err = std::string("cannot open /dev/null: ") + std::strerror(errno);
                return false;
            }
            ::dup3(null, old, O_CLOEXEC);
            ::close(null);
            fd_.store(-1, std::memory_order_release); // writers stop formatting; late ones write to /dev/null
            parked_ = old;
        }
        path_.clear();
        return true;
    }
    int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (fd < 0) {
        if (err) *err = "cannot open access log " + path + ": " + std::strerror(errno);
        return false;
    }
    int old = fd_.load();
    if (old < 0 && parked_ >= 0) {
        old = parked_; // reuse the number parked when the log was turned off
        parked_ = -1;
        ::dup3(fd, old, O_CLOEXEC);
        ::close(fd);
        fd_.store(old, std::memory_order_release);
    } else if (old >= 0) {
        // Replace the file behind the same descriptor number: concurrent writers never see it closed.
        ::dup3(fd, old, O_CLOEXEC);
        ::close(fd);
    } else {
        fd_.store(fd, std::memory_order_release);
    }
    path_ = path;
    return true;
}

void AccessLogFile::reopen() {
    if (path_.empty()) return;
    std::string err;
    std::string p = path_;
    open(p, &err);
}

void AccessLogFile::write(std::string_view lines) const {
    int fd = fd_.load(std::memory_order_acquire);
    if (fd < 0) return;
    while (!lines.empty()) {
        ssize_t n = ::write(fd, lines.data(), lines.size());
        if (n < 0) {
            if (errno == EINTR) continue;
            return; // a full disk must not stop serving
        }
        lines.remove_prefix(static_cast<size_t>(n));
    }
}

namespace {

void put_field(std::string& out, std::string_view v) {
    if (v.empty()) {
        out.push_back('-');
        return;
    }
    static const char hex[] = "0123456789ABCDEF";
    for (unsigned char c : v) {
        // CloudFront URL-encodes spaces and other odd characters in these fields; we do the same so that every
        // line has exactly the expected number of tab-separated fields.
        if (c <= 0x20 || c >= 0x7f || c == '%' || c == '\\' || c == '"') {
            out.push_back('%');
            out.push_back(hex[c >> 4]);
            out.push_back(hex[c & 15]);
        } else {
            out.push_back(static_cast<char>(c));
        }
    }
}

void put_uint(std::string& out, uint64_t v) {
    char buf[24];
    auto r = std::to_chars(buf, buf + sizeof buf, v);
    out.append(buf, static_cast<size_t>(r.ptr - buf));
}

} // namespace

std::string_view LogTimeCache::get(int64_t unix_seconds) {
    if (unix_seconds != sec_) {
        sec_ = unix_seconds;
        time_t t = static_cast<time_t>(unix_seconds);
        struct tm tm;
        gmtime_r(&t, &tm);
        len_ = strftime(buf_, sizeof buf_, "%Y-%m-%d\t%H:%M:%S", &tm);
    }
    return {buf_, len_};
}

void format_access_log_line(const AccessLogEntry& e, std::string& out) {
    LogTimeCache times;
    format_access_log_line(e, times, out);
}

void format_access_log_line(const AccessLogEntry& e, LogTimeCache& times, std::string& out) {
    out.append(times.get(e.unix_ms / 1000));
    out.push_back('\t');
    put_field(out, e.edge);
    out.push_back('\t');
    put_uint(out, e.bytes);
    out.push_back('\t');
    put_field(out, e.client_ip);
    out.push_back('\t');
    put_field(out, e.method);
    out.push_back('\t');
    put_field(out, e.host);
    out.push_back('\t');
    put_field(out, e.uri_stem);
    out.push_back('\t');
    put_uint(out, static_cast<uint64_t>(e.status));
    out.push_back('\t');
    put_field(out, e.referer);
    out.push_back('\t');
    put_field(out, e.user_agent);
    out.push_back('\t');
    put_field(out, e.query);
    out.push_back('\t');
    put_field(out, e.result_type);
    out.push_back('\t');
    char tt[32];
    auto r = std::to_chars(tt, tt + sizeof tt, e.time_taken_s, std::chars_format::fixed, 3);
    out.append(tt, static_cast<size_t>(r.ptr - tt));
    out.push_back('\t');
    put_field(out, e.site);
    out.push_back('\t');
    put_field(out, e.ssl_protocol);
    out.push_back('\t');
    put_field(out, e.ssl_cipher);
    out.push_back('\t');
    put_field(out, e.protocol_version);
    out.push_back('\n');
}

void format_access_log_json(const AccessLogEntry& e, std::string& out) {
    auto str = [&](std::string_view name, std::string_view v) {
        out.append(",\"").append(name).append("\":");
        shared::append_json_string(out, v.empty() ? std::string_view("-") : v);
    };
    char ts[32];
    auto r = std::to_chars(ts, ts + sizeof ts, static_cast<double>(e.unix_ms) / 1000.0, std::chars_format::fixed, 3);
    out.append("{\"timestamp\":").append(ts, static_cast<size_t>(r.ptr - ts));
    str("c-ip", e.client_ip);
    str("c-ip-version", e.client_ip.empty() ? "" : e.client_ip.find(':') != std::string_view::npos ? "IPv6" : "IPv4");
    out.append(",\"sc-status\":");
    put_uint(out, static_cast<uint64_t>(e.status));
    out.append(",\"sc-bytes\":");
    put_uint(out, e.bytes);
    str("cs-method", e.method);
    str("cs-protocol", e.ssl_protocol.empty() ? "http" : "https");
    str("x-host-header", e.host);
    str("cs-uri-stem", e.uri_stem);
    str("cs-uri-query", e.query);
    str("cs-referer", e.referer);
    str("cs-user-agent", e.user_agent);
    str("x-edge-location", e.edge);
    str("x-edge-result-type", e.result_type);
    str("x-edge-response-result-type", e.result_type);
    char tt[32];
    r = std::to_chars(tt, tt + sizeof tt, e.time_taken_s, std::chars_format::fixed, 3);
    out.append(",\"time-taken\":").append(tt, static_cast<size_t>(r.ptr - tt));
    str("cs-protocol-version", e.protocol_version);
    str("ssl-protocol", e.ssl_protocol);
    str("ssl-cipher", e.ssl_cipher);
    str("x-site", e.site);
    out.append("}\n");
}

void AccessLogBuffer::add(const AccessLogEntry& e) {
    if (!enabled()) return;
    if (file_->format() == AccessLogFormat::json) {
        format_access_log_json(e, buf_);
    } else {
        format_access_log_line(e, times_, buf_);
    }
    if (buf_.size() >= kFlushBytes) flush();
}

void AccessLogBuffer::flush() {
    if (buf_.empty()) return;
    if (file_) file_->write(buf_);
    buf_.clear();
}

} // namespace edge
