#include <catch2/catch.hpp>

#include <cstdlib>

#include "shared/config/common_config.h"
#include "shared/config/config.h"

using shared::ConfigDiagnostics;
using shared::ConfigFile;

namespace {
// Parses `text` as file "edge.toml", runs `read` on the root, finishes it, and returns all diagnostics as text.
template <typename F> std::string diagnose(const std::string& text, F read) {
    ConfigDiagnostics d;
    auto f = ConfigFile::parse(text, "/etc/meridian/edge.toml", d);
    if (f) {
        auto root = f->root();
        read(root);
        root.finish();
    }
    return d.to_string();
}
} // namespace

TEST_CASE("sizes parse with binary and decimal units", "[shared][config]") {
    using shared::parse_size;
    CHECK(parse_size("512MiB") == 512ull << 20);
    CHECK(parse_size("1.5GiB") == 3ull << 29);
    CHECK(parse_size("10 KB") == 10000u);
    CHECK(parse_size("64K") == 65536u);
    CHECK(parse_size("123") == 123u);
    CHECK(parse_size("7B") == 7u);
    CHECK(parse_size("2TiB") == 2ull << 40);
    CHECK_FALSE(parse_size("lots"));
    CHECK_FALSE(parse_size(""));
    CHECK_FALSE(parse_size("12 parsecs"));
    CHECK_FALSE(parse_size("1.5"));   // fractional bytes
    CHECK_FALSE(parse_size("-1MiB"));
    CHECK_FALSE(parse_size("99999999999999999999"));
}

TEST_CASE("durations parse into milliseconds", "[shared][config]") {
    using shared::parse_duration_ms;
    CHECK(parse_duration_ms("30s") == 30000u);
    CHECK(parse_duration_ms("250ms") == 250u);
    CHECK(parse_duration_ms("1m30s") == 90000u);
    CHECK(parse_duration_ms("2h") == 7200000u);
    CHECK(parse_duration_ms("1d") == 86400000u);
    CHECK_FALSE(parse_duration_ms("30"));   // strings need a unit; bare integers are TOML ints
    CHECK_FALSE(parse_duration_ms("soon"));
    CHECK_FALSE(parse_duration_ms("5 s"));
    CHECK_FALSE(parse_duration_ms("s"));
}

TEST_CASE("environment references expand, with defaults and errors", "[shared][config]") {
    setenv("MERIDIAN_TEST_HOST", "origin.internal", 1);
    unsetenv("MERIDIAN_TEST_UNSET");
    std::string missing;
    CHECK(shared::expand_env("${MERIDIAN_TEST_HOST}:80", &missing) == "origin.internal:80");
    CHECK(shared::expand_env("${MERIDIAN_TEST_UNSET:-127.0.0.1}:8080", &missing) == "127.0.0.1:8080");
    CHECK(shared::expand_env("cost $$5", &missing) == "cost $5");
    CHECK(shared::expand_env("plain $HOME", &missing) == "plain $HOME");
    CHECK_FALSE(shared::expand_env("${MERIDIAN_TEST_UNSET}", &missing));
    CHECK(missing == "MERIDIAN_TEST_UNSET");
}

