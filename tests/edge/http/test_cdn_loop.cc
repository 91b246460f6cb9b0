#include <catch2/catch.hpp>

#include "edge/http/cdn_loop.h"

using edge::cdn_loop_count;

TEST_CASE("CDN-Loop: entries naming our id are counted, parameters and case ignored", "[edge][tier]") {
    CHECK(cdn_loop_count("", "meridian") == 0);
    CHECK(cdn_loop_count("meridian", "meridian") == 1);
    CHECK(cdn_loop_count("Meridian, other, meridian ; v=1", "meridian") == 2);
    CHECK(cdn_loop_count("meridians, xmeridian,, other", "meridian") == 0);
    CHECK(cdn_loop_count(" meridian\t,meridian,meridian", "meridian") == 3);
    CHECK(cdn_loop_count("cdn.example.com:8443; x=y", "cdn.example.com:8443") == 1);
}
