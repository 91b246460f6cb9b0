#include "edge/origin/request_path.h"

namespace edge {
namespace {

int hex_value(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

} // namespace

std::string_view to_string(PathError e) {
    switch (e) {
    case PathError::none: return "ok";
    case PathError::not_origin_form: return "request path must start with '/'";
    case PathError::bad_escape: return "invalid percent-escape in path";
    case PathError::encoded_slash: return "encoded '/' (%2F) in path";
    case PathError::nul: return "NUL byte in path";
    case PathError::control: return "control character in path";
    case PathError::backslash: return "backslash in path";
    case PathError::escapes_root: return "path climbs above the root";
    case PathError::too_long: return "path too long";
    }
    return "bad path";
}

TargetParts split_target(std::string_view target) {
    TargetParts t;
    if (size_t hash = target.find('#'); hash != std::string_view::npos) target = target.substr(0, hash);
    size_t q = target.find('?');
    if (q == std::string_view::npos) {
        t.path = target;
    } else {
        t.path = target.substr(0, q);
        t.query = target.substr(q + 1);
        t.has_query = true;
    }
    return t;
}

size_t normalize_request_path(std::string_view raw, char* out, size_t cap, PathError* err) {
    *err = PathError::none;
    auto fail = [err](PathError e) {
        *err = e;
        return size_t{0};
    };
    if (raw.empty() || raw[0] != '/') return fail(PathError::not_origin_form);
    if (cap == 0) return fail(PathError::too_long);

    // One pass: decode a segment at a time into `out`, then resolve it against what is already written.
    // `len` is the length of the normalized prefix, which always ends with '/'.
    size_t len = 0;
    out[len++] = '/';
    size_t i = 1;
    while (true) {
        size_t seg_start = len;
        // Decode one segment (up to the next raw '/').
        while (i < raw.size() && raw[i] != '/') {
            char c = raw[i];
            if (c == '%') {
                if (i + 2 >= raw.size()) return fail(PathError::bad_escape);
                int hi = hex_value(raw[i + 1]), lo = hex_value(raw[i + 2]);
                if (hi < 0 || lo < 0) return fail(PathError::bad_escape);
                c = static_cast<char>(hi * 16 + lo);
                i += 3;
                if (c == '/') return fail(PathError::encoded_slash);
            } else {
                ++i;
            }
            if (c == '\0') return fail(PathError::nul);
            if (c == '\\') return fail(PathError::backslash);
            if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) return fail(PathError::control);
            if (len >= cap) return fail(PathError::too_long);
            out[len++] = c;
        }
        bool last = i >= raw.size();
        size_t seg_len = len - seg_start;
        std::string_view seg(out + seg_start, seg_len);
        if (seg.empty() || seg == ".") {
            // "//" and "/./" vanish; the prefix already ends with '/'.
            len = seg_start;
        } else if (seg == "..") {
            len = seg_start;
            if (len == 1) return fail(PathError::escapes_root);
            // Drop the previous segment: back up to the '/' before it.
            len -= 1;
            while (len > 0 && out[len - 1] != '/') --len;
        } else if (!last) {
            if (len >= cap) return fail(PathError::too_long);
            out[len++] = '/';
        }
        if (last) break;
        ++i; // the '/'
    }
    return len;
}

} // namespace edge
