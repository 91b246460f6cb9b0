#include <catch2/catch.hpp>

#include <cmath>

#include "shared/json/json_value.h"
#include "shared/json/json_writer.h"

TEST_CASE("json writer: nesting, commas, escapes, and what it writes parses back", "[shared][json][console]") {
    shared::JsonWriter j;
    j.begin_object();
    j.field("name", "a \"quoted\" \\ name\n");
    j.field("n", static_cast<uint64_t>(18446744073709551615ull));
    j.field("neg", static_cast<int64_t>(-3));
    j.field("ratio", 0.25);
    j.field("nan", std::nan(""));
    j.field("yes", true);
    j.key("empty").begin_array().end_array();
    j.key("list").begin_array();
    j.begin_object().field("url", std::string("host/\xff\x01path")).end_object();
    j.value(1.5);
    j.null();
    j.end_array();
    j.array("series", {1, 2.5});
    j.end_object();
    std::string s = j.take();
    CHECK(s.find("\"n\":18446744073709551615") != std::string::npos);
    CHECK(s.find("\"nan\":null") != std::string::npos);
    CHECK(s.find("\"empty\":[]") != std::string::npos);
    CHECK(s.find("\\u00ff\\u0001") != std::string::npos);

    shared::JsonValue v;
    std::string err;
    REQUIRE(shared::parse_json(s, &v, &err));
    CHECK(v.get("name")->string == "a \"quoted\" \\ name\n");
    CHECK(v.get("neg")->number == -3);
    CHECK(v.get("ratio")->number == 0.25);
    CHECK(v.get("nan")->type == shared::JsonValue::Type::null);
    CHECK(v.get("yes")->boolean);
    REQUIRE(v.get("list")->items.size() == 3);
    CHECK(v.get("list")->items[0].get("url")->string == "host/\xc3\xbf\x01path");
    CHECK(v.get("series")->items[1].number == 2.5);
}
