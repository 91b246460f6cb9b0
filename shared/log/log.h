// Structured logging: `2026-11-25T20:01:02.123Z info edge msg="listening" addr=127.0.0.1:8080`, or with
// `[log] format = "json"` one JSON object per line, for log shippers (Vector, Fluent Bit, Loki, CloudWatch):
// `{"time":"2026-11-25T20:01:02.123Z","level":"info","daemon":"meridian-edge","component":"edge",
// "message":"listening","fields":{"addr":"127.0.0.1:8080"}}` (strings escaped so any bytes make valid JSON).
// Thread-safe (one write(2) per line, so lines from several workers never interleave). Goes to stderr, or to a
// file that reopen() opens again (SIGUSR1, for log rotation). set_file() and reopen() swap the file behind one
// descriptor number with dup3 and never close it, so a line being written concurrently cannot land in a socket or
// file that reused the number.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <string>
#include <string_view>
#include <utility>

namespace shared::log {

enum class Level { debug = 0, info = 1, warn = 2, error = 3 };

using Field = std::pair<std::string_view, std::string_view>;

enum class Format { text = 0, json = 1 };

// "debug" | "info" | "warn" | "error"
bool parse_level(std::string_view s, Level* out);
void set_level(Level level);
bool enabled(Level level);
// "text" | "json"
bool parse_format(std::string_view s, Format* out);
void set_format(Format format);
// The program name JSON lines carry as "daemon" ("meridian-edge"); set once at start, before other threads log.
void set_daemon(std::string_view name);
// Empty path or "stderr" = stderr. Returns false and sets *err when the file cannot be opened.
bool set_file(const std::string& path, std::string* err);
void reopen(); // after rotation; keeps the old fd when the new open fails

void write(Level level, std::string_view component, std::string_view msg, std::initializer_list<Field> fields = {});
// One line as write() formats it (with its '\n'), appended to `out`: `unix_ms` is the time it carries.
void format_line(std::string& out, Format format, std::string_view daemon, int64_t unix_ms, Level level,
                 std::string_view component, std::string_view msg, std::initializer_list<Field> fields);
inline void debug(std::string_view c, std::string_view m, std::initializer_list<Field> f = {}) {
    if (enabled(Level::debug)) write(Level::debug, c, m, f);
}
inline void info(std::string_view c, std::string_view m, std::initializer_list<Field> f = {}) {
    write(Level::info, c, m, f);
}
inline void warn(std::string_view c, std::string_view m, std::initializer_list<Field> f = {}) {
    write(Level::warn, c, m, f);
}
inline void error(std::string_view c, std::string_view m, std::initializer_list<Field> f = {}) {
    write(Level::error, c, m, f);
}

} // namespace shared::log
