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
    CHECK(shared::json_quote("a\"b\\c\n\x01") == "\"a\\\"b\\\\c\\n\\u0001\"");
}

TEST_CASE("JSON: quoting escapes every control character and never writes invalid UTF-8", "[shared][json]") {
    using shared::json_quote;
    CHECK(json_quote("") == "\"\"");
    CHECK(json_quote("\t\r\n\b\f") == "\"\\t\\r\\n\\b\\f\"");
    CHECK(json_quote(std::string_view("\0\x1f\x7f", 3)) == "\"\\u0000\\u001f\\u007f\"");
    CHECK(json_quote("/ <script>") == "\"/ <script>\""); // nothing else is escaped
    // Valid UTF-8 is kept byte for byte: 2, 3 and 4 byte sequences, the edges of the ranges.
    for (std::string_view ok : {"\xc3\xa9", "\xe2\x82\xac", "\xf0\x9f\x98\x80", "\xc2\x80", "\xed\x9f\xbf",
                                "\xee\x80\x80", "\xf4\x8f\xbf\xbf", "\xef\xbf\xbf"}) {
        INFO(ok);
        CHECK(shared::valid_utf8(ok));
        CHECK(json_quote(ok) == "\"" + std::string(ok) + "\"");
    }
    // Each byte that does not start a well-formed sequence becomes U+FFFD; what follows is read afresh.
    const std::string fffd = "\xef\xbf\xbd";
    struct Case {
        std::string_view in, out;
    };
    for (Case c : {Case{"\xff", "R"}, Case{"\x80", "R"}, Case{"a\xc3", "aR"},
                   Case{"\xc3"
                        "a",
                        "Ra"},
                   Case{"\xc0\xaf", "RR"},           // overlong '/'
                   Case{"\xe0\x80\xaf", "RRR"},      // overlong, 3 bytes
                   Case{"\xed\xa0\x80", "RRR"},      // a surrogate (U+D800)
                   Case{"\xf4\x90\x80\x80", "RRRR"}, // above U+10FFFF
                   Case{"\xf0\x9f\x98", "RRR"},      // truncated
                   Case{"\xe2\x82\xac\xe2\x82", "\xe2\x82\xacRR"}}) {
        INFO(c.in);
        CHECK(!shared::valid_utf8(c.in));
        std::string want = "\"";
        for (char ch : c.out)
            want += ch == 'R' ? fffd : std::string(1, ch);
        CHECK(json_quote(c.in) == want + "\"");
        shared::JsonValue back;
        std::string err;
        CHECK(shared::parse_json(json_quote(c.in), &back, &err));
        CHECK(shared::valid_utf8(back.string));
    }
    // Appending reuses the caller's string.
    std::string out = "x=";
    shared::append_json_string(out, "a\"b");
    CHECK(out == "x=\"a\\\"b\"");
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
