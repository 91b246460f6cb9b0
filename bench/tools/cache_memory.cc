// cache_memory: what the edge cache costs per object beyond the bytes it stores (issue #3 of meridian-edge:
// "bookkeeping <= 256 bytes per object beyond key, headers and body, with 1,000,000 small objects").
//
// It fills an ObjectCache through the same calls a miss on the HTTP origin path makes (MissCoalescer::begin ->
// build_stored_header_block -> CachedObject::create sized by Content-Length -> Fill::start_body -> Fill::append ->
// Fill::finish, which inserts into the cache), on a worker thread like the edge's, and measures the process's
// resident memory before and after. Everything RSS grew by that is not key, header block or body bytes is
// bookkeeping: the object struct, the body chunk header, the hash table slots, malloc headers and rounding, and
// whatever the allocator keeps from the fill's temporaries. No malloc_trim before the "after" reading: a running
// edge does not trim either, so free heap it holds is part of what an object costs (the trimmed figure is printed
// too, for reference).
//
// usage: cache_memory [--objects N] [--min-body B] [--max-body B] [--shards S] [--seed X] [--json]
// Exit 0 when every object was stored, 1 otherwise, 2 on bad arguments.

#include <malloc.h>
#include <unistd.h>

#include <chrono>
#include <cinttypes>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>
#include <thread>

#include "edge/cache/body_buffer.h"
#include "edge/cache/cache_key.h"
#include "edge/cache/cache_policy.h"
#include "edge/cache/cached_object.h"
#include "edge/cache/fill.h"
#include "edge/cache/miss_coalescer.h"
#include "edge/cache/object_cache.h"
#include "edge/cache/stored_headers.h"

