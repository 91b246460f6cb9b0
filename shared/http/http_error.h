// The error vocabulary of Meridian's HTTP client: one value per way an upstream exchange can fail, so that the
// edge can map it to 502/504 and count it, and health checks can log it. Plain data, usable from any thread.
#pragma once

#include <cstdint>

namespace shared {

enum class HttpError : uint8_t {
    None = 0,
    Refused,           // TCP connect refused (ECONNREFUSED) or no route to the address.
    Reset,             // The peer reset or closed the connection before any response byte arrived.
    TimeoutConnect,    // TCP connect (plus TLS handshake) did not finish within connect_timeout.
    TimeoutFirstByte,  // The request was sent but no response byte arrived within first_byte_timeout.
    TimeoutIdle,       // The response started but no byte arrived for idle_timeout.
    BadResponse,       // Unparseable response, headers over the size limit, 101 upgrade, bytes after the end.
    Truncated,         // The connection ended before the response body was complete.
    TlsError,          // Handshake failed: certificate not trusted, hostname mismatch, protocol error.
    ResolveError,      // The origin's host name did not resolve.
    Internal,          // Local failure (socket creation, out of memory); maps to 502.
};

// Short stable name for logs and metric labels: "refused", "reset", "timeout-connect", "timeout-first-byte",
// "timeout-idle", "bad-response", "truncated", "tls-error", "resolve-error", "internal", "none".
const char* http_error_name(HttpError e) noexcept;

// True for the three timeouts (the edge answers 504 for them, 502 for everything else).
constexpr bool http_error_is_timeout(HttpError e) noexcept {
    return e == HttpError::TimeoutConnect || e == HttpError::TimeoutFirstByte || e == HttpError::TimeoutIdle;
}

// The status a proxy answers the viewer with when the origin exchange failed this way: 504 or 502.
constexpr int http_error_status(HttpError e) noexcept { return http_error_is_timeout(e) ? 504 : 502; }

} // namespace shared
