#include "edge/config/http2_config.h"

namespace edge {

void parse_http2_config(shared::ConfigSection& root, Http2Config& out) {
    auto sec = root.table("http2");
    if (!sec) return;
    out.enabled = sec->get_bool("enabled", out.enabled);
    out.h2c = sec->get_bool("h2c", out.h2c);
    out.max_concurrent_streams =
        static_cast<uint32_t>(sec->get_int("max_concurrent_streams", out.max_concurrent_streams, 1, 10'000));
    uint64_t hl = sec->get_size("max_header_list_size", out.max_header_list_size);
    if (sec->has("max_header_list_size") && (hl < 1024 || hl > (16u << 20)))
        sec->error("max_header_list_size", "must be between 1KiB and 16MiB");
    out.max_header_list_size = static_cast<uint32_t>(hl);
    out.max_stream_resets =
        static_cast<uint32_t>(sec->get_int("max_stream_resets", out.max_stream_resets, 1, 1'000'000));
    out.reset_window_ms = sec->get_duration_ms("reset_window", out.reset_window_ms);
    if (out.reset_window_ms < 100) sec->error("reset_window", "must be at least 100ms");
    out.stream_buffer_bytes = sec->get_size("stream_buffer_bytes", out.stream_buffer_bytes);
    if (out.stream_buffer_bytes < 16384 || out.stream_buffer_bytes > (64u << 20))
        sec->error("stream_buffer_bytes", "must be between 16KiB and 64MiB");
    sec->finish();
}

} // namespace edge