namespace {

[[noreturn]] void usage(const char* msg) {
    if (msg) std::fprintf(stderr, "cache_memory: %s\n", msg);
    std::fprintf(stderr, "usage: cache_memory [--objects N] [--min-body B] [--max-body B] [--shards S] [--seed X] "
                         "[--json]\n");
    std::exit(2);
}

uint64_t rss_bytes() {
    long pages = 0, resident = 0;
    FILE* f = std::fopen("/proc/self/statm", "r");
    if (!f) return 0;
    if (std::fscanf(f, "%ld %ld", &pages, &resident) != 2) resident = 0;
    std::fclose(f);
    return static_cast<uint64_t>(resident) * static_cast<uint64_t>(sysconf(_SC_PAGESIZE));
}

uint64_t mix(uint64_t x) { // splitmix64: reproducible spread of names and sizes
    x += 0x9e3779b97f4a7c15ULL;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
    return x ^ (x >> 31);
}

// The artifacts of a static site build: hashed bundles, chunks, styles, images, fonts.
struct Kind {
    const char* dir;
    const char* stem;
    const char* ext;
    const char* content_type;
};
constexpr Kind kKinds[] = {
    {"assets", "app", "js", "application/javascript"},
    {"assets", "vendor", "js", "application/javascript"},
    {"assets/chunks", "chunk", "js", "application/javascript"},
    {"assets", "index", "css", "text/css"},
    {"images", "logo", "svg", "image/svg+xml"},
    {"images/products", "thumb", "webp", "image/webp"},
    {"fonts", "inter-latin", "woff2", "font/woff2"},
    {"", "page", "html", "text/html; charset=utf-8"},
};

struct Totals {
    uint64_t objects = 0, stored = 0, key_bytes = 0, header_bytes = 0, body_bytes = 0;
};

void fill_cache(edge::MissCoalescer& coalescer, uint64_t n, uint64_t min_body, uint64_t max_body, uint64_t seed,
                Totals* t) {
    static char body_src[1 << 16];
    std::memset(body_src, 'x', sizeof body_src);
    std::string key;
    char name[160], etag[40], length[24];
    const uint64_t now = static_cast<uint64_t>(
        std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
            .count());
    const edge::TtlPolicy policy; // the behavior defaults
    for (uint64_t i = 0; i < n; ++i) {
        uint64_t r = mix(seed ^ i);
        const Kind& k = kKinds[r % (sizeof kKinds / sizeof kKinds[0])];
        uint64_t body_len = min_body + (mix(r) % (max_body - min_body + 1));
        // Real key shape (cache_key.h): host + path + "?" + query; the content hash makes each name unique.
        std::snprintf(name, sizeof name, "example.com/%s%s%s.%016" PRIx64 ".%s?v=1", k.dir, *k.dir ? "/" : "", k.stem,
                      mix(i + 1), k.ext);
        key.assign(name);
        std::snprintf(etag, sizeof etag, "\"%08" PRIx64 "-%" PRIx64 "\"", r & 0xffffffff, body_len);
        std::snprintf(length, sizeof length, "%" PRIu64, body_len);
        // An nginx / S3-website origin's answer; build_stored_header_block drops Date, Content-Length and
        // Connection (the edge writes those per response), exactly as on a real miss.
        const edge::HeaderField fields[] = {
            {"Server", "nginx/1.22.1"},
            {"Date", "Wed, 25 Nov 2026 10:00:00 GMT"},
            {"Content-Type", k.content_type},
            {"Content-Length", length},
            {"Last-Modified", "Tue, 24 Nov 2026 08:12:31 GMT"},
            {"Connection", "keep-alive"},
            {"ETag", etag},
            {"Cache-Control", "public, max-age=31536000, immutable"},
            {"Accept-Ranges", "bytes"},
        };
        constexpr size_t nf = sizeof fields / sizeof fields[0];

        uint64_t hash = edge::hash_cache_key(key);
        edge::MissCoalescer::Begin b = coalescer.begin(key, hash, now);
        ++t->objects;
        if (b.role != edge::MissCoalescer::Role::lead) continue;
        edge::ResponseFacts facts = edge::response_facts(200, fields, nf, now, now);
        edge::Freshness f = edge::compute_freshness(facts, policy);
        edge::ValidatorSpans val;
        std::string block = edge::build_stored_header_block(200, "OK", fields, nf, false, &val);
        edge::Ref<edge::CachedObject> obj = edge::CachedObject::create(key, 200, block, val, f, body_len);
        b.fill->start_body(obj);
        for (uint64_t off = 0; off < body_len;) { // the origin's body as it arrives in the edge's read buffer
            size_t piece = static_cast<size_t>(std::min<uint64_t>(body_len - off, sizeof body_src));
            b.fill->append(body_src, piece);
            off += piece;
        }
        if (b.fill->finish(now)) {
            ++t->stored;
            t->key_bytes += key.size();
            t->header_bytes += block.size();
            t->body_bytes += body_len;
        }
    }
}

uint64_t parse_u64(const char* s, const char* what) {
    char* end = nullptr;
    unsigned long long v = std::strtoull(s, &end, 10);
    if (!*s || *end) usage((std::string(what) + " wants a whole number").c_str());
    return v;
}

} // namespace

