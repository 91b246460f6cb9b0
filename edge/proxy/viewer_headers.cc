#include "edge/proxy/viewer_headers.h"

#include <cstring>

#include "shared/http/http_tokens.h"

namespace edge {
namespace {

// The name of the header line at the start of `line` ("" when it has no colon).
std::string_view line_name(std::string_view line) {
    size_t colon = line.find(':');
    return colon == std::string_view::npos ? std::string_view() : line.substr(0, colon);
}

bool block_has_field(std::string_view block, std::string_view lname) {
    for (size_t pos = block.find("\r\n"); pos != std::string_view::npos; pos = block.find("\r\n", pos + 2)) {
        std::string_view rest = block.substr(pos + 2);
        if (rest.size() > lname.size() && rest[lname.size()] == ':' &&
            shared::ascii_iequals(rest.substr(0, lname.size()), lname)) {
            return true;
        }
    }
    return false;
}

} // namespace

bool block_has_dropped(const ResponseHeadersPolicy& p, std::string_view block) {
    size_t eol = block.find("\r\n");
    size_t pos = eol == std::string_view::npos ? block.size() : eol + 2;
    while (pos < block.size()) {
        size_t end = block.find("\r\n", pos);
        if (end == std::string_view::npos) end = block.size();
        if (p.drops(line_name(block.substr(pos, end - pos)))) return true;
        pos = end + 2;
    }
    return false;
}

void strip_dropped_lines(const ResponseHeadersPolicy& p, std::string& out, size_t from) {
    size_t read = from, write = from;
    while (read < out.size()) {
        size_t end = out.find("\r\n", read);
        size_t next = end == std::string::npos ? out.size() : end + 2;
        std::string_view line(out.data() + read, next - read);
        if (!p.drops(line_name(line))) {
            if (write != read) std::memmove(out.data() + write, out.data() + read, next - read);
            write += next - read;
        }
        read = next;
    }
    out.resize(write); // shrinking never allocates
}

void apply_to_edge_headers(const ResponseHeadersPolicy* p, EdgeHeaders* eh) {
    if (!p) return;
    if (p->remove_server) eh->server = false;
    if (p->remove_via) eh->via = {};
    if (p->remove_x_cache) eh->result = CacheResult::none;
    if (p->remove_cache_status) eh->cache_name = {};
}

void append_policy_lines_for_block(const ResponseHeadersPolicy& p, std::string_view origin, std::string_view block,
                                   std::string& out) {
    append_policy_lines(
        p, origin, [&](std::string_view lname) { return block_has_field(block, lname); }, out);
}

void append_preflight_lines(const ResponseHeadersPolicy& p, std::string_view origin, std::string_view request_headers,
                            std::string& out) {
    const CorsPolicy& c = p.cors;
    out.append("Access-Control-Allow-Origin: ");
    out.append(c.any_origin ? std::string_view("*") : origin);
    out.append("\r\n");
    if (!c.any_origin) out.append("Vary: Origin\r\n");
    out.append(p.preflight_lines);
    if (c.any_header && c.allow_credentials) {
        // "*" is a literal name to browsers on a credentialed request: name the headers it asked for.
        out.append("Vary: Access-Control-Request-Headers\r\n");
        if (!request_headers.empty()) {
            out.append("Access-Control-Allow-Headers: ");
            out.append(request_headers);
            out.append("\r\n");
        }
    } else if (!c.allow_headers.empty()) {
        out.append("Access-Control-Allow-Headers: ");
        out.append(c.allow_headers);
        out.append("\r\n");
    }
}

} // namespace edge
