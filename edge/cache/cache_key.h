// Cache keys: site + lower-cased host + normalized path + query string per the behavior's policy. Pure, any thread.
//
// Key layout: "<site><host><path>" or "<site><host><path>?<query>"; the path always starts with '/'. <site> is the
// site's key prefix (SiteConfig::key_prefix): "" for the top-level site, else "<name> " or "<name>#<n> " — a
// space, which no host holds (the request parser refuses it), ends it, so two sites never share an object even when
// a reload moves a host from one to the other. In the host, '/', '%' and
// '?' are written as %2F, %25, %3F, and in the (decoded) path '%' and '?' as %25, %3F, so the parts cannot run into
// each other: every key has exactly one reading. Query parameters are kept as the client encoded them (no decoding),
// empty ones ("&&") dropped, and sorted bytewise by their full "name=value" text so order does not split the cache.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "edge/cache/stored_headers.h"
#include "edge/config/edge_config.h"

namespace edge {

// At most this many query parameters are sorted; a query with more cannot be keyed (the request bypasses the cache).
inline constexpr size_t kMaxKeyQueryParams = 64;

// Writes the key into *out (cleared first; its capacity is reused, so a per-connection string makes this
// allocation-free after warm-up). `path` is the normalized path from normalize_request_path(); `raw_query` is the
// text after '?' (without it). Returns false when the query has more than kMaxKeyQueryParams parameters.
bool build_cache_key(std::string_view site_prefix, std::string_view host, std::string_view path,
                     std::string_view raw_query, QueryStringPolicy policy, const std::vector<std::string>& allowlist,
                     std::string* out);
// The same for the top-level site (prefix "").
bool build_cache_key(std::string_view host, std::string_view path, std::string_view raw_query, QueryStringPolicy policy,
                     const std::vector<std::string>& allowlist, std::string* out);

// The site prefix of `key` (what build_cache_key wrote first: "" or "<name>[#<n>] " with the space), and the site's
// name in it (without "#<n>" and the space).
std::string_view key_site_prefix(std::string_view key);
std::string_view key_site_name(std::string_view key);

// Appends the behavior's cache key fields (cache_key_headers, then cache_key_cookies, in config order) taken from
// the request's `fields` to *key: "\n<name>:<value>" for a header (several lines joined with ","), "\n<name>!"
// when the request lacks it; "\nc:<name>=<value>" / "\nc!<name>" for a cookie. Request fields never contain '\n'
// (the parser refuses control characters), so the parts cannot run into each other or into the path. Appends
// nothing for a behavior without key fields; allocation-free once *key has grown to its working size.
void append_key_fields(std::span<const HeaderField> fields, const BehaviorConfig& b, std::string* key);

// The query string the edge forwards to the origin under `policy` (the same filtered, sorted parameters as the key,
// so what is cached is what was asked for). Returns false like build_cache_key.
bool forwarded_query(std::string_view raw_query, QueryStringPolicy policy, const std::vector<std::string>& allowlist,
                     std::string* out);

// 64-bit hash of a key (shard selection and every per-key table). Keys are chosen by clients, and the tables probe
// under locks shared by all workers, so the hash is keyed: SipHash-1-3 (the variant Rust's HashMap and CPython's
// str hash use) with a random 128-bit key drawn once per process. Nobody outside the process can pick keys that
// collide, and the hash differs from one run to the next. Allocation-free, no lock.
uint64_t hash_cache_key(std::string_view key) noexcept;

struct HashSeed {
    uint64_t k0 = 0, k1 = 0;
};
// This process's key (tests; never log it).
HashSeed cache_key_hash_seed() noexcept;
// SipHash-1-3 of `data` under `seed` (hash_cache_key is this with cache_key_hash_seed()).
uint64_t siphash13(HashSeed seed, std::string_view data) noexcept;

} // namespace edge