TEST_CASE("each config error kind names file:line:column and the key path", "[shared][config]") {
    SECTION("bad size") {
        auto out = diagnose("[cache]\n  max_bytes = \"lots\"\n", [](auto& r) {
            auto c = r.table("cache");
            c->get_size("max_bytes", 0);
            c->finish();
        });
        CHECK(out == "/etc/meridian/edge.toml:2:15: cache.max_bytes: expected a size like \"512MiB\", got \"lots\"\n");
    }
    SECTION("unknown key") {
        auto out = diagnose("workers = 2\nwrokers = 3\n", [](auto& r) { r.get_int("workers", 0, 0, 64); });
        CHECK(out == "/etc/meridian/edge.toml:2:1: wrokers: unknown key\n");
    }
    SECTION("wrong type") {
        auto out = diagnose("workers = \"many\"\n", [](auto& r) { r.get_int("workers", 0, 0, 64); });
        CHECK(out == "/etc/meridian/edge.toml:1:11: workers: expected an integer, got \"many\"\n");
    }
    SECTION("out of range") {
        auto out = diagnose("workers = 1000\n", [](auto& r) { r.get_int("workers", 0, 0, 64); });
        CHECK(out == "/etc/meridian/edge.toml:1:11: workers: value 1000 is out of range [0, 64]\n");
    }
    SECTION("missing required key") {
        auto out = diagnose("[[origin]]\nname = \"a\"\n", [](auto& r) {
            for (auto& o : r.array_of_tables("origin")) {
                o.require_string("name");
                o.require_string("path");
                o.finish();
            }
        });
        CHECK(out == "/etc/meridian/edge.toml:1:1: origin[0].path: required key is missing\n");
    }
    SECTION("unset environment variable") {
        unsetenv("MERIDIAN_TEST_UNSET");
        auto out = diagnose("listen = \"${MERIDIAN_TEST_UNSET}\"\n", [](auto& r) { r.get_string("listen", ""); });
        CHECK(out == "/etc/meridian/edge.toml:1:10: listen: environment variable ${MERIDIAN_TEST_UNSET} is not set "
                     "and has no default (write ${MERIDIAN_TEST_UNSET:-value})\n");
    }
    SECTION("bad enum") {
        auto out = diagnose("[log]\nlevel = \"loud\"\n", [](auto& r) {
            auto l = r.table("log");
            l->get_enum("level", "info", {"debug", "info"});
            l->finish();
        });
        CHECK(out == "/etc/meridian/edge.toml:2:9: log.level: expected one of \"debug\", \"info\", got \"loud\"\n");
    }
    SECTION("TOML syntax error") {
        auto out = diagnose("workers = = 2\n", [](auto&) {});
        CHECK(out.rfind("/etc/meridian/edge.toml:1:", 0) == 0);
    }
    SECTION("unknown key inside a nested table") {
        auto out = diagnose("[cache]\nmax_bytes = \"1GiB\"\nmax_bites = 3\n", [](auto& r) {
            auto c = r.table("cache");
            c->get_size("max_bytes", 0);
            c->finish();
        });
        CHECK(out == "/etc/meridian/edge.toml:3:1: cache.max_bites: unknown key\n");
    }
}

TEST_CASE("typed accessors read values, env-typed ints and relative paths", "[shared][config]") {
    setenv("MERIDIAN_TEST_WORKERS", "3", 1);
    ConfigDiagnostics d;
    auto f = ConfigFile::parse("workers = \"${MERIDIAN_TEST_WORKERS}\"\nroot = \"site\"\nabs = \"/srv\"\n"
                               "ttl = 90\ntimeout = \"1m\"\nsize = 4096\non = true\n",
                               "/etc/meridian/edge.toml", d);
    REQUIRE(f);
    auto r = f->root();
    CHECK(r.get_int("workers", 0, 0, 64) == 3);
    CHECK(r.get_path("root", "") == "/etc/meridian/site");
    CHECK(r.get_path("abs", "") == "/srv");
    CHECK(r.get_duration_ms("ttl", 0) == 90000u);
    CHECK(r.get_duration_ms("timeout", 0) == 60000u);
    CHECK(r.get_size("size", 0) == 4096u);
    CHECK(r.get_bool("on", false));
    CHECK(r.get_int("absent", 7, 0, 10) == 7);
    r.finish();
    CHECK(d.ok());
    CHECK(d.all().empty());
}

TEST_CASE("common keys: listen lists, admin, log", "[shared][config]") {
    ConfigDiagnostics d;
    auto f = ConfigFile::parse("workers = 2\nlisten = [\"127.0.0.1:8080\", \"[::1]:8080\"]\n[admin]\nlisten = "
                               "\"127.0.0.1:9080\"\n[log]\nlevel = \"warn\"\n",
                               "x.toml", d);
    REQUIRE(f);
    auto r = f->root();
    auto c = shared::parse_common_config(r, {"127.0.0.1:1"});
    r.finish();
    CHECK(d.ok());
    CHECK(c.workers == 2);
    REQUIRE(c.listen.size() == 2);
    CHECK(c.listen[1].to_string() == "[::1]:8080");
    REQUIRE(c.admin_listen);
    CHECK(c.admin_listen->port() == 9080);
    CHECK(c.log_level == shared::log::Level::warn);

    ConfigDiagnostics d2;
    auto g = ConfigFile::parse("listen = \"localhost:80\"\n", "y.toml", d2);
    auto r2 = g->root();
    shared::parse_common_config(r2, {});
    CHECK(d2.to_string() == "y.toml:1:10: listen: \"localhost:80\": \"localhost\" is not an IP address\n");
}

