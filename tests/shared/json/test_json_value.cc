// The strict JSON reader the admin APIs use: what RFC 8259 allows reads back exactly, anything else is refused with
// the offset and the reason.
#include <catch2/catch.hpp>

#include <string>

#include "shared/json/json_value.h"

using shared::JsonValue;

TEST_CASE("JSON: values read back exactly", "[shared][json]") {
    JsonValue v;
    std::string err;
    REQUIRE(shared::parse_json(R"( {"a": [1, -2.5e3, true, false, null], "s": "x\"\\\/\b\f\n\r\t\u00e9\ud83d\ude00",
                                  "o": {}} )",
                               &v, &err));
    REQUIRE(v.type == JsonValue::Type::object);
    const JsonValue* a = v.get("a");
    REQUIRE(a);
    REQUIRE(a->items.size() == 5);
    CHECK(a->items[1].number == -2500);
    CHECK(a->items[2].boolean);
    CHECK(a->items[4].type == JsonValue::Type::null);
    CHECK(v.get("s")->string == "x\"\\/\b\f\n\r\t\xc3\xa9\xf0\x9f\x98\x80");
    CHECK(v.get("o")->members.empty());
    CHECK(v.get("missing") == nullptr);
    CHECK(shared::json_quote("a\"b\\c\n\x01") == "\"a\\\"b\\\\c\\u000a\\u0001\"");
}

TEST_CASE("JSON: everything else is refused with where and why", "[shared][json]") {
    const char* bad[] = {
        "",          "{",           "{\"a\" 1}",   "{\"a\": 1,}", "[1,]",
        "[1 2]",     "01",          "1.",          "-",           "1e",
        "+1",        "tru",         "\"abc",       "\"a\x01\"",   "\"\\x\"",
        "\"\\u12\"", "\"\\ud800\"", "\"\\udc00\"", "{} {}",       "{\"a\":1,\"a\":2}",
        "'a'",       "[\"a\"]x",    "nul",
    };
    for (const char* text : bad) {
        JsonValue v;
        std::string err;
        INFO(text);
        CHECK_FALSE(shared::parse_json(text, &v, &err));
        CHECK(err.rfind("offset ", 0) == 0);
    }
    std::string deep(40, '[');
    deep += std::string(40, ']');
    JsonValue v;
    std::string err;
    CHECK_FALSE(shared::parse_json(deep, &v, &err));
    CHECK(err.find("nested too deeply") != std::string::npos);
}
