#include "edge/proxy/proxy_handler.h"

#include <strings.h>

#include <algorithm>
#include <cstring>
#include <ctime>

#include "edge/access/signed_access.h"
#include "edge/cache/cache_key.h"
#include "edge/cache/vary_variant.h"
#include "edge/compress/content_coding.h"
#include "edge/compress/variant_headers.h"
#include "edge/console/top_urls.h"
#include "edge/http/cdn_loop.h"
#include "edge/http/entity_tag.h"
#include "edge/origin/request_path.h"
#include "edge/proxy/proxy_session.h"
#include "edge/proxy/viewer_headers.h"
#include "shared/http/http_tokens.h"
#include "shared/log/log.h"

namespace edge {
namespace {

// Cache-Status ttl (RFC 9211): whole seconds of freshness left, negative (rounded away from zero) once stale.
int64_t ttl_seconds(const CachedObject& obj, uint64_t now_ms) {
    int64_t left = static_cast<int64_t>(obj.expires_at_ms()) - static_cast<int64_t>(now_ms);
    return left >= 0 ? left / 1000 : -((-left + 999) / 1000);
}

bool contains_header(std::string_view block, std::string_view name) {
    // Header lines follow a CRLF in the block; compare the name case-insensitively.
    for (size_t pos = block.find("\r\n"); pos != std::string_view::npos; pos = block.find("\r\n", pos + 2)) {
        std::string_view rest = block.substr(pos + 2);
        if (rest.size() > name.size() && rest[name.size()] == ':' &&
            shared::ascii_iequals(rest.substr(0, name.size()), name)) {
            return true;
        }
    }
    return false;
}

} // namespace

ProxyHandler::ProxyHandler(ProxyIo& io, unsigned shard, const EdgeServices& services,
                           std::shared_ptr<const EdgeRuntime> runtime)
    : io_(io), shard_(shard), services_(services), runtime_(std::move(runtime)), access_log_(services.access_log) {
    apply_runtime();
    key_.reserve(1024);
    vkey_.reserve(1040);
    io_.set_tick([this] { access_log_.flush(); });
}

ProxyHandler::~ProxyHandler() = default;

uint64_t ProxyHandler::wall_ms() {
    timespec ts;
    clock_gettime(CLOCK_REALTIME_COARSE, &ts);
    return static_cast<uint64_t>(ts.tv_sec) * 1000 + static_cast<uint64_t>(ts.tv_nsec) / 1'000'000;
}

void ProxyHandler::set_runtime(std::shared_ptr<const EdgeRuntime> runtime) {
    runtime_ = std::move(runtime);
    apply_runtime();
}

void ProxyHandler::apply_runtime() {
    size_t index = 0; // room for an http origin's index document after the longest path
    for (const OriginConfig& o : runtime_->config.origins)
        index = std::max(index, o.index_document.size());
    path_buf_.resize(runtime_->config.limits.max_uri_bytes + 16 + index);
}

void ProxyHandler::on_conn_open() {
    auto& m = *services_.metrics;
    if (m.registry) m.registry->gauge_add(shard_, m.open_connections, 1);
}

void ProxyHandler::on_conn_close() {
    auto& m = *services_.metrics;
    if (m.registry) m.registry->gauge_add(shard_, m.open_connections, -1);
}

void ProxyHandler::session_started(ProxySession* ex) {
    live_sessions_.push_back(ex);
}

void ProxyHandler::session_finished(ProxySession* ex) {
    for (size_t i = 0; i < live_sessions_.size(); ++i) {
        if (live_sessions_[i] == ex) {
            live_sessions_[i] = live_sessions_.back();
            live_sessions_.pop_back();
            return;
        }
    }
}

void ProxyHandler::abort_sessions() {
    // abort() only starts closing; exchanges leave the list from their close callbacks, so iterate over a copy.
    std::vector<ProxySession*> all = live_sessions_;
    for (ProxySession* ex : all)
        ex->abort();
}

void ProxyHandler::shutdown() {
    access_log_.flush();
    io_.shutdown();
}

size_t ProxyHandler::write_object_head(Viewer& viewer, const CachedObject& obj, CacheResult result, bool keep_alive,
                                       bool chunked, bool known_length, bool http10, uint64_t now_ms,
                                       const OutBuf* body, unsigned nbody, const ByteRange* range,
                                       const FileSpan* file_body, int status_override, CacheStatus cache_status,
                                       std::string_view extra_lines, const ResponseHeadersPolicy* policy,
                                       std::string_view request_origin) {
    std::string& h = viewer.head_buffer();
    size_t status_start = h.size();
    HeadWriter w(h);
    if (status_override && !range) w.status_line(status_override);
    size_t status_len = h.size() - status_start;
    size_t start = h.size();
    EdgeHeaders eh;
    eh.date = date_of(obj);
    eh.via = runtime_->via;
    eh.result = result;
    uint32_t age = obj.age_seconds(now_ms);
    eh.has_age = result == CacheResult::hit || result == CacheResult::refresh_hit || age > 0;
    eh.age = age;
    eh.keep_alive = keep_alive;
    eh.http10 = http10;
    eh.server = !contains_header(obj.header_block(), "server");
    eh.cache_name = runtime_->config.server_name;
    eh.cache_status = cache_status;
    eh.cache_status.present = true;
    eh.cache_status.has_ttl = true;
    eh.cache_status.ttl = ttl_seconds(obj, now_ms);
    apply_to_edge_headers(policy, &eh);
    write_edge_headers(w, eh);
    std::string_view block = obj.header_block();
    OutBuf bufs[4];
    unsigned n = 0;
    size_t status_bytes = status_len;
    if (status_len) {
        // The stored status line gives way to the custom error response's.
        size_t eol = block.find("\r\n");
        block.remove_prefix(eol == std::string_view::npos ? block.size() : eol + 2);
    }
    if (range) {
        char cr[80];
        uint64_t total = obj.complete() ? obj.body().size() : obj.body().expected_size();
        int len = snprintf(cr, sizeof cr, "bytes %llu-%llu/%llu", static_cast<unsigned long long>(range->first),
                           static_cast<unsigned long long>(range->last), static_cast<unsigned long long>(total));
        w.header("Content-Range", std::string_view(cr, static_cast<size_t>(len)));
        w.header_uint("Content-Length", range->length());
        // The stored block starts with its own "HTTP/1.1 200 OK" line: replace just that line.
        static constexpr std::string_view partial = "HTTP/1.1 206 Partial Content\r\n";
        size_t eol = block.find("\r\n");
        block.remove_prefix(eol == std::string_view::npos ? block.size() : eol + 2);
        bufs[n++] = OutBuf{partial.data(), partial.size()};
        status_bytes = partial.size();
    } else if (chunked) {
        w.header("Transfer-Encoding", "chunked");
    } else if (known_length && obj.status() != 204) { // RFC 9110 §8.6: never on a 204
        w.header_uint("Content-Length", obj.complete() ? obj.body().size() : obj.body().expected_size());
    }
    h.append(extra_lines);
    if (policy) {
        // The stored fields the policy drops are left out: then the block's fields are copied behind the edge's
        // (into the reused head buffer) and filtered there, and only its status line goes out by reference.
        if (block_has_dropped(*policy, obj.header_block())) {
            size_t eol = block.find("\r\n");
            size_t fields = eol == std::string_view::npos ? 0 : eol + 2;
            if (status_len || range) fields = 0; // the status line was already cut off above
            h.append(block.substr(fields));
            block = block.substr(0, fields);
        }
        strip_dropped_lines(*policy, h, start);
        append_policy_lines_for_block(*policy, request_origin, obj.header_block(), h);
    }
    w.end();
    // One writev per hit: libuv keeps up to 4 buffers inline in the request, more would be copied to the heap.
    if (status_len) bufs[n++] = OutBuf{h.data() + status_start, status_len};
    if (!block.empty()) bufs[n++] = OutBuf{block.data(), block.size()};
    bufs[n++] = OutBuf{h.data() + start, h.size() - start};
    unsigned nb = 0;
    while (nb < nbody && n < 4)
        bufs[n++] = body[nb++];
    // Body buffers that did not fit go in a second write, behind the head (never dropped).
    if (nb < nbody) {
        viewer.write(bufs, n);
        n = 0;
        while (nb < nbody)
            bufs[n++] = body[nb++];
    }
    if (file_body)
        viewer.write_file(bufs, n, *file_body);
    else
        viewer.write(bufs, n);
    return status_bytes + block.size() + (h.size() - start);
}

bool ProxyHandler::serve_hit(Viewer& viewer, const HttpRequest& req, const ResponseHeadersPolicy* policy,
                             const Ref<CachedObject>& obj, CacheResult result, uint64_t now_ms, int status_override) {
    if (!obj->complete()) return false;
    if (status_override == 0 && obj->status() >= 400) {
        const SiteConfig* site = match_site(runtime_->config, req.host);
        const ErrorResponseConfig* er = site ? find_error_response(*site, obj->status()) : nullptr;
        if (er && serve_error_page(viewer, req, *er, policy)) return true;
    }
    // A page that is itself an error keeps its own status (the custom response is for pages that exist).
    if (obj->status() >= 400) status_override = 0;
    int status = status_override ? status_override : obj->status();
    CacheResult shown = status >= 400 ? CacheResult::error : result;
    bool keep_alive = req.keep_alive;
    // A viewer revalidating its own copy (RFC 9110 §13.2.2): If-None-Match wins over If-Modified-Since.
    bool inm_found = false;
    std::string_view inm = req.header("if-none-match", &inm_found);
    bool not_modified = false;
    if (obj->status() == 200 && status_override == 0) {
        if (inm_found) {
            not_modified = if_none_match_hits(inm, obj->etag());
        } else if (std::string_view ims = req.header("if-modified-since");
                   !ims.empty() && !obj->last_modified().empty()) {
            auto since = parse_http_date(ims);
            auto lm = parse_http_date(obj->last_modified());
            not_modified = since && lm && *lm <= *since;
        }
    }
    uint64_t bytes = 0;
    if (not_modified) {
        std::string& h = viewer.head_buffer();
        HeadWriter w(h);
        w.status_line(304);
        size_t fields_start = h.size();
        append_not_modified_fields(obj->header_block(), h);
        EdgeHeaders eh;
        eh.date = date_of(*obj);
        eh.via = runtime_->via;
        eh.result = shown;
        eh.has_age = true;
        eh.age = obj->age_seconds(now_ms);
        eh.keep_alive = keep_alive;
        eh.http10 = req.http10();
        eh.cache_name = runtime_->config.server_name;
        eh.cache_status.present = true;
        eh.cache_status.has_ttl = true;
        eh.cache_status.ttl = ttl_seconds(*obj, now_ms);
        apply_to_edge_headers(policy, &eh);
        write_edge_headers(w, eh);
        if (policy) {
            strip_dropped_lines(*policy, h, fields_start);
            append_policy_lines_for_block(*policy, req.header("origin"), obj->header_block(), h);
        }
        w.end();
        viewer.write(h);
        bytes = h.size();
        log_request(viewer, &req, 304, shown, bytes);
        viewer.end_response(keep_alive);
        return true;
    }
    const BodyBuffer& body = obj->body();
    ByteRange range;
    RangeOutcome ro = status_override ? RangeOutcome::full : range_of(req, *obj, body.size(), &range);
    if (ro == RangeOutcome::unsatisfiable) {
        send_unsatisfiable(viewer, req, body.size(), policy);
        return true;
    }
    bool partial = ro == RangeOutcome::partial;
    // Body bytes [off, end) of the stored object, sent as slices of it (no copy).
    uint64_t off = partial ? range.first : 0;
    uint64_t end = req.method == HTTP_HEAD ? 0 : partial ? range.last + 1 : body.size();
    uint64_t size = end - off;
    int file_fd = -1;
    uint64_t file_off = 0;
    BodySlice whole;
    // A body of unknown length keeps its first bytes (BodyBuffer::kSpillAt) on the heap and the rest in a file:
    // the bytes before `split` go with the head, the file's from `split` on.
    uint64_t split = std::clamp(body.file_start(), off, end);
    BodySlice mem[2];
    OutBuf mb[2] = {};
    size_t nmem = 0;
    bool by_file = false;
    if (split < end && body.file_span(split, end, &file_fd, &file_off) && body.slices(split, end, &whole, 1) == 1 &&
        whole.len == end - split) {
        nmem = split > off ? body.slices(off, split, mem, 2) : 0;
        uint64_t mem_len = 0;
        for (size_t i = 0; i < nmem; ++i) {
            mb[i] = OutBuf{mem[i].data, mem[i].len};
            mem_len += mem[i].len;
        }
        by_file = mem_len == split - off;
    }
    if (by_file) {
        // The body (or all of it past its heap head) is in a shared-memory file: its pages go to the socket by
        // reference (sendfile).
        FileSpan fs{file_fd, file_off, whole.data, whole.len};
        bytes = write_object_head(viewer, *obj, shown, keep_alive, false, true, req.http10(), now_ms, mb,
                                  static_cast<unsigned>(nmem), partial ? &range : nullptr, &fs, status_override, {}, {},
                                  policy, req.header("origin"));
        viewer.pin(obj);
        log_request(viewer, &req, partial ? 206 : status, shown, bytes + size);
        viewer.end_response(keep_alive);
        return true;
    }
    BodySlice first[2];
    size_t nfirst = size ? body.slices(off, end, first, partial ? 1 : 2) : 0;
    OutBuf fb[2] = {};
    for (size_t i = 0; i < nfirst; ++i) {
        fb[i] = OutBuf{first[i].data, first[i].len};
        off += first[i].len;
    }
    bytes = write_object_head(viewer, *obj, shown, keep_alive, false, true, req.http10(), now_ms, fb,
                              static_cast<unsigned>(nfirst), partial ? &range : nullptr, nullptr, status_override, {},
                              {}, policy, req.header("origin"));
    if (size) {
        while (off < end) {
            BodySlice sl[4];
            size_t n = body.slices(off, end, sl, 4);
            if (n == 0) break;
            OutBuf bufs[4];
            for (size_t i = 0; i < n; ++i) {
                bufs[i] = OutBuf{sl[i].data, sl[i].len};
                off += sl[i].len;
            }
            viewer.write(bufs, static_cast<unsigned>(n));
        }
        bytes += size;
    }
    viewer.pin(obj);
    log_request(viewer, &req, partial ? 206 : status, shown, bytes);
    viewer.end_response(keep_alive);
    return true;
}

void ProxyHandler::send_unsatisfiable(Viewer& viewer, const HttpRequest& req, uint64_t size,
                                      const ResponseHeadersPolicy* policy) {
    char extra[64];
    int len = snprintf(extra, sizeof extra, "Content-Range: bytes */%llu\r\n", static_cast<unsigned long long>(size));
    send_simple(viewer, &req, 416, "range not satisfiable\n", CacheResult::error,
                std::string_view(extra, static_cast<size_t>(len)), true, policy);
}

RangeOutcome ProxyHandler::range_of(const HttpRequest& req, const CachedObject& obj, uint64_t size,
                                    ByteRange* range) const {
    if (req.method != HTTP_GET || obj.status() != 200) return RangeOutcome::full;
    bool found = false;
    std::string_view r = req.header("range", &found);
    if (!found) return RangeOutcome::full;
    bool has_if_range = false;
    std::string_view if_range = req.header("if-range", &has_if_range);
    if (has_if_range && !if_range_matches(if_range, obj.etag(), obj.last_modified())) return RangeOutcome::full;
    return evaluate_range(r, size, range);
}

void ProxyHandler::handle(Viewer& viewer, const HttpRequest& req) {
    const EdgeRuntime& rt = *runtime_;
    const EdgeConfig& cfg = rt.config;
    bool get_or_head = req.method == HTTP_GET || req.method == HTTP_HEAD;

    if (!cfg.health.path.empty() && req.path == cfg.health.path && get_or_head) {
        bool draining = services_.draining && services_.draining->load(std::memory_order_relaxed);
        send_simple(viewer, &req, draining ? 503 : 200, draining ? "draining\n" : "ok\n", CacheResult::none);
        return;
    }

    // RFC 8586: a request that has passed through this CDN too often is in a loop of tiers; forwarding it again
    // would only add a hop (edge/http/cdn_loop.h).
    if (cdn_loop_count(req, cfg.cdn_id) >= cfg.cdn_loop_max) {
        shared::log::warn("edge", "request loop detected (CDN-Loop), answered 508",
                          {{"cdn_id", cfg.cdn_id}, {"path", std::string(req.path)}});
        send_simple(viewer, &req, 508, "loop detected: this request already passed through this CDN too often\n",
                    CacheResult::error);
        return;
    }

    // The site (CloudFront's distribution) the Host names; RFC 9110 §15.5.20: 421 for a host this edge does not
    // serve, when there is no default site.
    const SiteConfig* site = match_site(cfg, req.host);
    if (!site) {
        send_simple(viewer, &req, 421, "misdirected request: this edge serves no site for that host\n",
                    CacheResult::error);
        return;
    }

    PathError perr = PathError::none;
    size_t n = req.path.size() <= path_buf_.size()
                   ? normalize_request_path(req.path, path_buf_.data(), path_buf_.size(), &perr)
                   : 0;
    if (n == 0) {
        send_simple(viewer, &req, 400, "bad request path\n", CacheResult::error);
        return;
    }
    std::string_view path(path_buf_.data(), n);
    // From here to the cache key, explain_cache (edge/explain/cache_explainer.cc, /_meridian/cache) takes the same
    // steps with the same functions: a change to how the key is derived goes there too.
    const BehaviorConfig& b = match_behavior(*site, path);
    const ResponseHeadersPolicy* policy = b.response_headers_policy.get();
    if ((b.routing.protocol != ViewerProtocolPolicy::allow_all || policy || !b.routing.redirect.target.empty()) &&
        answer_at_edge(viewer, req, b, path)) {
        return;
    }
    // A rewrite (SPA routes to /index.html, "/docs" to "/docs/index.html"): the new path is what the origin is
    // asked for and what the cache key holds, so every route rewritten to one path shares one object.
    if (apply_rewrite(b.routing.rewrite, path, &rewrite_buf_)) {
        if (rewrite_buf_.size() + 256 > path_buf_.size()) path_buf_.resize(rewrite_buf_.size() + path_buf_.size());
        std::memcpy(path_buf_.data(), rewrite_buf_.data(), rewrite_buf_.size());
        n = rewrite_buf_.size();
        path = std::string_view(path_buf_.data(), n);
    }
    // An http origin's index document (CloudFront's default root object, for every folder): "/docs/" is fetched,
    // keyed and cached as "/docs/index.html". Buckets do this themselves.
    if (const OriginConfig& o = cfg.origins[b.origin_index]; o.type == OriginType::http && !o.index_document.empty() &&
                                                             path.back() == '/' &&
                                                             n + o.index_document.size() <= path_buf_.size()) {
        std::memcpy(path_buf_.data() + n, o.index_document.data(), o.index_document.size());
        path = std::string_view(path_buf_.data(), n + o.index_document.size());
    }
    if (!method_allowed(b.allowed_methods, req.method_name)) {
        std::string_view allow = allow_header(b.allowed_methods);
        char extra[128];
        int len = snprintf(extra, sizeof extra, "Allow: %.*s\r\n", static_cast<int>(allow.size()), allow.data());
        send_simple(viewer, &req, 405, "method not allowed\n", CacheResult::error,
                    std::string_view(extra, static_cast<size_t>(len)), true, policy);
        return;
    }
    if (b.trusted_keys &&
        check_signed_access(*b.trusted_keys, req, req.secure ? "https" : "http", static_cast<int64_t>(wall_ms() / 1000),
                            viewer.peer_ip(), services_.metrics, shard_) != SignedDenial::none) {
        send_simple(viewer, &req, 403, kSignedAccessDeniedBody, CacheResult::error);
        return;
    }
    std::string signed_query_buf; // the query without signing parameters, for the cache key (private behaviors)
    std::string_view query = b.trusted_keys ? query_without_signing_params(req.query, &signed_query_buf) : req.query;

    ProxySession::Params p;
    p.handler = this;
    p.behavior = &b;
    p.path = path;
    p.role = ProxySession::Role::pass;
    p.response_headers = policy;
    if (get_or_head && b.cache &&
        build_cache_key(site->key_prefix, req.host, path, query, b.query_string, b.query_string_allowlist, &key_)) {
        append_key_fields(req.headers, b, &key_);
        uint64_t hash = hash_cache_key(key_);
        uint64_t now = wall_ms();
        // Ranges are answered from the identity object only (a range of a compressed variant would depend on how
        // it was compressed), so a Range request never negotiates.
        ContentCoding want = ContentCoding::identity;
        bool has_range = false;
        if (b.compress && req.method == HTTP_GET) req.header("range", &has_range);
        if (b.compress && !has_range) want = negotiate_content_coding(req.header("accept-encoding"));
        Ref<CachedObject> obj;
        ObjectCache::Lookup found = services_.cache->find(key_, hash, now, &obj);
        plain_key_len_ = 0;
        if (obj && is_vary_marker(*obj)) {
            // The answers here Vary on request fields: look up the variant this request's fields select
            // (edge/cache/vary_variant.h). Fresh or stale, a marker only says how.
            std::string_view fields;
            uint64_t gen = 0;
            plain_key_len_ = key_.size();
            if (read_vary_marker(*obj, &fields, &gen)) append_vary_suffix(req.headers, fields, gen, &key_);
            obj.reset();
            hash = hash_cache_key(key_);
            found = services_.cache->find(key_, hash, now, &obj);
            if (obj && is_vary_marker(*obj)) {
                obj.reset();
                found = ObjectCache::Lookup::miss;
            }
        }
        if (found == ObjectCache::Lookup::stale && serve_while_revalidating(viewer, req, b, path, hash, obj, now))
            return;
        if (found == ObjectCache::Lookup::fresh) {
            if (want == ContentCoding::identity || !variant_eligible(*obj)) {
                if (serve_hit(viewer, req, policy, obj, CacheResult::hit, now)) return;
            } else {
                variant_key(key_, want, &vkey_);
                Ref<CachedObject> v;
                if (services_.cache->find(vkey_, hash_cache_key(vkey_), now, &v) == ObjectCache::Lookup::fresh &&
                    variant_tied(*v, *obj)) {
                    if (is_variant_marker(*v)) {
                        if (serve_hit(viewer, req, policy, obj, CacheResult::hit, now)) return;
                    } else if (serve_hit(viewer, req, policy, v, CacheResult::hit, now)) {
                        services_.metrics->count_compressed(shard_, want);
                        return;
                    }
                }
                // No usable variant yet: an exchange makes one from the cached identity object (or waits for the
                // compression already running).
                p.key = key_;
                p.hash = hash;
                p.role = ProxySession::Role::variant;
                p.coding = want;
                p.identity = std::move(obj);
                p.runtime = runtime_;
                ProxySession::start(viewer, req, std::move(p));
                return;
            }
        }
        obj.reset();
        MissCoalescer::Begin begin = services_.coalescer->begin(key_, hash, now);
        if (begin.role == MissCoalescer::Role::hit && begin.object && !is_vary_marker(*begin.object) &&
            serve_hit(viewer, req, policy, begin.object, CacheResult::hit, now)) {
            return;
        }
        p.key = key_;
        p.hash = hash;
        p.plain_key_len = plain_key_len_;
        if (begin.role == MissCoalescer::Role::lead)
            p.role = ProxySession::Role::lead;
        else if (begin.role == MissCoalescer::Role::join)
            p.role = ProxySession::Role::join;
        p.fill = std::move(begin.fill);
        p.leader = std::move(begin.leader);
        if (!p.fill) p.role = ProxySession::Role::pass;
        p.coding = want;
    }
    p.runtime = runtime_;
    ProxySession::start(viewer, req, std::move(p));
}

bool ProxyHandler::answer_at_edge(Viewer& viewer, const HttpRequest& req, const BehaviorConfig& b,
                                  std::string_view path) {
    const ResponseHeadersPolicy* policy = b.response_headers_policy.get();
    // CloudFront's viewer protocol policy: req.secure says the request came over an HTTPS listener ([tls]).
    if (b.routing.protocol != ViewerProtocolPolicy::allow_all && !req.secure) {
        if (b.routing.protocol == ViewerProtocolPolicy::https_only) {
            send_simple(viewer, &req, 403, "https required\n", CacheResult::error, {}, true, policy);
            return true;
        }
        if (!host_is_safe(req.host)) {
            send_simple(viewer, &req, 400, "bad host\n", CacheResult::error, {}, true, policy);
            return true;
        }
        // The port of an HTTP Host is not the HTTPS one: the redirect goes to the default port 443.
        redirect_buf_.assign("https://");
        redirect_buf_.append(host_without_port(req.host));
        std::string target;
        expand_redirect("$path$query", req.host, path, req.query, &target);
        redirect_buf_.append(target);
        bool safe = req.method == HTTP_GET || req.method == HTTP_HEAD;
        send_redirect(viewer, req, safe ? 301 : 308, redirect_buf_, policy);
        return true;
    }
    // A CORS preflight is answered here when the policy has CORS, whether or not OPTIONS goes to the origin
    // (unless cors_origin_override = false leaves it to an origin that gets OPTIONS).
    bool has_acrm = false;
    std::string_view acrm;
    if (req.method == HTTP_OPTIONS && policy) acrm = req.header("access-control-request-method", &has_acrm);
    switch (preflight_answer(policy, req.method == HTTP_OPTIONS, req.header("origin"), has_acrm, acrm,
                             method_allowed(b.allowed_methods, "OPTIONS"))) {
    case PreflightAnswer::allowed: {
        std::string lines;
        append_preflight_lines(*policy, req.header("origin"), req.header("access-control-request-headers"), lines);
        send_simple(viewer, &req, 204, {}, CacheResult::none, lines, true, policy, false);
        return true;
    }
    case PreflightAnswer::refused:
        // No CORS field at all: the browser fails the request it was asked about.
        send_simple(viewer, &req, 403, "CORS preflight refused: origin or method not allowed\n", CacheResult::error, {},
                    true, policy, false);
        return true;
    case PreflightAnswer::to_origin:
    case PreflightAnswer::not_preflight:
        break;
    }
    if (!b.routing.redirect.target.empty()) {
        if (!host_is_safe(req.host) && b.routing.redirect.target.find("$host") != std::string::npos) {
            send_simple(viewer, &req, 400, "bad host\n", CacheResult::error, {}, true, policy);
            return true;
        }
        expand_redirect(b.routing.redirect.target, req.host, path, req.query, &redirect_buf_);
        send_redirect(viewer, req, b.routing.redirect.status, redirect_buf_, policy);
        return true;
    }
    return false;
}

void ProxyHandler::send_redirect(Viewer& viewer, const HttpRequest& req, int status, std::string_view location,
                                 const ResponseHeadersPolicy* policy) {
    std::string lines = "Location: ";
    lines.append(location);
    lines.append("\r\n");
    std::string body = "Redirecting to ";
    body.append(location);
    body.append("\n");
    send_simple(viewer, &req, status, body, CacheResult::redirect, lines, true, policy);
}

bool ProxyHandler::serve_error_page(Viewer& viewer, const HttpRequest& req, const ErrorResponseConfig& er,
                                    const ResponseHeadersPolicy* policy,
                                    std::shared_ptr<const EdgeRuntime> policy_owner) {
    if (er.page.empty() || (req.method != HTTP_GET && req.method != HTTP_HEAD)) return false;
    // The site again from this handler's snapshot (the caller's may be older, after a reload).
    const SiteConfig* site = match_site(runtime_->config, req.host);
    if (!site) return false;
    const BehaviorConfig& b = match_behavior(*site, er.page);
    int status = er.response_status ? er.response_status : er.status;
    ProxySession::Params p;
    p.handler = this;
    p.behavior = &b;
    p.path = er.page;
    p.role = ProxySession::Role::pass;
    p.status_override = status;
    p.response_headers = policy; // the viewer asked for its own URL: that behavior's policy, not the page's
    p.policy_owner = std::move(policy_owner);
    p.runtime = runtime_;
    std::string key; // the error path: an allocation here costs nothing that matters
    if (b.cache &&
        build_cache_key(site->key_prefix, req.host, er.page, "", b.query_string, b.query_string_allowlist, &key)) {
        append_key_fields(req.headers, b, &key);
        uint64_t hash = hash_cache_key(key);
        uint64_t now = wall_ms();
        Ref<CachedObject> obj;
        if (services_.cache->find(key, hash, now, &obj) == ObjectCache::Lookup::fresh &&
            serve_hit(viewer, req, policy, obj, CacheResult::hit, now, status)) {
            return true;
        }
        obj.reset();
        MissCoalescer::Begin begin = services_.coalescer->begin(key, hash, now);
        if (begin.role == MissCoalescer::Role::hit && begin.object &&
            serve_hit(viewer, req, policy, begin.object, CacheResult::hit, now, status)) {
            return true;
        }
        p.key = key;
        p.hash = hash;
        if (begin.role == MissCoalescer::Role::lead) p.role = ProxySession::Role::lead;
        if (begin.role == MissCoalescer::Role::join) p.role = ProxySession::Role::join;
        p.fill = std::move(begin.fill);
        p.leader = std::move(begin.leader);
        if (!p.fill) p.role = ProxySession::Role::pass;
    }
    ProxySession::start(viewer, req, std::move(p));
    return true;
}

bool ProxyHandler::serve_while_revalidating(Viewer& viewer, const HttpRequest& req, const BehaviorConfig& b,
                                            std::string_view path, uint64_t hash, const Ref<CachedObject>& stale,
                                            uint64_t now_ms) {
    if (!stale->complete() || stale->must_revalidate()) return false;
    StaleWindows w = stale_windows(stale->stored_fields());
    if (now_ms >= stale->expires_at_ms() + w.while_revalidate_ms) return false;
    // The refresh starts before the answer: once the answer has ended, the connection may already be parsing the
    // next request over `req`.
    MissCoalescer::Begin begin = services_.coalescer->begin(key_, hash, now_ms);
    if (begin.role == MissCoalescer::Role::lead) {
        ProxySession::Params p;
        p.handler = this;
        p.behavior = &b;
        p.path = path;
        p.key = key_;
        p.hash = hash;
        p.plain_key_len = plain_key_len_;
        p.role = ProxySession::Role::lead;
        p.fill = std::move(begin.fill);
        p.leader = std::move(begin.leader);
        p.runtime = runtime_;
        services_.metrics->count_stale_served(shard_);
        ProxySession::start(background_, req, std::move(p));
    }
    return serve_hit(viewer, req, b.response_headers_policy.get(), stale, CacheResult::hit, now_ms);
}

void ProxyHandler::refresh_variants(std::string_view identity_key, const CachedObject& identity,
                                    uint64_t old_expires_at_ms, const Freshness& f) {
    std::string vk;
    for (ContentCoding c : {ContentCoding::gzip, ContentCoding::br}) {
        variant_key(identity_key, c, &vk);
        Ref<CachedObject> v;
        services_.cache->find(vk, hash_cache_key(vk), wall_ms(), &v);
        if (v && variant_tied(*v, identity, old_expires_at_ms)) v->refresh(f);
    }
}

void ProxyHandler::drop_stale_variants(std::string_view identity_key, const CachedObject& identity) {
    std::string vk;
    for (ContentCoding c : {ContentCoding::gzip, ContentCoding::br}) {
        variant_key(identity_key, c, &vk);
        Ref<CachedObject> v;
        // At time 0 everything reads fresh, so the lookup itself never erases; untied ones go below.
        services_.cache->find(vk, hash_cache_key(vk), 0, &v);
        if (v && !variant_tied(*v, identity)) services_.cache->erase(vk, v.get());
    }
}

void ProxyHandler::invalidate_after_unsafe(const HttpRequest& req, const shared::HttpHeaders& response) {
    invalidate_uri(req, req.host, req.path, req.query);
    for (const char* name : {"location", "content-location"}) {
        const std::string* v = shared::find_header(response, name);
        if (!v) continue;
        std::string_view ref = *v;
        ref = ref.substr(0, ref.find('#'));
        std::string_view host = req.host;
        if (shared::ascii_istarts_with(ref, "http://") || shared::ascii_istarts_with(ref, "https://")) {
            // Absolute: only URIs on the request's own host (§4.4, to keep one origin from purging another's).
            ref.remove_prefix(ref.find("//") + 2);
            size_t slash = ref.find_first_of("/?");
            host = ref.substr(0, slash);
            ref = slash == std::string_view::npos ? std::string_view("/") : ref.substr(slash);
            if (!shared::ascii_iequals(host, req.host)) continue;
        } else if (ref.empty() || ref[0] != '/' || ref.substr(0, 2) == "//") {
            continue; // relative to the target's folder, or network-path: rare, and not worth guessing
        }
        size_t q = ref.find('?');
        invalidate_uri(req, host, ref.substr(0, q), q == std::string_view::npos ? "" : ref.substr(q + 1));
    }
}

void ProxyHandler::invalidate_uri(const HttpRequest& req, std::string_view host, std::string_view raw_path,
                                  std::string_view raw_query) {
    std::string path(raw_path.size() + 1, '\0');
    PathError err = PathError::none;
    size_t n = normalize_request_path(raw_path, path.data(), path.size(), &err);
    if (n == 0) return;
    path.resize(n);
    const SiteConfig* site = match_site(runtime_->config, req.host);
    if (!site) return;
    const BehaviorConfig& b = match_behavior(*site, path);
    std::string key;
    if (!b.cache ||
        !build_cache_key(site->key_prefix, host, path, raw_query, b.query_string, b.query_string_allowlist, &key))
        return;
    append_key_fields(req.headers, b, &key);
    bool dropped = services_.cache->erase(key);
    std::string vk;
    for (ContentCoding c : {ContentCoding::gzip, ContentCoding::br}) {
        variant_key(key, c, &vk);
        dropped = services_.cache->erase(vk) || dropped;
    }
    if (dropped) shared::log::debug("edge", "invalidated by an unsafe request", {{"key", key}});
}

void ProxyHandler::reject(Viewer& viewer, int status, const char* reason) {
    shared::log::debug("edge", "bad request", {{"client", viewer.peer_ip()}, {"reason", reason}});
    std::string body = std::string(reason) + "\n";
    send_simple(viewer, nullptr, status, body, CacheResult::error, {}, false);
}

void ProxyHandler::send_simple(Viewer& viewer, const HttpRequest* req, int status, std::string_view body,
                               CacheResult result, std::string_view extra_headers, bool keep_alive,
                               const ResponseHeadersPolicy* policy, bool policy_cors) {
    if (req) keep_alive = keep_alive && req->keep_alive;
    std::string& h = viewer.head_buffer();
    EdgeHeaders eh;
    eh.date = date();
    eh.via = runtime_->via;
    eh.result = result;
    eh.keep_alive = keep_alive;
    eh.http10 = req && req->http10();
    size_t start = h.size();
    std::string with_policy; // an answer of the edge's own: not the hit path, so composing the lines may allocate
    if (policy) {
        apply_to_edge_headers(policy, &eh);
        with_policy.assign(extra_headers);
        append_policy_lines(
            *policy, req ? req->header("origin") : std::string_view(), [](std::string_view) { return false; },
            with_policy, policy_cors);
        extra_headers = with_policy;
    }
    if (status == 204) {
        // RFC 9110 §8.6: no Content-Length (nor body, nor Content-Type) on a 204.
        HeadWriter w(h);
        w.status_line(204);
        write_edge_headers(w, eh);
        h.append(extra_headers);
        w.end();
    } else {
        write_simple_response(h, status, body, eh, req && req->method == HTTP_HEAD, extra_headers);
    }
    viewer.write(std::string_view(h).substr(start));
    log_request(viewer, req, status, result, h.size() - start);
    viewer.end_response(keep_alive);
}

void ProxyHandler::log_request(Viewer& viewer, const HttpRequest* req, int status, CacheResult result, uint64_t bytes) {
    services_.metrics->count_request(shard_, status, result, bytes);
    services_.metrics->observe_request_latency(shard_, viewer.request_elapsed_ms());
    if (req && services_.top_urls) services_.top_urls->record(shard_, req->host, req->path, bytes);
    if (!access_log_.enabled()) return;
    AccessLogEntry e;
    e.unix_ms = static_cast<int64_t>(wall_ms());
    e.edge = runtime_->config.server_name;
    e.bytes = bytes;
    e.client_ip = viewer.peer_ip();
    if (req) {
        e.method = req->method_name;
        e.host = req->host;
        e.uri_stem = req->path;
        e.referer = req->header("referer");
        e.user_agent = req->header("user-agent");
        e.query = req->query;
        e.protocol_version = req->version_major == 2 ? "HTTP/2.0" : req->http10() ? "HTTP/1.0" : "HTTP/1.1";
        if (const SiteConfig* site = match_site(runtime_->config, req->host)) e.site = site->name;
    }
    e.status = status;
    e.result_type = result_type_name(result);
    e.time_taken_s = static_cast<double>(viewer.request_elapsed_ms()) / 1000.0;
    e.ssl_protocol = viewer.tls_protocol();
    e.ssl_cipher = viewer.tls_cipher();
    access_log_.add(e);
}

} // namespace edge
