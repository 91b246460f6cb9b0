// Access-log lines: CloudFront's field order, tab-separated, one line per request whatever the fields contain.
#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include "edge/access_log/access_log.h"
#include "shared/json/json_value.h"

using namespace edge;

namespace {
std::vector<std::string> split(const std::string& s, char c) {
    std::vector<std::string> out;
    size_t start = 0;
    for (size_t i = 0; i <= s.size(); ++i) {
        if (i == s.size() || s[i] == c) {
            out.push_back(s.substr(start, i - start));
            start = i + 1;
        }
    }
    return out;
}
} // namespace

TEST_CASE("access log line has the CloudFront fields in order", "[edge][access_log]") {
    AccessLogEntry e;
    e.unix_ms = 784111777123;
    e.edge = "edge-a";
    e.bytes = 1234;
    e.client_ip = "192.0.2.7";
    e.method = "GET";
    e.host = "www.example.com";
    e.uri_stem = "/a b.html";
    e.status = 200;
    e.user_agent = "curl/8\tx\nEvil: 1";
    e.query = "q=1";
    e.result_type = "Hit";
    e.time_taken_s = 0.0125;
    std::string out;
    format_access_log_line(e, out);
    REQUIRE(!out.empty());
    CHECK(out.back() == '\n');
    CHECK(out.find('\n') == out.size() - 1);
    auto f = split(out.substr(0, out.size() - 1), '\t');
    REQUIRE(f.size() == 18);
    CHECK(f[0] == "1994-11-06");
    CHECK(f[1] == "08:49:37");
    CHECK(f[2] == "edge-a");
    CHECK(f[3] == "1234");
    CHECK(f[4] == "192.0.2.7");
    CHECK(f[5] == "GET");
    CHECK(f[6] == "www.example.com");
    CHECK(f[7] == "/a%20b.html");
    CHECK(f[8] == "200");
    CHECK(f[9] == "-");
    CHECK(f[10] == "curl/8%09x%0AEvil:%201");
    CHECK(f[11] == "q=1");
    CHECK(f[12] == "Hit");
    CHECK(f[13] == "0.013");
    CHECK(f[14] == "-"); // x-site: the top-level site
    CHECK(f[15] == "-"); // ssl-protocol: plain HTTP
    CHECK(f[16] == "-"); // ssl-cipher
    CHECK(f[17] == "-"); // cs-protocol-version: unknown

    e.site = "blog";
    e.ssl_protocol = "TLSv1.3";
    e.ssl_cipher = "TLS_AES_128_GCM_SHA256";
    e.protocol_version = "HTTP/2.0";
    out.clear();
    format_access_log_line(e, out);
    f = split(out.substr(0, out.size() - 1), '\t');
    REQUIRE(f.size() == 18);
    CHECK(f[17] == "HTTP/2.0");
    CHECK(f[14] == "blog");
    CHECK(f[15] == "TLSv1.3");
    CHECK(f[16] == "TLS_AES_128_GCM_SHA256");
}

TEST_CASE("access log file: lines appended, reopen after rotation, off when empty", "[edge][access_log]") {
    std::string path = std::string(MERIDIAN_BUILD) + "/test_access_log.log";
    std::remove(path.c_str());
    std::remove((path + ".1").c_str());
    AccessLogFile file;
    std::string err;
    REQUIRE(file.open(path, &err));
    {
        AccessLogBuffer buf(&file);
        AccessLogEntry e;
        e.status = 200;
        buf.add(e);
        buf.flush();
        REQUIRE(std::rename(path.c_str(), (path + ".1").c_str()) == 0);
        file.reopen();
        buf.add(e);
        buf.add(e);
    } // flushed by the destructor
    auto count_lines = [](const std::string& p) {
        FILE* fp = std::fopen(p.c_str(), "r");
        if (!fp) return -1;
        int n = 0;
        for (int c; (c = std::fgetc(fp)) != EOF;)
            n += c == '\n';
        std::fclose(fp);
        return n;
    };
    CHECK(count_lines(path + ".1") == 1);
    CHECK(count_lines(path) == 2);
    CHECK_FALSE(file.open("/nonexistent-dir/x.log", &err));
    CHECK(err.find("/nonexistent-dir/x.log") != std::string::npos);
    CHECK(file.enabled()); // the old file stays
    REQUIRE(file.open("", &err));
    CHECK_FALSE(file.enabled());
    std::remove(path.c_str());
    std::remove((path + ".1").c_str());
}

TEST_CASE("access log JSON lines carry CloudFront's real-time log field names", "[edge][access_log]") {
    AccessLogEntry e;
    e.unix_ms = 784111777123;
    e.edge = "edge-a";
    e.bytes = 1234;
    e.client_ip = "2001:db8::7";
    e.method = "GET";
    e.host = "www.example.com";
    e.uri_stem = "/a b\"\\\xff.html";
    e.status = 404;
    e.user_agent = "curl/8\tx\nEvil: 1";
    e.result_type = "Error";
    e.time_taken_s = 0.0125;
    e.site = "blog";
    e.ssl_protocol = "TLSv1.3";
    e.ssl_cipher = "TLS_AES_128_GCM_SHA256";
    e.protocol_version = "HTTP/2.0";
    std::string out = "before\n";
    format_access_log_json(e, out);
    REQUIRE(out.substr(0, 7) == "before\n");
    std::string line = out.substr(7);
    REQUIRE(line.back() == '\n');
    CHECK(line.find('\n') == line.size() - 1);
    shared::JsonValue v;
    std::string err;
    INFO(line);
    REQUIRE(shared::parse_json(std::string_view(line).substr(0, line.size() - 1), &v, &err));
    CHECK(v.get("timestamp")->number == Approx(784111777.123));
    CHECK(line.find("\"timestamp\":784111777.123,") != std::string::npos);
    CHECK(v.get("c-ip")->string == "2001:db8::7");
    CHECK(v.get("c-ip-version")->string == "IPv6");
    CHECK(v.get("sc-status")->number == 404);
    CHECK(v.get("sc-bytes")->number == 1234);
    CHECK(v.get("cs-method")->string == "GET");
    CHECK(v.get("cs-protocol")->string == "https");
    CHECK(v.get("x-host-header")->string == "www.example.com");
    CHECK(v.get("cs-uri-stem")->string == "/a b\"\\\xef\xbf\xbd.html");
    CHECK(v.get("cs-uri-query")->string == "-");
    CHECK(v.get("cs-referer")->string == "-");
    CHECK(v.get("cs-user-agent")->string == "curl/8\tx\nEvil: 1");
    CHECK(v.get("x-edge-location")->string == "edge-a");
    CHECK(v.get("x-edge-result-type")->string == "Error");
    CHECK(v.get("x-edge-response-result-type")->string == "Error");
    CHECK(v.get("time-taken")->number == Approx(0.013));
    CHECK(v.get("cs-protocol-version")->string == "HTTP/2.0");
    CHECK(v.get("ssl-protocol")->string == "TLSv1.3");
    CHECK(v.get("ssl-cipher")->string == "TLS_AES_128_GCM_SHA256");
    CHECK(v.get("x-site")->string == "blog");

    AccessLogEntry plain;
    plain.client_ip = "192.0.2.7";
    std::string p;
    format_access_log_json(plain, p);
    REQUIRE(shared::parse_json(std::string_view(p).substr(0, p.size() - 1), &v, &err));
    CHECK(v.get("cs-protocol")->string == "http");
    CHECK(v.get("c-ip-version")->string == "IPv4");
    CHECK(v.get("ssl-protocol")->string == "-");
    CHECK(v.get("x-site")->string == "-");
}
