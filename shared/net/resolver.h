// Asynchronous host name resolution with c-ares on a libuv loop (Node's cares_wrap pattern): one c-ares channel
// per loop, each c-ares socket watched by a uv_poll, one timer re-armed from ares_timeout(). Answers are cached
// per (host, family) for their TTL (clamped to [min_ttl, max_ttl]); concurrent lookups of one name share one
// query. Numeric hosts ("127.0.0.1", "::1", "[::1]") resolve synchronously without c-ares. /etc/hosts is
// honoured (c-ares "fb" lookup order), so "localhost" works.
//
// Thread: a Resolver and everything it hands out belong to the thread running its loop.
#pragma once

#include "shared/net/address.h"

#include <uv.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace shared {

struct ResolverOptions {
    uint32_t query_timeout_ms = 2000;  // per try (ARES_OPT_TIMEOUTMS)
    int tries = 2;                     // ARES_OPT_TRIES
    uint32_t min_ttl_ms = 1000;        // floor for caching (hosts-file answers carry TTL 0)
    uint32_t max_ttl_ms = 300000;      // ceiling for caching
    uint32_t negative_ttl_ms = 1000;   // how long a failed lookup is remembered
    // Non-empty: use these name servers ("127.0.0.1:53,[::1]:53", ares_set_servers_ports_csv format) instead
    // of /etc/resolv.conf.
    std::string servers;
};

// Status codes handed to callbacks: 0 on success, otherwise a c-ares status (ARES_ENOTFOUND, ARES_ETIMEOUT, ...).
// resolve_status_string() turns them into text.
const char* resolve_status_string(int status) noexcept;

class Resolver {
public:
    // Called exactly once per resolve() that was not cancelled. On success `addrs` is non-empty and every entry
    // carries the port given to resolve(); IPv4 addresses come before IPv6 ones. May run synchronously from
    // inside resolve() (numeric host, cache hit, hosts file).
    using Callback = std::function<void(int status, const std::vector<SocketAddress>& addrs)>;
    using RequestId = uint64_t;

    // Creates the channel. On failure ok() is false and error() says why.
    explicit Resolver(uv_loop_t* loop, ResolverOptions opts = {});
    // Cancels outstanding lookups (their callbacks do not run) and closes the uv handles; the handle memory is
    // released by the loop's close callbacks, so the loop must run once more before uv_loop_close().
    // Must not run from inside one of the resolver's own callbacks (c-ares is on the stack then).
    ~Resolver();
    Resolver(const Resolver&) = delete;
    Resolver& operator=(const Resolver&) = delete;

    bool ok() const;
    const std::string& error() const;

    // Resolves `host` (name or IP literal, IPv6 optionally in brackets). family: AF_UNSPEC (both), AF_INET or
    // AF_INET6. Returns an id for cancel(), or 0 if the callback already ran synchronously.
    RequestId resolve(std::string_view host, uint16_t port, int family, Callback cb);
    // The callback of `id` will not run. Harmless for ids that already completed.
    void cancel(RequestId id);
    // Drops every cached answer (for tests and SIGHUP).
    void clear_cache();

    // Resolves an IP literal without any I/O; nullopt if `host` is not one.
    static std::optional<SocketAddress> parse_numeric(std::string_view host, uint16_t port);

    struct Impl;

private:
    Impl* impl_;  // freed by the last uv close callback after ~Resolver
};

} // namespace shared