int main(int argc, char** argv) {
    uint64_t objects = 1'000'000, min_body = 1, max_body = 1024, shards = 16, seed = 1;
    bool json = false;
    for (int i = 1; i < argc; ++i) {
        std::string_view a = argv[i];
        bool has = i + 1 < argc;
        if (a == "--json") {
            json = true;
        } else if (a == "--objects" && has) {
            objects = parse_u64(argv[++i], "--objects");
        } else if (a == "--min-body" && has) {
            min_body = parse_u64(argv[++i], "--min-body");
        } else if (a == "--max-body" && has) {
            max_body = parse_u64(argv[++i], "--max-body");
        } else if (a == "--shards" && has) {
            shards = parse_u64(argv[++i], "--shards");
        } else if (a == "--seed" && has) {
            seed = parse_u64(argv[++i], "--seed");
        } else {
            usage(("unknown or incomplete argument " + std::string(a)).c_str());
        }
    }
    if (objects == 0 || min_body == 0 || max_body < min_body || max_body > (64u << 20) || shards == 0 || shards > 4096)
        usage("need objects >= 1, 1 <= min-body <= max-body <= 64 MiB, 1 <= shards <= 4096");

    // The edge's default shard count (edge.toml cache.shards) and a budget nothing is evicted under.
    edge::ObjectCache cache(uint64_t{1} << 40, static_cast<uint32_t>(shards));
    edge::MissCoalescer coalescer(&cache, static_cast<uint32_t>(shards), 16u << 20, 10'000);
    Totals t;

    uint64_t rss0 = rss_bytes();
    auto t0 = std::chrono::steady_clock::now();
    // A worker thread allocates the objects, as in the edge (its own malloc arena, not the main one).
    std::thread worker([&] { fill_cache(coalescer, objects, min_body, max_body, seed, &t); });
    worker.join();
    double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    uint64_t rss1 = rss_bytes();
    malloc_trim(0);
    uint64_t rss_trimmed = rss_bytes();

    edge::CacheStats st = cache.stats();
    double n = static_cast<double>(t.stored ? t.stored : 1);
    double payload = static_cast<double>(t.key_bytes + t.header_bytes + t.body_bytes);
    double delta = static_cast<double>(rss1) - static_cast<double>(rss0);
    double delta_trimmed = static_cast<double>(rss_trimmed) - static_cast<double>(rss0);
    double per_obj = (delta - payload) / n;
    double per_obj_trimmed = (delta_trimmed - payload) / n;
    double estimate = cache.bookkeeping_bytes_per_object();
    // Fixed part of an object's charge (struct + first body chunk header): lets scripts split the running edge's
    // meridian_edge_cache_bytes into payload and struct bytes.
    uint64_t charge_fixed = sizeof(edge::CachedObject) + edge::BodyBuffer::chunk_overhead();

    if (json) {
        std::printf("{\"objects\": %" PRIu64 ", \"stored\": %" PRIu64 ", \"cache_objects\": %" PRIu64
                    ", \"shards\": %" PRIu64 ", \"key_bytes\": %" PRIu64 ", \"header_bytes\": %" PRIu64
                    ", \"body_bytes\": %" PRIu64 ", \"rss_before\": %" PRIu64 ", \"rss_after\": %" PRIu64
                    ", \"rss_after_trim\": %" PRIu64 ", \"rss_delta\": %.0f, \"bytes_per_object\": %.1f"
                    ", \"bytes_per_object_trimmed\": %.1f, \"estimate_per_object\": %.1f, \"charged_bytes\": %" PRIu64
                    ", \"charge_fixed_per_object\": %" PRIu64 ", \"fill_s\": %.2f}\n",
                    t.objects, t.stored, st.objects, shards, t.key_bytes, t.header_bytes, t.body_bytes, rss0, rss1,
                    rss_trimmed, delta, per_obj, per_obj_trimmed, estimate, st.bytes, charge_fixed, secs);
    } else {
        std::printf("objects stored       %" PRIu64 " of %" PRIu64 " (%" PRIu64 " shards, fill %.2f s)\n", t.stored,
                    t.objects, shards, secs);
        std::printf("key bytes            %" PRIu64 " (%.1f per object)\n", t.key_bytes,
                    static_cast<double>(t.key_bytes) / n);
        std::printf("header bytes         %" PRIu64 " (%.1f per object)\n", t.header_bytes,
                    static_cast<double>(t.header_bytes) / n);
        std::printf("body bytes           %" PRIu64 " (%.1f per object)\n", t.body_bytes,
                    static_cast<double>(t.body_bytes) / n);
        std::printf("RSS before / after   %" PRIu64 " / %" PRIu64 " bytes (delta %.0f)\n", rss0, rss1, delta);
        std::printf("bookkeeping/object   %.1f bytes  (RSS delta - key - headers - body) / objects\n", per_obj);
        std::printf("  after malloc_trim  %.1f bytes\n", per_obj_trimmed);
        std::printf("  struct estimate    %.1f bytes  (ObjectCache::bookkeeping_bytes_per_object)\n", estimate);
    }
    return t.stored == objects ? 0 : 1;
}
