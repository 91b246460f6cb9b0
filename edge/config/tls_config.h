// The [tls] section: the HTTPS listener for viewers (addresses, certificates chosen by SNI, ciphers, ALPN, session
// ticket key rotation). Parsing checks every certificate and key by loading them (TlsServerContext::create), so a
// bad file is reported at its key with OpenSSL's reason, by --check and by a reload alike.
#pragma once

#include <cstdint>
#include <vector>

#include "shared/config/config.h"
#include "shared/net/address.h"
#include "shared/tls/tls_server_context.h"

namespace edge {

struct TlsConfig {
    std::vector<shared::SocketAddress> listen; // empty = no HTTPS listener
    shared::TlsServerOptions options;          // ticket_keys left null: the running process supplies its key ring
    uint64_t session_ticket_rotation_ms = 3'600'000;
    bool enabled() const { return !listen.empty(); }
};

// Reads the [tls] table of `root` (if any) into `out`; problems go to the diagnostics, naming file:line and key.
void parse_tls_config(shared::ConfigSection& root, TlsConfig& out);

} // namespace edge