TEST_CASE("common keys: admin limits have sane defaults, parse, and reject zero", "[shared][config]") {
    ConfigDiagnostics d;
    auto f = ConfigFile::parse("[admin]\nlisten = \"127.0.0.1:9080\"\n", "a.toml", d);
    REQUIRE(f);
    auto r = f->root();
    auto c = shared::parse_common_config(r, {"127.0.0.1:1"});
    CHECK(d.ok());
    CHECK(c.admin_limits.request_timeout_ms == 10000);
    CHECK(c.admin_limits.idle_timeout_ms == 30000);
    CHECK(c.admin_limits.send_timeout_ms == 10000);
    CHECK(c.admin_limits.max_connections == 64);

    ConfigDiagnostics d2;
    auto g = ConfigFile::parse("[admin]\nrequest_timeout = \"2s\"\nidle_timeout = \"5s\"\nsend_timeout = \"0s\"\n"
                               "max_connections = 8\n",
                               "b.toml", d2);
    REQUIRE(g);
    auto r2 = g->root();
    auto c2 = shared::parse_common_config(r2, {"127.0.0.1:1"});
    CHECK(c2.admin_limits.request_timeout_ms == 2000);
    CHECK(c2.admin_limits.idle_timeout_ms == 5000);
    CHECK(c2.admin_limits.max_connections == 8);
    CHECK(d2.to_string().find("b.toml:4:") != std::string::npos);
    CHECK(d2.to_string().find("send_timeout: must be greater than 0") != std::string::npos);
}

TEST_CASE("paths the config names are recorded with their key, for the access check as the run-as user",
          "[shared][config]") {
    ConfigDiagnostics d;
    auto f = ConfigFile::parse("zone = \"z/example.zone\"\n[log]\nfile = \"logs/edge.log\"\n[access_log]\nfile = "
                               "\"stderr\"\n",
                               "/etc/meridian/edge.toml", d);
    REQUIRE(f);
    auto r = f->root();
    CHECK(r.get_path("zone", "") == "/etc/meridian/z/example.zone");
    auto log = r.table("log");
    REQUIRE(log);
    CHECK(log->get_output_path("file", "") == "/etc/meridian/logs/edge.log");
    auto al = r.table("access_log");
    REQUIRE(al);
    CHECK(al->get_output_path("file", "") == "stderr"); // not a file: not recorded
    CHECK(r.get_path("absent", "") == "");
    const auto& files = d.named_files();
    REQUIRE(files.size() == 2);
    CHECK(files[0].path == "/etc/meridian/z/example.zone");
    CHECK_FALSE(files[0].write);
    CHECK(files[0].at.key == "zone");
    CHECK(files[0].at.line == 1);
    CHECK(files[1].path == "/etc/meridian/logs/edge.log");
    CHECK(files[1].write);
    CHECK(files[1].at.key == "log.file");
    CHECK(files[1].at.line == 3);
}

TEST_CASE("user, group and allow_root: resolved at load, errors at their key", "[shared][config]") {
    auto parse = [](const std::string& text, shared::CommonConfig* out) {
        ConfigDiagnostics d;
        auto f = ConfigFile::parse(text, "/etc/meridian/dns.toml", d);
        REQUIRE(f);
        auto r = f->root();
        *out = shared::parse_common_config(r, {"127.0.0.1:1"});
        r.finish();
        return d.to_string();
    };
    shared::CommonConfig c;
    CHECK(parse("user = \"root\"\n", &c) == "");
    REQUIRE(c.run_as);
    CHECK(c.run_as->uid == 0);
    CHECK(c.run_as->gid == 0);
    CHECK_FALSE(c.allow_root);
    CHECK(parse("allow_root = true\n", &c) == "");
    CHECK_FALSE(c.run_as);
    CHECK(c.allow_root);
    CHECK(parse("user = \"root\"\ngroup = \"root\"\n", &c) == "");
    CHECK(c.run_as->group == "root");
    CHECK(parse("user = \"no-such-user-meridian\"\n", &c) ==
          "/etc/meridian/dns.toml:1:8: user: no such user \"no-such-user-meridian\"\n");
    CHECK(parse("user = \"root\"\ngroup = \"no-such-group-meridian\"\n", &c) ==
          "/etc/meridian/dns.toml:2:9: group: no such group \"no-such-group-meridian\"\n");
    CHECK(parse("group = \"root\"\n", &c) ==
          "/etc/meridian/dns.toml:1:9: group: needs `user` (the group is switched to together with the user)\n");
}
