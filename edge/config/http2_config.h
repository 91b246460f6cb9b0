// The [http2] section: HTTP/2 for viewers (ALPN "h2" on the HTTPS listeners, prior-knowledge h2c on the plain ones)
// and its limits, among them the rapid-reset defence (CVE-2023-44487). Read at start and on reload; a reload's
// values apply to connections opened after it.
#pragma once

#include <cstdint>

#include "shared/config/config.h"

namespace edge {

struct Http2Config {
    bool enabled = true; // "h2" is offered by ALPN (when [tls] alpn lists it, as by default)
    bool h2c = true;     // plain listeners accept the HTTP/2 preface (prior knowledge, RFC 9113 §3.3)
    uint32_t max_concurrent_streams = 128; // SETTINGS_MAX_CONCURRENT_STREAMS; more are refused
    uint32_t max_header_list_size = 0;     // SETTINGS_MAX_HEADER_LIST_SIZE; 0 = [limits] max_header_bytes
    uint32_t max_stream_resets = 400;      // streams the viewer may cancel per reset_window before GOAWAY
    uint64_t reset_window_ms = 10'000;
    uint64_t stream_buffer_bytes = 64 << 10; // response bytes queued per stream before its source waits
};

// Reads the [http2] table of `root` (if any) into `out`; problems go to the diagnostics, naming file:line and key.
void parse_http2_config(shared::ConfigSection& root, Http2Config& out);

} // namespace edge
