#include <catch2/catch.hpp>

#include "edge/http/byte_range.h"

using namespace edge;

namespace {

struct R {
    RangeOutcome outcome;
    uint64_t first = 0, last = 0;
};

R eval(std::string_view v, uint64_t size) {
    ByteRange r{99, 99};
    RangeOutcome o = evaluate_range(v, size, &r);
    if (o != RangeOutcome::partial) return {o, 0, 0};
    return {o, r.first, r.last};
}

} // namespace

TEST_CASE("Byte range: single ranges, suffix and open ranges", "[edge][range]") {
    struct Case {
        const char* value;
        uint64_t size;
        RangeOutcome outcome;
        uint64_t first, last;
    };
    const Case cases[] = {
        {"bytes=0-0", 10, RangeOutcome::partial, 0, 0},
        {"bytes=2-5", 10, RangeOutcome::partial, 2, 5},
        {"bytes=2-100", 10, RangeOutcome::partial, 2, 9},             // last clamped
        {"bytes=7-", 10, RangeOutcome::partial, 7, 9},                // open
        {"bytes=-3", 10, RangeOutcome::partial, 7, 9},                // suffix
        {"bytes=-30", 10, RangeOutcome::partial, 0, 9},               // suffix longer than the object
        {"Bytes=1-2 ", 10, RangeOutcome::partial, 1, 2},              // unit case-insensitive, OWS
        {"bytes = 1-2", 10, RangeOutcome::full, 0, 0},                // no whitespace around '=' in the grammar
        {"bytes=9-9", 10, RangeOutcome::partial, 9, 9},
        {"bytes=10-", 10, RangeOutcome::unsatisfiable, 0, 0},         // first past the end
        {"bytes=10-20", 10, RangeOutcome::unsatisfiable, 0, 0},
        {"bytes=-0", 10, RangeOutcome::unsatisfiable, 0, 0},          // empty suffix
        {"bytes=0-", 0, RangeOutcome::unsatisfiable, 0, 0},           // empty object
        {"bytes=-5", 0, RangeOutcome::unsatisfiable, 0, 0},
        {"bytes=0-1,4-5", 10, RangeOutcome::full, 0, 0},              // several ranges: 200 (RFC 9110 §14.2)
        {"bytes=5-3", 10, RangeOutcome::full, 0, 0},                  // invalid: ignored
        {"bytes=a-3", 10, RangeOutcome::full, 0, 0},
        {"bytes=-", 10, RangeOutcome::full, 0, 0},
        {"bytes=3", 10, RangeOutcome::full, 0, 0},
        {"items=0-3", 10, RangeOutcome::full, 0, 0},                  // other unit
        {"", 10, RangeOutcome::full, 0, 0},
        {"bytes=99999999999999999999999-", 10, RangeOutcome::full, 0, 0}, // overflow: unparsable, ignored
    };
    for (const Case& c : cases) {
        INFO(c.value << " of " << c.size);
        R r = eval(c.value, c.size);
        CHECK(r.outcome == c.outcome);
        CHECK(r.first == c.first);
        CHECK(r.last == c.last);
    }
    ByteRange br{3, 7};
    CHECK(br.length() == 5);
}

TEST_CASE("Byte range: If-Range by strong ETag or exact Last-Modified", "[edge][range]") {
    const char* lm = "Wed, 21 Oct 2015 07:28:00 GMT";
    CHECK(if_range_matches("\"v1\"", "\"v1\"", lm));
    CHECK_FALSE(if_range_matches("\"v2\"", "\"v1\"", lm));
    CHECK_FALSE(if_range_matches("W/\"v1\"", "W/\"v1\"", lm)); // weak tags never match (strong comparison)
    CHECK_FALSE(if_range_matches("\"v1\"", "W/\"v1\"", lm));
    CHECK_FALSE(if_range_matches("\"v1\"", "", lm));
    CHECK(if_range_matches(lm, "\"v1\"", lm));               // a date starting with 'W' is still a date
    CHECK(if_range_matches("Wednesday, 21-Oct-15 07:28:00 GMT", "", lm)); // same instant, obsolete format
    CHECK_FALSE(if_range_matches("Wed, 21 Oct 2015 07:28:01 GMT", "\"v1\"", lm));
    CHECK_FALSE(if_range_matches(lm, "\"v1\"", ""));
    CHECK_FALSE(if_range_matches("garbage", "\"v1\"", lm));
    CHECK_FALSE(if_range_matches("", "\"v1\"", lm));
}
