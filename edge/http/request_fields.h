// Request fields a proxy never forwards from the viewer: the hop-by-hop ones (RFC 9110 §7.6.1) and those the edge
// writes itself (Host, Via, X-Forwarded-For, Content-Length) or answers itself (Expect). One list for the origin
// request builder and for the config, which refuses them as forwarding or cache key choices. Pure, any thread.
#pragma once

#include <string_view>

namespace edge {

// Case-insensitive.
bool is_never_forwarded_request_field(std::string_view name);

} // namespace edge
