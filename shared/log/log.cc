#include "shared/log/log.h"

#include <fcntl.h>
#include <sys/time.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <ctime>
#include <mutex>

#include "shared/json/json_value.h"

namespace shared::log {

namespace {
std::atomic<int> g_level{static_cast<int>(Level::info)};
std::atomic<int> g_format{static_cast<int>(Format::text)};
std::string g_daemon; // set before any other thread runs, read-only after
std::atomic<int> g_fd{2};
std::mutex g_file_mu; // guards g_path and fd swaps (reopen is rare)
std::string g_path;

const char* level_name(Level l) {
    switch (l) {
    case Level::debug:
        return "debug";
    case Level::info:
        return "info";
    case Level::warn:
        return "warn";
    case Level::error:
        return "error";
    }
    return "info";
}

// Values with spaces, quotes or '=' are quoted so lines stay machine-parseable.
void append_value(std::string& out, std::string_view v) {
    bool plain = !v.empty();
    for (char c : v)
        if (c == ' ' || c == '"' || c == '=' || c == '\n' || c == '\t' || static_cast<unsigned char>(c) < 0x20) {
            plain = false;
            break;
        }
    if (plain) {
        out.append(v);
        return;
    }
    out += '"';
    for (char c : v) {
        if (c == '"' || c == '\\') {
            out += '\\';
            out += c;
        } else if (c == '\n') {
            out += "\\n";
        } else if (static_cast<unsigned char>(c) < 0x20) {
            out += ' ';
        } else {
            out += c;
        }
    }
    out += '"';
}
} // namespace

bool parse_level(std::string_view s, Level* out) {
    if (s == "debug")
        *out = Level::debug;
    else if (s == "info")
        *out = Level::info;
    else if (s == "warn" || s == "warning")
        *out = Level::warn;
    else if (s == "error")
        *out = Level::error;
    else
        return false;
    return true;
}

bool parse_format(std::string_view s, Format* out) {
    if (s == "text")
        *out = Format::text;
    else if (s == "json")
        *out = Format::json;
    else
        return false;
    return true;
}

void set_format(Format format) {
    g_format.store(static_cast<int>(format), std::memory_order_relaxed);
}
void set_daemon(std::string_view name) {
    g_daemon.assign(name);
}

void set_level(Level level) {
    g_level.store(static_cast<int>(level), std::memory_order_relaxed);
}
bool enabled(Level level) {
    return static_cast<int>(level) >= g_level.load(std::memory_order_relaxed);
}

// Writers load g_fd without a lock and may write to it after a swap, so a descriptor number that has served as the
// log is never closed: it is re-pointed with dup3 (atomically, keeping O_CLOEXEC). Closing it instead would let the
// next accept() or open() reuse the number, and a late log line would land in a client socket or a cached body file.
bool set_file(const std::string& path, std::string* err) {
    std::lock_guard<std::mutex> lk(g_file_mu);
    int cur = g_fd.load();
    if (path.empty() || path == "stderr") {
        if (cur != 2) ::dup3(2, cur, O_CLOEXEC); // the number stays ours, now writing to stderr
        g_path.clear();
        return true;
    }
    int fd = ::open(path.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) {
        if (err) *err = "cannot open log file " + path + ": " + std::strerror(errno);
        return false;
    }
    if (cur == 2) {
        g_fd.store(fd);
    } else {
        ::dup3(fd, cur, O_CLOEXEC);
        ::close(fd);
    }
    g_path = path;
    return true;
}

void reopen() {
    std::lock_guard<std::mutex> lk(g_file_mu);
    if (g_path.empty()) return;
    int fd = ::open(g_path.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) return; // keep logging to the old file rather than nowhere
    int cur = g_fd.load();
    if (cur == 2) {
        g_fd.store(fd);
        return;
    }
    ::dup3(fd, cur, O_CLOEXEC);
    ::close(fd);
}

void format_line(std::string& out, Format format, std::string_view daemon, int64_t unix_ms, Level level,
                 std::string_view component, std::string_view msg, std::initializer_list<Field> fields) {
    time_t sec = static_cast<time_t>(unix_ms / 1000);
    tm t;
    gmtime_r(&sec, &t);
    char ts[64];
    std::snprintf(ts, sizeof ts, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", t.tm_year + 1900, t.tm_mon + 1, t.tm_mday,
                  t.tm_hour, t.tm_min, t.tm_sec, static_cast<int>(unix_ms % 1000));
    if (format == Format::json) {
        out += "{\"time\":\"";
        out += ts;
        out += "\",\"level\":\"";
        out += level_name(level);
        out += "\",\"daemon\":";
        append_json_string(out, daemon);
        out += ",\"component\":";
        append_json_string(out, component);
        out += ",\"message\":";
        append_json_string(out, msg);
        out += ",\"fields\":{";
        bool first = true;
        for (const auto& [k, v] : fields) {
            if (!first) out += ',';
            first = false;
            append_json_string(out, k);
            out += ':';
            append_json_string(out, v);
        }
        out += "}}\n";
        return;
    }
    out += ts;
    out += ' ';
    out += level_name(level);
    out += ' ';
    out.append(component);
    out += " msg=";
    append_value(out, msg);
    for (const auto& [k, v] : fields) {
        out += ' ';
        out.append(k);
        out += '=';
        append_value(out, v);
    }
    out += '\n';
}

void write(Level level, std::string_view component, std::string_view msg, std::initializer_list<Field> fields) {
    if (!enabled(level)) return;
    timeval tv;
    gettimeofday(&tv, nullptr);
    std::string line;
    line.reserve(128);
    format_line(line, static_cast<Format>(g_format.load(std::memory_order_relaxed)), g_daemon,
                static_cast<int64_t>(tv.tv_sec) * 1000 + tv.tv_usec / 1000, level, component, msg, fields);
    // One write per line: lines from several threads never interleave (O_APPEND for files).
    int fd = g_fd.load(std::memory_order_relaxed);
    const char* p = line.data();
    size_t left = line.size();
    while (left > 0) {
        ssize_t n = ::write(fd, p, left);
        if (n < 0) {
            if (errno == EINTR) continue;
            return;
        }
        p += n;
        left -= static_cast<size_t>(n);
    }
}

} // namespace shared::log
