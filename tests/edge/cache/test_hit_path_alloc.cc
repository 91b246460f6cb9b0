// Counts heap allocations made by this thread while the cache-hit path runs, to show that a hit (path
// normalization, behavior match, cache key, lookup, reading the stored object, formatting Date and Age) allocates
// nothing. Without sanitizers, malloc and friends are interposed through glibc's __libc_* entry points; under
// ASan/TSan (which own malloc) the sanitizer's allocation hooks are used instead.
#include <catch2/catch.hpp>

#include <cstddef>
#include <cstdlib>
#include <string>

#include "edge/cache/cache_key.h"
#include "edge/cache/object_cache.h"
#include "edge/config/edge_config.h"
#include "edge/http/http_date.h"
#include "edge/origin/request_path.h"
#include "edge/proxy/viewer_headers.h"

namespace {
thread_local bool g_counting = false;
thread_local size_t g_allocations = 0;
inline void note_allocation() {
    if (g_counting) ++g_allocations;
}
} // namespace

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
extern "C" int __sanitizer_install_malloc_and_free_hooks(void (*malloc_hook)(const volatile void*, size_t),
                                                         void (*free_hook)(const volatile void*));
namespace {
void on_malloc(const volatile void*, size_t) {
    note_allocation();
}
void on_free(const volatile void*) {}
const bool g_hooks_installed = __sanitizer_install_malloc_and_free_hooks(on_malloc, on_free) != 0;
} // namespace
#else
extern "C" {
void* __libc_malloc(size_t);
void* __libc_calloc(size_t, size_t);
void* __libc_realloc(void*, size_t);
void* malloc(size_t n) {
    note_allocation();
    return __libc_malloc(n);
}
void* calloc(size_t n, size_t m) {
    note_allocation();
    return __libc_calloc(n, m);
}
void* realloc(void* p, size_t n) {
    note_allocation();
    return __libc_realloc(p, n);
}
}
namespace {
const bool g_hooks_installed = true;
} // namespace
#endif

using namespace edge;

namespace {

struct Counting {
    Counting() {
        g_allocations = 0;
        g_counting = true;
    }
    ~Counting() { g_counting = false; }
    size_t count() const { return g_allocations; }
};

} // namespace

TEST_CASE("Allocation counter sees allocations (control)", "[edge][cache][alloc]") {
    REQUIRE(g_hooks_installed);
    size_t n;
    {
        Counting c;
        std::string* s = new std::string(200, 'x');
        void* p = std::malloc(64);
        std::free(p);
        delete s;
        n = c.count();
    }
    CHECK(n >= 3);
}

