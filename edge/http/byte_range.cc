#include "edge/http/byte_range.h"

#include <strings.h>

#include "edge/http/http_date.h"
#include "shared/http/http_tokens.h"

namespace edge {
namespace {

// 1*DIGIT; false on anything else or on overflow (a position too large to be real reads as unparsable).
bool parse_pos(std::string_view s, uint64_t* v) {
    if (s.empty()) return false;
    uint64_t n = 0;
    for (char c : s) {
        if (c < '0' || c > '9') return false;
        if (n > (UINT64_MAX - 9) / 10) return false;
        n = n * 10 + static_cast<uint64_t>(c - '0');
    }
    *v = n;
    return true;
}

} // namespace

RangeOutcome evaluate_range(std::string_view range, uint64_t size, ByteRange* out) {
    range = shared::trim_ows(range);
    constexpr std::string_view unit = "bytes=";
    if (range.size() < unit.size() || strncasecmp(range.data(), unit.data(), unit.size()) != 0) {
        return RangeOutcome::full;
    }
    std::string_view spec = shared::trim_ows(range.substr(unit.size()));
    if (spec.find(',') != std::string_view::npos) return RangeOutcome::full;
    size_t dash = spec.find('-');
    if (dash == std::string_view::npos) return RangeOutcome::full;
    std::string_view a = shared::trim_ows(spec.substr(0, dash)), b = shared::trim_ows(spec.substr(dash + 1));
    uint64_t first = 0, last = 0;
    if (a.empty()) {
        // suffix-range: the last n bytes
        uint64_t n = 0;
        if (!parse_pos(b, &n)) return RangeOutcome::full;
        if (n == 0 || size == 0) return RangeOutcome::unsatisfiable;
        first = n >= size ? 0 : size - n;
        last = size - 1;
    } else {
        if (!parse_pos(a, &first)) return RangeOutcome::full;
        if (b.empty()) {
            last = UINT64_MAX;
        } else if (!parse_pos(b, &last) || last < first) {
            return RangeOutcome::full; // invalid range-spec: the field is ignored
        }
        if (first >= size) return RangeOutcome::unsatisfiable;
        if (last >= size) last = size - 1;
    }
    out->first = first;
    out->last = last;
    return RangeOutcome::partial;
}

bool if_range_matches(std::string_view if_range, std::string_view etag, std::string_view last_modified) {
    if_range = shared::trim_ows(if_range);
    if (if_range.empty()) return false;
    if (if_range.front() == '"' || if_range.substr(0, 2) == "W/") {
        bool weak = etag.size() >= 2 && etag[0] == 'W' && etag[1] == '/';
        return !weak && if_range.front() == '"' && !etag.empty() && if_range == etag;
    }
    if (last_modified.empty()) return false;
    auto want = parse_http_date(if_range);
    auto have = parse_http_date(last_modified);
    return want && have && *want == *have;
}

} // namespace edge
