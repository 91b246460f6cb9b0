#include <catch2/catch.hpp>

#include "edge/http/http_date.h"

using edge::format_http_date;
using edge::parse_http_date;

TEST_CASE("HTTP dates: the three formats of RFC 9110 §5.6.7 read the same instant", "[edge][cache][http_date]") {
    // 784111777 = Sun, 06 Nov 1994 08:49:37 GMT (the RFC's own example)
    CHECK(parse_http_date("Sun, 06 Nov 1994 08:49:37 GMT") == 784111777);
    CHECK(parse_http_date("Sunday, 06-Nov-94 08:49:37 GMT") == 784111777);
    CHECK(parse_http_date("Sun Nov  6 08:49:37 1994") == 784111777);
    CHECK(parse_http_date("Thu, 01 Jan 1970 00:00:00 GMT") == 0);
    CHECK(parse_http_date("Wednesday, 25-Nov-26 20:00:00 GMT") == parse_http_date("Wed, 25 Nov 2026 20:00:00 GMT"));
    CHECK(parse_http_date("Thu Feb 29 12:00:00 2024") == parse_http_date("Thu, 29 Feb 2024 12:00:00 GMT"));
}

TEST_CASE("HTTP dates: malformed and out-of-range dates are rejected", "[edge][cache][http_date]") {
    for (const char* bad : {
             "", "0", "-1", "Sun, 06 Nov 1994 08:49:37 UTC", "Sun, 06 Nov 1994 08:49:37", "Sun, 6 Nov 1994 08:49:37 GMT",
             "Sun, 31 Feb 1994 08:49:37 GMT", "Sun, 06 Foo 1994 08:49:37 GMT", "Sun, 06 Nov 1994 24:00:00 GMT",
             "Sun, 06 Nov 1994 08:60:00 GMT", "Sun, 29 Feb 2023 08:00:00 GMT", "Sunday, 06-Nov-94 08:49:37",
             "Sun Nov 06 08:49:37 94", "Xyz, 06 Nov 1994 08:49:37 GMT", "Sun, 06 Nov 1994 08:49:37 GMTX",
             "Sun, 0a Nov 1994 08:49:37 GMT",
         }) {
        INFO(bad);
        CHECK_FALSE(parse_http_date(bad).has_value());
    }
}

TEST_CASE("HTTP dates: format is IMF-fixdate and round-trips", "[edge][cache][http_date]") {
    CHECK(format_http_date(784111777) == "Sun, 06 Nov 1994 08:49:37 GMT");
    CHECK(format_http_date(0) == "Thu, 01 Jan 1970 00:00:00 GMT");
    CHECK(format_http_date(951782400) == "Tue, 29 Feb 2000 00:00:00 GMT");
    for (int64_t t : {int64_t{0}, int64_t{86399}, int64_t{951782400}, int64_t{1700000000}, int64_t{4102444799}}) {
        std::string s = format_http_date(t);
        CHECK(s.size() == edge::kHttpDateLen);
        CHECK(parse_http_date(s) == t);
    }
    char buf[edge::kHttpDateLen];
    format_http_date(1764100800, buf);
    CHECK(std::string_view(buf, sizeof buf) == "Tue, 25 Nov 2025 20:00:00 GMT");
}