TEST_CASE("A warm cache hit allocates nothing", "[edge][cache][alloc]") {
    REQUIRE(g_hooks_installed);
    EdgeConfig cfg;
    BehaviorConfig assets;
    assets.path_pattern = "/assets/*";
    assets.query_string = QueryStringPolicy::all;
    BehaviorConfig def;
    def.path_pattern = "*";
    // Two sites, the request's found by a wildcard name: site matching is on the hit path too.
    cfg.sites.resize(2);
    cfg.sites[0].name = "other";
    cfg.sites[0].key_prefix = "other ";
    cfg.sites[0].behaviors = {def};
    cfg.sites[1].name = "www";
    cfg.sites[1].key_prefix = "www ";
    cfg.sites[1].behaviors = {assets, def};
    size_t ignored = 0;
    REQUIRE(cfg.site_hosts.add("other.example.com", 0, &ignored));
    REQUIRE(cfg.site_hosts.add("example.com", 1, &ignored));
    REQUIRE(cfg.site_hosts.add("*.example.com", 1, &ignored));
    cfg.site_hosts.seal();

    ObjectCache cache(64 << 20, 16);
    constexpr uint64_t kNow = 1'700'000'000'000;
    Freshness f;
    f.store = true;
    f.age_origin_ms = kNow;
    f.expires_at_ms = kNow + 3'600'000;
    std::string body(1024, 'b');
    REQUIRE(cache.insert(CachedObject::create_complete("www www.example.com:8080/assets/app.js?v=1", 200,
                                                       "HTTP/1.1 200 OK\r\nContent-Type: text/javascript\r\n", {}, f,
                                                       body)));

    // Per-connection buffers, sized once (as the server keeps them).
    std::string key;
    key.reserve(1024);
    char path_buf[1024];
    char date[kHttpDateLen];

    auto one_hit = [&](uint64_t now) -> bool {
        TargetParts t = split_target("/assets/./app.js?v=1");
        PathError err;
        size_t n = normalize_request_path(t.path, path_buf, sizeof path_buf, &err);
        if (err != PathError::none) return false;
        std::string_view path(path_buf, n);
        const SiteConfig* site = match_site(cfg, "WWW.example.com.:8080");
        if (!site) return false;
        const BehaviorConfig& b = match_behavior(*site, path);
        if (!build_cache_key(site->key_prefix, "WWW.example.com:8080", path, t.query, b.query_string,
                             b.query_string_allowlist, &key)) {
            return false;
        }
        Ref<CachedObject> obj;
        if (cache.find(key, hash_cache_key(key), now, &obj) != ObjectCache::Lookup::fresh) return false;
        BodySlice slices[4];
        size_t count = obj->body().slices(0, UINT64_MAX, slices, 4);
        format_http_date(static_cast<int64_t>(now / 1000), date);
        return count == 1 && slices[0].len == 1024 && !obj->header_block().empty() && obj->age_seconds(now) < 3600;
    };

    for (int i = 0; i < 100; ++i)
        REQUIRE(one_hit(kNow + static_cast<uint64_t>(i))); // warm-up
    bool all_hit = true;
    size_t allocations;
    {
        Counting c;
        for (int i = 0; i < 100'000; ++i)
            all_hit &= one_hit(kNow + static_cast<uint64_t>(i));
        allocations = c.count();
    }
    CHECK(all_hit);
    CHECK(allocations == 0);
}

TEST_CASE("A warm cache hit through a rewrite and a response headers policy allocates nothing",
          "[edge][cache][alloc]") {
    REQUIRE(g_hooks_installed);
    shared::ConfigDiagnostics diags;
    auto file = shared::ConfigFile::parse(R"(
[[response_headers_policy]]
name = "p"
cache_control = "public, max-age=31536000, immutable"
hsts_max_age = "365d"
remove_headers = ["Server", "x-amz-*"]
headers = [{ name = "X-Team", value = "web", override = false }]
cors_allow_origins = ["https://app.example.com", "https://*.example.org"]
cors_expose_headers = ["ETag"]
)",
                                          "edge.toml", diags);
    REQUIRE(file);
    shared::ConfigSection root = file->root();
    auto policies = parse_response_headers_policies(root);
    REQUIRE(policies.size() == 1);
    EdgeConfig cfg;
    cfg.sites.resize(1);
    cfg.sites[0].key_prefix = "";
    size_t ignored = 0;
    REQUIRE(cfg.site_hosts.add("www.example.com", 0, &ignored));
    cfg.site_hosts.seal();
    BehaviorConfig spa;
    spa.path_pattern = "/app/*";
    spa.routing.rewrite = RewriteRule{"/index.html", RewriteWhen::no_extension};
    spa.response_headers_policy = policies[0];
    BehaviorConfig def;
    def.path_pattern = "*";
    cfg.sites[0].behaviors = {spa, def};

    ObjectCache cache(64 << 20, 16);
    constexpr uint64_t kNow = 1'700'000'000'000;
    Freshness f;
    f.store = true;
    f.age_origin_ms = kNow;
    f.expires_at_ms = kNow + 3'600'000;
    REQUIRE(cache.insert(CachedObject::create_complete(
        "www.example.com/index.html", 200,
        "HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nServer: AmazonS3\r\nx-amz-request-id: 1\r\n"
        "Cache-Control: max-age=60\r\nETag: \"1\"\r\n",
        {}, f, std::string(512, 'h'))));

    std::string key, rewritten, head;
    key.reserve(1024);
    rewritten.reserve(1024);
    head.reserve(4096);
    char path_buf[1024];
    auto one_hit = [&](uint64_t now) -> bool {
        TargetParts t = split_target("/app/users/42");
        PathError err;
        size_t n = normalize_request_path(t.path, path_buf, sizeof path_buf, &err);
        std::string_view path(path_buf, n);
        const SiteConfig* site = match_site(cfg, "www.example.com");
        if (!site) return false;
        const BehaviorConfig& b = match_behavior(*site, path);
        if (apply_rewrite(b.routing.rewrite, path, &rewritten)) path = rewritten;
        if (!build_cache_key(site->key_prefix, "www.example.com", path, t.query, b.query_string,
                             b.query_string_allowlist, &key)) {
            return false;
        }
        Ref<CachedObject> obj;
        if (cache.find(key, hash_cache_key(key), now, &obj) != ObjectCache::Lookup::fresh) return false;
        const ResponseHeadersPolicy& p = *b.response_headers_policy;
        head.clear();
        std::string_view block = obj->header_block();
        if (!block_has_dropped(p, block)) return false;
        head.append(block);
        strip_dropped_lines(p, head, block.find("\r\n") + 2);
        append_policy_lines_for_block(p, "https://a.example.org", block, head);
        return head.find("Server") == std::string::npos &&
               head.find("Access-Control-Allow-Origin: https://a.example.org") != std::string::npos;
    };
    for (int i = 0; i < 100; ++i)
        REQUIRE(one_hit(kNow + static_cast<uint64_t>(i))); // warm-up
    bool all_hit = true;
    size_t allocations;
    {
        Counting c;
        for (int i = 0; i < 100'000; ++i)
            all_hit &= one_hit(kNow + static_cast<uint64_t>(i));
        allocations = c.count();
    }
    CHECK(all_hit);
    CHECK(allocations == 0);
}
