#include <catch2/catch.hpp>

#include "edge/http/entity_tag.h"

using edge::if_none_match_hits;

TEST_CASE("If-None-Match: weak comparison over a list, '*' for any existing representation", "[edge][http]") {
    CHECK(if_none_match_hits("\"a\"", "\"a\""));
    CHECK(if_none_match_hits("W/\"a\"", "\"a\"")); // weak comparison ignores W/ on either side
    CHECK(if_none_match_hits("\"a\"", "W/\"a\""));
    CHECK(if_none_match_hits("\"x\", \"a\"", "\"a\"")); // any member of the list
    CHECK(if_none_match_hits(" \"x\" ,\t\"a\" ", "\"a\""));
    CHECK_FALSE(if_none_match_hits("\"x\", \"y\"", "\"a\""));
    CHECK_FALSE(if_none_match_hits("\"a", "\"a\"")); // no partial match
    CHECK(if_none_match_hits("*", "\"a\""));
    CHECK(if_none_match_hits(" * ", ""));         // exists, even without an ETag of its own
    CHECK_FALSE(if_none_match_hits("\"a\"", "")); // nothing to compare with
    CHECK_FALSE(if_none_match_hits("", "\"a\""));
    CHECK_FALSE(if_none_match_hits(",,", "\"a\""));
}
