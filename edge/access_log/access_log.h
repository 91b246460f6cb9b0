// The access log: one tab-separated line per request with CloudFront's standard-log fields
//   date time x-edge-location sc-bytes c-ip cs-method cs(Host) cs-uri-stem sc-status cs(Referer) cs(User-Agent)
//   cs-uri-query x-edge-result-type time-taken x-site ssl-protocol ssl-cipher cs-protocol-version
// (x-site: the [[site]] that answered, "-" for the top-level site or a request no site took; ssl-protocol and
// ssl-cipher: the viewer connection's TLS version and cipher in OpenSSL's names, "-" for plain HTTP;
// cs-protocol-version: "HTTP/1.1", "HTTP/1.0" or "HTTP/2.0", "-" for a request refused before its version.)
// With `format = "json"` each line is one JSON object instead, its members named as CloudFront's real-time logs name
// them (format_access_log_json).
// Workers format lines into their own AccessLogBuffer (no lock, no allocation once warm) and flush whole lines with
// one write(2) to the shared file, so lines never interleave. SIGUSR1 (reopen), a SIGHUP with another file, and
// turning the log off all swap what is behind the same descriptor number (dup3; /dev/null when off) and never close
// it, so a worker writing concurrently never writes into a descriptor the process has since reused.
#pragma once

#include <atomic>
#include <cstdint>
#include <string>
#include <string_view>

namespace edge {

enum class AccessLogFormat : uint8_t {
    text, // CloudFront's standard log: tab-separated fields (the default)
    json, // one JSON object per line (CloudFront real-time log field names)
};

class AccessLogFile {
  public:
    AccessLogFile() = default;
    ~AccessLogFile();
    AccessLogFile(const AccessLogFile&) = delete;
    AccessLogFile& operator=(const AccessLogFile&) = delete;
    // "" turns the log off. Returns false and sets *err when the file cannot be opened (the old one stays). Main
    // thread only (start, SIGHUP, SIGUSR1); write() may run concurrently on any thread.
    bool open(const std::string& path, std::string* err);
    // Opens the same path again (log rotation); keeps the old file when that fails.
    void reopen();
    bool enabled() const { return fd_.load(std::memory_order_acquire) >= 0; }
    void write(std::string_view lines) const;
    const std::string& path() const { return path_; }
    // [access_log] format: set by the main thread (start, SIGHUP), read by the workers for each line.
    void set_format(AccessLogFormat f) { format_.store(f, std::memory_order_relaxed); }
    AccessLogFormat format() const { return format_.load(std::memory_order_relaxed); }

  private:
    std::atomic<int> fd_{-1};
    std::atomic<AccessLogFormat> format_{AccessLogFormat::text};
    int parked_ = -1; // the log's descriptor while the log is off (points at /dev/null); see open()
    std::string path_;
};

struct AccessLogEntry {
    int64_t unix_ms = 0;
    std::string_view edge;
    uint64_t bytes = 0;
    std::string_view client_ip;
    std::string_view method;
    std::string_view host;
    std::string_view uri_stem;
    int status = 0;
    std::string_view referer;
    std::string_view user_agent;
    std::string_view query;
    std::string_view result_type;
    double time_taken_s = 0;
    std::string_view site;             // the [[site]]'s name; "" = the top-level site, or none
    std::string_view ssl_protocol;     // "TLSv1.3"...; "" = plain HTTP
    std::string_view ssl_cipher;       // "TLS_AES_128_GCM_SHA256"...; "" = plain HTTP
    std::string_view protocol_version; // "HTTP/2.0", "HTTP/1.1", "HTTP/1.0"; "" = unknown
};

// Formats one line (fields escaped so they hold no tab, newline or space; empty fields as "-") onto `out`.
void format_access_log_line(const AccessLogEntry& e, std::string& out);

// Formats one line as a JSON object onto `out` (no allocation once `out` has grown): timestamp (Unix seconds with
// milliseconds, a number), c-ip, c-ip-version, sc-status, sc-bytes, cs-method, cs-protocol (http/https),
// x-host-header, cs-uri-stem, cs-uri-query, cs-referer, cs-user-agent, x-edge-location, x-edge-result-type,
// x-edge-response-result-type, time-taken (seconds, a number), cs-protocol-version, ssl-protocol, ssl-cipher, and
// x-site (Meridian's own: the [[site]]). Empty values are "-", as CloudFront writes them; strings are JSON-escaped
// (control characters, quotes, invalid UTF-8 as U+FFFD).
void format_access_log_json(const AccessLogEntry& e, std::string& out);

// "YYYY-MM-DD\tHH:MM:SS" for one worker, recomputed only when the second changes.
class LogTimeCache {
  public:
    std::string_view get(int64_t unix_seconds);

  private:
    int64_t sec_ = -1;
    char buf_[24] = {};
    size_t len_ = 0;
};
void format_access_log_line(const AccessLogEntry& e, LogTimeCache& times, std::string& out);

// One worker's pending lines.
class AccessLogBuffer {
  public:
    explicit AccessLogBuffer(const AccessLogFile* file) : file_(file) { buf_.reserve(kFlushBytes + 4096); }
    ~AccessLogBuffer() { flush(); }
    bool enabled() const { return file_ && file_->enabled(); }
    void add(const AccessLogEntry& e);
    void flush();

    static constexpr size_t kFlushBytes = 32 << 10;

  private:
    const AccessLogFile* file_;
    std::string buf_;
    LogTimeCache times_;
};

} // namespace edge
