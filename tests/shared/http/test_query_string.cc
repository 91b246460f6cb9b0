#include <catch2/catch.hpp>

#include "shared/http/query_string.h"

using shared::query_param;

TEST_CASE("query_param: decoding and lookup", "[shared][http]") {
    CHECK(query_param("name=www.example.test&type=A", "type") == std::optional<std::string>("A"));
    CHECK(query_param("ecs=198.51.100.0%2F24", "ecs") == std::optional<std::string>("198.51.100.0/24"));
    CHECK(query_param("url=%2Fa%20b+c", "url") == std::optional<std::string>("/a b c"));
    CHECK(query_param("a=1&a=2", "a") == std::optional<std::string>("1"));
    CHECK(query_param("flag&x=1", "flag") == std::optional<std::string>(""));
    CHECK_FALSE(query_param("x=1", "y"));
    CHECK_FALSE(query_param("", "y"));
    CHECK_FALSE(query_param("x=%zz", "x"));
    CHECK_FALSE(query_param("x=%2", "x"));
    CHECK(query_param("x=%41", "x") == std::optional<std::string>("A"));
}
