#include "edge/proxy/proxy_session.h"

#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <vector>

#include "edge/access/signed_request.h"
#include "edge/cache/cache_key.h"
#include "edge/cache/cache_policy.h"
#include "edge/cache/stored_headers.h"
#include "edge/cache/vary_variant.h"
#include "edge/compress/variant_headers.h"
#include "edge/compress/variant_job.h"
#include "edge/http/http_date.h"
#include "edge/proxy/origin_request.h"
#include "edge/proxy/proxy_handler.h"
#include "edge/proxy/viewer_headers.h"
#include "edge/upstream/origin_group.h"
#include "edge/upstream/sigv4_signer.h"
#include "shared/http/http_tokens.h"
#include "shared/log/log.h"

namespace edge {
namespace {

// The viewer's query as the origin sees it: without the signed-URL parameters on a private behavior.
std::string_view origin_query(const HttpRequest& req, const BehaviorConfig& b, std::string* buf) {
    return b.trusted_keys ? query_without_signing_params(req.query, buf) : req.query;
}

TtlPolicy ttl_policy(const BehaviorConfig& b) {
    TtlPolicy p;
    p.min_ttl_ms = b.min_ttl_ms;
    p.default_ttl_ms = b.default_ttl_ms;
    p.max_ttl_ms = b.max_ttl_ms;
    p.error_ttl_ms = b.error_ttl_ms;
    p.cache_set_cookie = b.cache_set_cookie;
    p.heuristic_fraction = b.heuristic_fraction;
    p.heuristic_max_ms = b.heuristic_max_ms;
    p.keep_stale = b.serve_stale_on_error || b.serve_stale_when_disconnected;
    return p;
}

std::vector<HeaderField> fields_of(const shared::HttpHeaders& headers) {
    std::vector<HeaderField> v;
    v.reserve(headers.size());
    for (const auto& h : headers)
        v.push_back({h.name, h.value});
    return v;
}

uint64_t parse_length(std::string_view s, bool* ok) {
    uint64_t v = 0;
    auto r = std::from_chars(s.data(), s.data() + s.size(), v);
    *ok = r.ec == std::errc() && r.ptr == s.data() + s.size() && !s.empty();
    return v;
}

CacheResult result_for_status(int status, CacheResult r) {
    return status >= 400 ? CacheResult::error : r;
}

} // namespace

ProxySession::ProxySession(Viewer& viewer, const HttpRequest& req, Params&& p)
    : handler_(p.handler), viewer_(viewer), req_(req), io_(nullptr), rt_(std::move(p.runtime)), behavior_(p.behavior),
      origin_(&rt_->config.origins[p.behavior->origin_index]), path_(p.path), key_(p.key), hash_(p.hash), role_(p.role),
      fill_(std::move(p.fill)), leader_(std::move(p.leader)) {
    coding_ = p.coding;
    plain_key_len_ = p.plain_key_len;
    status_override_ = p.status_override;
    error_page_ = p.status_override != 0;
    policy_ = p.response_headers;
    policy_owner_ = std::move(p.policy_owner);
    if (role_ == Role::variant) obj_ = std::move(p.identity);
    keep_alive_ = req.keep_alive;
    head_only_ = req.method == HTTP_HEAD;
    viewer_.hold();
    viewer_.attach(this);
    io_ = handler_->io().open_session_io(this);
    handler_->session_started(this);
}

ProxySession::~ProxySession() {
    handler_->session_finished(this);
    viewer_.release(); // may free the connection object: the last use of viewer_
}

ProxySession* ProxySession::start(Viewer& viewer, const HttpRequest& req, Params p) {
    auto* s = new ProxySession(viewer, req, std::move(p));
    // A viewer already gone (a background refresh's DetachedViewer): nothing is ever written; a lead still fills.
    if (viewer.gone()) s->phase_ = Phase::aborted;
    s->begin();
    return s;
}

void ProxySession::begin() {
    switch (role_) {
    case Role::lead:
        driving_ = true;
        subscribed_ = fill_->subscribe(this);
        fetch_for_fill();
        break;
    case Role::join: {
        auto& m = *handler_->services().metrics;
        if (m.registry) m.registry->inc(handler_->shard(), m.collapsed);
        subscribed_ = fill_->subscribe(this);
        uint64_t wait = rt_->config.cache.collapse_timeout_ms;
        if (fill_->state() == FillState::waiting) io_->start_timer(wait);
        on_fill_state();
        break;
    }
    case Role::pass:
        start_private_fetch();
        break;
    case Role::variant:
        result_ = CacheResult::hit; // the origin is not asked: the variant is made from the cached object
        pump();
        break;
    }
}

// ---------------------------------------------------------------- viewer side

bool ProxySession::send(const OutBuf* bufs, unsigned n) {
    if (phase_ != Phase::body) return false;
    if (viewer_.write(bufs, n)) return true;
    viewer_left(); // usually on_viewer_gone() did this already, from inside the write
    return false;
}

bool ProxySession::send_copy(std::string_view s) {
    if (phase_ != Phase::body) return false;
    if (viewer_.write_copy(s)) return true;
    viewer_left();
    return false;
}

bool ProxySession::send_chunk_size(uint64_t total) {
    char hdr[24];
    auto r = std::to_chars(hdr, hdr + 16, total, 16);
    *r.ptr++ = '\r';
    *r.ptr++ = '\n';
    return send_copy(std::string_view(hdr, static_cast<size_t>(r.ptr - hdr)));
}

bool ProxySession::send_chunk(const OutBuf* bufs, unsigned n, uint64_t total, bool copy) {
    if (!send_chunk_size(total)) return false;
    bool ok = copy ? send_copy(std::string_view(bufs[0].data, bufs[0].len)) : send(bufs, n);
    return ok && send("\r\n");
}

bool ProxySession::head_sent() {
    if (phase_ != Phase::head) return false; // the viewer left while the head was written
    if (viewer_.gone()) {
        viewer_left();
        return false;
    }
    phase_ = Phase::body;
    return true;
}

void ProxySession::finish() {
    if (phase_ != Phase::body) return;
    phase_ = Phase::done;
    if (variant_served_) handler_->services().metrics->count_compressed(handler_->shard(), coding_);
    handler_->log_request(viewer_, &req_, status_, result_, bytes_);
    // The viewer may go on to its next request (and session) inside this call; req_ is not read after it.
    viewer_.end_response(keep_alive_);
    maybe_destroy();
}

bool ProxySession::answer_with_error_page(int status) {
    const SiteConfig& site = rt_->config.sites[behavior_->site_index];
    if (phase_ != Phase::head || error_page_ || site.error_responses.empty()) return false;
    const ErrorResponseConfig* er = find_error_response(site, status);
    if (!er || er->page.empty() || (req_.method != HTTP_GET && req_.method != HTTP_HEAD)) return false;
    phase_ = Phase::done;
    viewer_.detach();
    if (pass_ || role_ == Role::pass) {
        fetch_.reset(); // the origin's error body is not wanted
        driving_ = false;
    }
    // The page's session (or hit) may end the response, and the connection go on to its next request, before this
    // returns: req_ is not read after it.
    handler_->serve_error_page(viewer_, req_, *er, policy_, policy_ ? rt_ : nullptr);
    maybe_destroy();
    return true;
}

void ProxySession::fail_viewer(int status) {
    if (phase_ == Phase::body) {
        cut(); // a head went out: an error answer now would be read as part of the body
        return;
    }
    if (phase_ != Phase::head) return;
    if (answer_with_error_page(status)) return;
    phase_ = Phase::done;
    viewer_.detach();
    // 503: the origin is there but not ready (a bucket mid-deploy: its folder missing, a file being written).
    handler_->send_simple(viewer_, &req_, status,
                          status == 504   ? "origin timed out\n"
                          : status == 503 ? "origin unavailable\n"
                                          : "origin failed\n",
                          CacheResult::error, status == 503 ? "Retry-After: 1\r\n" : std::string_view(), true, policy_);
    maybe_destroy();
}

void ProxySession::answer_unsatisfiable(uint64_t size) {
    if (phase_ != Phase::head) return;
    phase_ = Phase::done;
    viewer_.detach();
    handler_->send_unsatisfiable(viewer_, req_, size, policy_);
    maybe_destroy();
}

void ProxySession::cut() {
    if (!viewing()) return;
    phase_ = Phase::aborted;
    viewer_.detach();
    viewer_.abort(); // never a short body presented as complete
    if (pass_ || role_ == Role::pass) fetch_.reset();
    maybe_destroy();
}

void ProxySession::viewer_left() {
    if (!viewing()) return;
    phase_ = Phase::aborted;
    viewer_.detach();
    if (pass_ || role_ == Role::pass) {
        // Nobody else wants this response.
        fetch_.reset();
        driving_ = false;
    }
    maybe_destroy();
}

void ProxySession::on_viewer_gone() {
    viewer_left();
}

void ProxySession::on_writable() {
    if (!viewing()) return;
    if (pass_) {
        if (bucket_resp_.fd >= 0)
            pump_bucket_pass();
        else if (fetch_)
            fetch_->resume();
        return;
    }
    pump();
}

void ProxySession::abort() {
    if (dead_) return;
    fetch_.reset();
    if (driving_) {
        driving_ = false;
        fill_obj_.reset();
        fill_->fail();
    }
    if (viewing()) {
        phase_ = Phase::aborted;
        viewer_.detach();
        viewer_.abort();
    }
    destroy();
}

void ProxySession::maybe_destroy() {
    if (viewing() || driving_ || dead_) return;
    destroy();
}

void ProxySession::destroy() {
    dead_ = true;
    if (subscribed_ && fill_) fill_->unsubscribe(this);
    subscribed_ = false;
    leave_variant_fill();
    fetch_.reset();
    io_->stop_timer();
    if (jobs_ == 0) io_->close(); // else the last job's completion closes it
}

void ProxySession::job_done() {
    if (--jobs_ == 0 && dead_) io_->close();
}

void ProxySession::on_io_closed() {
    delete this;
}

// ---------------------------------------------------------------- fill side

void ProxySession::on_fill_progress() noexcept {
    io_->wake();
}

void ProxySession::on_wakeup() {
    on_fill_state();
}

void ProxySession::on_timer() {
    if (waiting_variant_) {
        // The compression goes on (and later viewers get its result); this viewer has waited long enough.
        if (!dead_ && viewing()) use_identity();
        return;
    }
    if (dead_ || !viewing() || role_ != Role::join || !fill_) return;
    FillState st = fill_->state();
    if (obj_ || (st != FillState::waiting && st != FillState::streaming)) return;
    // The leader's origin is slow to answer: stop waiting and fetch for ourselves.
    leave_fill_and_fetch();
}

void ProxySession::leave_fill_and_fetch() {
    if (subscribed_) fill_->unsubscribe(this);
    subscribed_ = false;
    fill_.reset();
    obj_.reset();
    role_ = Role::pass;
    io_->stop_timer();
    start_private_fetch();
}

void ProxySession::on_fill_state() {
    if (waiting_variant_) {
        on_variant_state();
        return;
    }
    if (dead_ || !viewing() || pass_ || !fill_) return;
    switch (fill_->state()) {
    case FillState::waiting:
        return;
    case FillState::streaming:
    case FillState::complete:
        if (!obj_) {
            obj_ = fill_->object();
            if (!obj_ && fill_->stale()) obj_ = fill_->stale();
            if (!obj_) return;
            if (role_ == Role::join && obj_ != fill_->stale() && obj_->key() != key_) {
                // The answer varies on request fields (a variant of the leader's request, edge/cache/vary_variant.h),
                // which ours may not share: fetch for ourselves, as for an uncacheable answer. Later requests find
                // the variants through the marker and collapse per variant.
                obj_.reset();
                if (phase_ == Phase::head) leave_fill_and_fetch();
                return;
            }
            if (role_ == Role::join && obj_ != fill_->stale() && !obj_->complete() &&
                obj_->body().expected_size() == 0) {
                // No Content-Length: the body may still outgrow max_object_bytes, and then the fill stops holding
                // it. A waiter that had started sending could only be cut, so it waits for the whole body (as
                // nginx's proxy_cache_lock does), or fetches for itself after collapse_timeout or on outgrowth.
                obj_.reset();
                return;
            }
            io_->stop_timer();
            bool refreshed = fill_->refreshed();
            result_ = result_for_status(obj_->status(), refreshed ? CacheResult::refresh_hit : CacheResult::miss);
        }
        pump();
        return;
    case FillState::uncacheable:
        if (role_ == Role::join && phase_ == Phase::head) leave_fill_and_fetch();
        return;
    case FillState::failed:
        if (phase_ == Phase::body) {
            cut();
            return;
        }
        if (role_ == Role::join && fill_->outgrown()) {
            // Too large to cache: nothing was sent yet, so fetch it privately and pass it through whole.
            leave_fill_and_fetch();
            return;
        }
        if (role_ == Role::lead && driving_) return; // on_origin_error answers
        if (serve_stale_instead()) return;
        fail_viewer(role_ == Role::lead && origin_error_ != shared::HttpError::None
                        ? shared::http_error_status(origin_error_)
                        : fill_->fail_status()); // the leader's answer, so all viewers agree
        return;
    }
}

void ProxySession::pump() {
    if (!viewing() || !obj_) return;
    if (phase_ == Phase::head && coding_ != ContentCoding::identity && !variant_served_) {
        if (waiting_variant_) return;
        if (!variant_eligible_headers(obj_->status(), obj_->header_block())) {
            coding_ = ContentCoding::identity;
        } else if (!obj_->complete()) {
            return; // a compressed answer is made from the whole identity body
        } else if (!variant_eligible(*obj_)) {
            coding_ = ContentCoding::identity;
        } else {
            start_variant();
            return;
        }
    }
    uint64_t now = ProxyHandler::wall_ms();
    if (phase_ == Phase::head) {
        bool complete = obj_->complete();
        // A body still filling has the length its origin announced (Content-Length), if any: the viewer gets that
        // length, and a Range is answered from it as on a hit (206 streams the range as its bytes arrive).
        uint64_t total = complete ? obj_->body().size() : obj_->body().expected_size();
        bool known_length = complete || total > 0;
        if (obj_->status() >= 400 && answer_with_error_page(obj_->status())) return;
        ByteRange range;
        RangeOutcome ro =
            known_length && !status_override_ ? handler_->range_of(req_, *obj_, total, &range) : RangeOutcome::full;
        if (ro == RangeOutcome::unsatisfiable) {
            answer_unsatisfiable(total);
            return;
        }
        if (!known_length && !head_only_) {
            if (req_.chunked_bodies())
                chunked_ = true;
            else if (req_.http10())
                keep_alive_ = false; // HTTP/1.0: the body ends when the connection does
        }
        if (obj_->status() >= 400) status_override_ = 0; // the page is an error itself: its own status
        status_ = status_override_ ? status_override_ : obj_->status();
        if (ro == RangeOutcome::partial) {
            status_ = 206;
            sent_ = range.first;
            body_end_ = range.last + 1;
        }
        viewer_.pin(obj_);
        // The body bytes already here leave with the head: in its writev, or by sendfile right after it, as a hit's.
        OutBuf first{};
        FileSpan file{-1, 0, nullptr, 0};
        if (!chunked_ && !head_only_) {
            const BodyBuffer& body = obj_->body();
            uint64_t here = std::min(body.size(), body_end_);
            BodySlice sl;
            int fd = -1;
            uint64_t file_off = 0;
            if (sent_ < here && body.slices(sent_, here, &sl, 1) == 1) {
                if (sl.len == here - sent_ && body.file_span(sent_, here, &fd, &file_off))
                    file = FileSpan{fd, file_off, sl.data, sl.len};
                else
                    first = OutBuf{sl.data, sl.len};
            }
        }
        bytes_ += handler_->write_object_head(
            viewer_, *obj_, result_, keep_alive_, chunked_, known_length, req_.http10(), now,
            first.len ? &first : nullptr, first.len ? 1 : 0, ro == RangeOutcome::partial ? &range : nullptr,
            file.len ? &file : nullptr, status_override_, cache_status(),
            own_obj_ && obj_ == own_obj_ ? std::string_view(own_fields_) : std::string_view(), policy_,
            req_.header("origin"));
        if (!head_sent()) return;
        sent_ += first.len + file.len;
        bytes_ += first.len + file.len;
        if (head_only_) {
            finish();
            return;
        }
    }
    send_body(false);
    if (phase_ != Phase::body) return;
    const BodyBuffer& body = obj_->body();
    if (sent_ >= body_end_ || (obj_->complete() && sent_ >= body.size())) {
        if (chunked_ && !send("0\r\n\r\n")) return;
        finish();
    }
}

void ProxySession::send_body(bool past_congestion) {
    const BodyBuffer& body = obj_->body();
    while (phase_ == Phase::body) {
        uint64_t size = std::min(body.size(), body_end_);
        if (sent_ >= size || (!past_congestion && viewer_.congested())) break;
        if (send_file_span(body, size)) continue;
        // Bytes on the heap before a file (a body of unknown length that outgrew its heap chunks) go from memory,
        // and no further: the file's part is for sendfile.
        uint64_t file_start = body.file_start();
        uint64_t mem_end = sent_ < file_start ? std::min(size, file_start) : size;
        BodySlice sl[4];
        size_t n = body.slices(sent_, mem_end, sl, 4);
        if (n == 0) break;
        OutBuf bufs[4];
        uint64_t total = 0;
        for (size_t i = 0; i < n; ++i) {
            bufs[i] = OutBuf{sl[i].data, sl[i].len};
            total += sl[i].len;
        }
        bool ok =
            chunked_ ? send_chunk(bufs, static_cast<unsigned>(n), total, false) : send(bufs, static_cast<unsigned>(n));
        if (!ok) return;
        sent_ += total;
        bytes_ += total;
    }
}

// What has arrived of a body filling a shared-memory file goes to the viewer as a hit's does: by sendfile, from
// the file's pages, with no copy through this process (and no page faults on its mapping of them). False when
// [sent_, size) is not all in the file; true when sent, or when the viewer went away (phase_ says which).
bool ProxySession::send_file_span(const BodyBuffer& body, uint64_t size) {
    int fd = -1;
    uint64_t file_off = 0;
    BodySlice whole;
    if (!body.file_span(sent_, size, &fd, &file_off) || body.slices(sent_, size, &whole, 1) != 1 ||
        whole.len != size - sent_)
        return false;
    // A chunked response (a body of unknown length) frames the span as one chunk.
    if (chunked_ && !send_chunk_size(whole.len)) return true;
    if (!viewer_.write_file(nullptr, 0, FileSpan{fd, file_off, whole.data, whole.len})) {
        viewer_left();
        return true;
    }
    if (chunked_ && !send("\r\n")) return true;
    sent_ += whole.len;
    bytes_ += whole.len;
    return true;
}

void ProxySession::revalidate_from_304(const std::vector<HeaderField>& fields, uint64_t now) {
    const Ref<CachedObject>& stale = fill_->stale();
    // RFC 9111 §4.3.4: a 304 refreshes the stored object with its headers merged over the stored ones, so a 304
    // without Cache-Control keeps the stored max-age instead of falling back to default_ttl.
    ResponseFacts facts = facts_after_304(stale->status(), stale->stored_fields(), stale->has_validators(),
                                          fields.data(), fields.size(), request_time_ms_, now);
    TtlPolicy policy = ttl_policy(*behavior_);
    policy.vary_variants = true; // the stale object is stored under its variant's key already
    Freshness f = compute_freshness(facts, policy);
    std::string block;
    ValidatorSpans val;
    if (merge_stored_header_block(stale->stored_fields(), fields.data(), fields.size(), behavior_->cache_set_cookie,
                                  &block, &val, omitted_fields(facts.cache_control))) {
        // The 304 changed the stored headers (RFC 9111 §4.3.4): a copy with the merged block replaces the object,
        // and its variants, made with the old headers, go (they are made again on demand).
        Ref<CachedObject> fresh = CachedObject::create_copy(*stale, block, val, f);
        fill_->revalidated_with(fresh);
        handler_->drop_stale_variants(key_, *fresh);
    } else {
        uint64_t old_expiry = stale->expires_at_ms();
        fill_->revalidated(f);
        handler_->refresh_variants(key_, *stale, old_expiry, f);
    }
    driving_ = false;
}

CacheStatus ProxySession::cache_status() const {
    CacheStatus cs;
    if (role_ == Role::variant) return cs; // made from the cached identity object: a hit
    if (served_stale_) {
        cs.fwd = CacheStatus::Fwd::stale;
        cs.detail = "stale-on-error";
        return cs;
    }
    bool revalidation = fill_ && fill_->stale();
    cs.fwd = revalidation ? CacheStatus::Fwd::stale : CacheStatus::Fwd::uri_miss;
    cs.fwd_status = static_cast<uint16_t>(fill_ && fill_->refreshed() ? 304 : obj_ ? obj_->status() : 0);
    cs.stored = fill_ != nullptr;
    cs.collapsed = role_ == Role::join;
    return cs;
}

bool ProxySession::stale_usable_on_error(const CachedObject& stale, bool disconnected) const {
    if (stale.must_revalidate()) return false;
    if (behavior_->serve_stale_on_error || (disconnected && behavior_->serve_stale_when_disconnected)) return true;
    // RFC 5861 §4: the origin's own stale-if-error window, even where the behavior does not serve stale.
    return ProxyHandler::wall_ms() < stale.expires_at_ms() + stale_windows(stale.stored_fields()).if_error_ms;
}

bool ProxySession::serve_stale_instead() {
    if (phase_ != Phase::head || obj_ || !fill_) return false;
    const Ref<CachedObject>& stale = fill_->stale();
    // Here the fill failed: the origin was not reached, or (serve_stale_on_error only) its leader got a 5xx.
    if (!stale || !stale->complete() || !stale_usable_on_error(*stale, true)) return false;
    handler_->services().metrics->count_stale_served(handler_->shard());
    served_stale_ = true;
    obj_ = stale;
    result_ = result_for_status(stale->status(), CacheResult::hit);
    io_->stop_timer();
    pump();
    return true;
}

// ---------------------------------------------------------------- compressed variants

void ProxySession::start_variant() {
    waiting_variant_ = true;
    src_ = obj_;
    std::string vkey;
    variant_key(key_, coding_, &vkey);
    const EdgeServices& sv = handler_->services();
    uint64_t now = ProxyHandler::wall_ms();
    for (int attempt = 0; attempt < 2; ++attempt) {
        MissCoalescer::Begin b = sv.coalescer->begin(vkey, now);
        switch (b.role) {
        case MissCoalescer::Role::hit:
            if (variant_tied(*b.object, *src_)) {
                use_variant(std::move(b.object));
                return;
            }
            sv.cache->erase(vkey, b.object.get()); // made from an identity object that is gone
            continue;
        case MissCoalescer::Role::pass:
            break;
        case MissCoalescer::Role::join:
            vfill_ = std::move(b.fill);
            vsubscribed_ = vfill_->subscribe(this);
            io_->start_timer(rt_->config.cache.compress_timeout_ms);
            on_variant_state();
            return;
        case MissCoalescer::Role::lead: {
            const Ref<CachedObject>& stale = b.fill->stale();
            if (stale && variant_tied(*stale, *src_)) {
                // Identity and variant were revalidated together (zero-lifetime objects): still the same bytes.
                Freshness f;
                f.store = true;
                f.expires_at_ms = src_->expires_at_ms();
                uint64_t age_ms = static_cast<uint64_t>(src_->age_seconds(now)) * 1000;
                f.age_origin_ms = now > age_ms ? now - age_ms : 0;
                f.must_revalidate = src_->must_revalidate();
                f.date_s = src_->date_s();
                Ref<CachedObject> v = stale;
                b.leader->revalidated(f);
                use_variant(std::move(v));
                return;
            }
            vfill_ = b.fill;
            vsubscribed_ = vfill_->subscribe(this);
            VariantJobParams jp;
            jp.leader = std::move(b.leader);
            jp.identity = src_;
            jp.coding = coding_;
            jp.level = coding_ == ContentCoding::br ? behavior_->brotli_quality : behavior_->gzip_level;
            jp.clock_ms = &ProxyHandler::wall_ms;
            EdgeMetrics* m = sv.metrics;
            unsigned shard = handler_->shard();
            jp.on_done = [m, shard](const VariantJobResult& r) {
                if (!r.precompressed) m->count_compression(shard, r.coding, r.bytes_in, r.bytes_out, r.stored_variant);
            };
            if (origin_->type == OriginType::bucket && rt_->buckets[behavior_->origin_index]) {
                // The bucket's own "<file>.br"/".gz", when it belongs to this identity's release and is not older.
                std::string suffix = coding_ == ContentCoding::br ? ".br" : ".gz";
                uint64_t max = sv.coalescer->max_object_bytes();
                jp.precompressed = [rt = rt_, idx = behavior_->origin_index, path = path_, suffix,
                                    etag = std::string(src_->etag()), max](std::string* out) {
                    return rt->buckets[idx]->read_precompressed(path, suffix, etag, max, out);
                };
            }
            // The job resolves the variant's fill whether or not this session is still there.
            auto job = std::make_shared<VariantJob>(std::move(jp));
            handler_->io().run_off_loop([job] { job->compress(); }, [job](bool ran) { job->complete(ran); });
            if (dead_ || !viewing()) return; // the job could not be queued and its failure already reached us
            io_->start_timer(rt_->config.cache.compress_timeout_ms);
            on_variant_state();
            return;
        }
        }
        break;
    }
    use_identity();
}

void ProxySession::on_variant_state() {
    if (dead_ || !viewing() || !waiting_variant_) return;
    if (!vfill_) {
        use_identity();
        return;
    }
    switch (vfill_->state()) {
    case FillState::waiting:
    case FillState::streaming:
        return; // the job stores its result in one step; wait for complete
    case FillState::complete: {
        Ref<CachedObject> v = vfill_->object();
        if (v && v->complete() && !is_variant_marker(*v))
            use_variant(std::move(v));
        else
            use_identity();
        return;
    }
    case FillState::uncacheable:
    case FillState::failed:
        use_identity();
        return;
    }
}

void ProxySession::leave_variant_fill() {
    if (vsubscribed_ && vfill_) vfill_->unsubscribe(this);
    vsubscribed_ = false;
    vfill_.reset();
}

void ProxySession::use_variant(Ref<CachedObject> v) {
    leave_variant_fill();
    io_->stop_timer();
    waiting_variant_ = false;
    variant_served_ = true;
    obj_ = std::move(v);
    src_.reset();
    pump();
}

void ProxySession::use_identity() {
    leave_variant_fill();
    io_->stop_timer();
    waiting_variant_ = false;
    coding_ = ContentCoding::identity;
    if (src_) obj_ = std::move(src_);
    pump();
}

// ---------------------------------------------------------------- origin side

void ProxySession::fetch_for_fill() {
    auto& m = *handler_->services().metrics;
    if (m.registry) m.registry->inc(handler_->shard(), m.origin_requests);
    request_time_ms_ = ProxyHandler::wall_ms();
    if (origin_->type == OriginType::bucket) {
        bucket_get(true);
        return;
    }
    http_fetch(true);
}

namespace {

// One bucket lookup on the thread pool. It owns copies of what it asks (the viewer's request may be gone before it
// runs) and the runtime that owns the BucketOrigin (a reload may replace it meanwhile).
struct BucketGet {
    std::shared_ptr<const EdgeRuntime> rt;
    size_t origin = 0;
    std::string method, path, query, if_none_match, if_modified_since, range, if_range;
    BucketResponse resp;
};

} // namespace

void ProxySession::bucket_get(bool for_fill) {
    auto g = std::make_shared<BucketGet>();
    g->rt = rt_;
    g->origin = behavior_->origin_index;
    g->path = path_;
    if (for_fill) {
        g->method = "GET"; // a HEAD miss still reads the whole object so the cache can store it
        if (const Ref<CachedObject>& stale = fill_->stale()) {
            g->if_none_match = stale->etag();
            if (g->if_none_match.empty()) g->if_modified_since = stale->last_modified();
        }
    } else {
        g->method = req_.method_name;
        std::string qbuf;
        g->query = origin_query(req_, *behavior_, &qbuf);
        g->if_none_match = req_.header("if-none-match");
        g->if_modified_since = req_.header("if-modified-since");
        g->range = req_.header("range");
        g->if_range = req_.header("if-range");
    }
    ++jobs_;
    handler_->io().run_off_loop(
        [g] {
            BucketRequest br;
            br.method = g->method;
            br.path = g->path;
            br.query = g->query;
            br.if_none_match = g->if_none_match;
            br.if_modified_since = g->if_modified_since;
            br.range = g->range;
            br.if_range = g->if_range;
            g->resp = g->rt->buckets[g->origin]->get(br);
        },
        [this, g, for_fill](bool ran) {
            if (!dead_) {
                if (!ran) { // not queued: the worker is stopping
                    if (for_fill)
                        bucket_body_read(false, false, {}, 502);
                    else
                        fail_viewer(502);
                    maybe_destroy();
                } else if (for_fill) {
                    bucket_fill(std::move(g->resp));
                } else {
                    bucket_pass(std::move(g->resp));
                }
            }
            job_done();
        });
}

void ProxySession::bucket_fill(BucketResponse resp) {
    const Ref<CachedObject>& stale = fill_->stale();
    uint64_t now = ProxyHandler::wall_ms();
    std::vector<HeaderField> fields;
    if (!resp.content_type.empty()) fields.push_back({"Content-Type", resp.content_type});
    if (!resp.etag.empty()) fields.push_back({"ETag", resp.etag});
    if (!resp.last_modified.empty()) fields.push_back({"Last-Modified", resp.last_modified});
    if (!resp.location.empty()) fields.push_back({"Location", resp.location});
    if (stale && resp.status == 304) {
        revalidate_from_304(fields, now);
        maybe_destroy();
        return;
    }
    if (resp.status == 503) {
        // The folder is missing or the file is being written (a deploy under way): never stored; every viewer of
        // this fill gets the stale copy when there is one, else the 503.
        bucket_body_read(false, false, {}, 503);
        return;
    }
    ResponseFacts facts = response_facts(resp.status, fields.data(), fields.size(), request_time_ms_, now);
    Freshness f = compute_freshness(facts, ttl_policy(*behavior_));
    uint64_t max_obj = handler_->services().coalescer->max_object_bytes();
    if (f.store && resp.status != 206 && resp.length <= max_obj) {
        if (behavior_->compress && identity_needs_vary(resp.status, fields.data(), fields.size())) {
            fields.push_back({"Vary", "Accept-Encoding"});
        }
        ValidatorSpans val;
        std::string block =
            build_stored_header_block(resp.status, "", fields.data(), fields.size(), behavior_->cache_set_cookie, &val);
        Ref<CachedObject> obj = CachedObject::create(key_, resp.status, block, val, f, resp.length);
        if (resp.fd >= 0 && resp.length > 0) {
            read_bucket_body(std::move(resp), std::move(obj)); // starts the body once it is read and checked
            return;
        }
        fill_->start_body(obj);
        if (!resp.body.empty()) fill_->append(resp.body.data(), resp.body.size());
        bucket_body_read(true, fill_->finish(ProxyHandler::wall_ms()), obj);
        return;
    }
    fill_->release_uncacheable(now);
    driving_ = false;
    if (!viewing()) {
        maybe_destroy();
        return;
    }
    if (subscribed_) fill_->unsubscribe(this);
    subscribed_ = false;
    bucket_pass(std::move(resp));
}

namespace {

// A bucket body read on the thread pool: a file of up to max_object_bytes read on the loop would stall every other
// connection of the worker for as long as the disk takes (nginx without aio has the same stall). The body is read
// whole and the file checked unchanged (BucketResponse::same_file) before the fill starts: a file a deploy wrote
// during the read is never stored nor streamed to waiters as if complete. The fill is thread-safe, so the job starts,
// fills and finishes it directly.
struct BucketRead {
    BucketResponse resp;
    Ref<Fill> fill;
    Ref<CachedObject> obj;
    bool ok = true;       // the whole file was read and the fill finished
    bool stored = false;  // ... and the object went into the cache
    bool changed = false; // the file changed (or shrank) while read: a deploy is writing it
};

} // namespace

void ProxySession::read_bucket_body(BucketResponse resp, Ref<CachedObject> obj) {
    auto r = std::make_shared<BucketRead>(BucketRead{std::move(resp), fill_, std::move(obj)});
    auto work = [r] {
        std::string body;
        if (!r->resp.read_body(&body)) { // short: the file shrank, or an I/O error
            r->ok = false;
            r->changed = true;
            return;
        }
        if (!r->resp.same_file()) {
            r->ok = false;
            r->changed = true;
            return;
        }
        r->fill->start_body(r->obj);
        // append() false: the fill failed meanwhile (the leader went away, the server is stopping).
        if (!r->fill->append(body.data(), body.size())) {
            r->ok = false;
            return;
        }
        std::string().swap(body);
        // Finished here, right after the last append, not later on the loop: a viewer who got the last byte and
        // asks again at once finds the object stored.
        r->stored = r->fill->finish(ProxyHandler::wall_ms());
    };
    ++jobs_;
    handler_->io().run_off_loop(std::move(work), [this, r](bool ran) {
        if (!dead_) bucket_body_read(ran && r->ok, r->stored, r->obj, r->changed ? 503 : 502);
        job_done();
    });
}

void ProxySession::bucket_body_read(bool ok, bool stored, const Ref<CachedObject>& obj, int fail_status) {
    if (driving_) { // abort() may have failed the fill meanwhile
        if (ok) {
            if (stored) handler_->drop_stale_variants(key_, *obj);
        } else {
            if (fail_status != 503) origin_error_ = shared::HttpError::Truncated;
            fill_->fail(fail_status);
        }
        driving_ = false;
    }
    if (!ok && phase_ == Phase::head && !serve_stale_instead()) fail_viewer(fail_status);
    maybe_destroy();
}

void ProxySession::start_private_fetch() {
    role_ = Role::pass;
    auto& m = *handler_->services().metrics;
    if (m.registry) m.registry->inc(handler_->shard(), m.origin_requests);
    request_time_ms_ = ProxyHandler::wall_ms();
    result_ = CacheResult::miss;
    if (origin_->type == OriginType::bucket) {
        bucket_get(false);
        return;
    }
    http_fetch(false);
}

void ProxySession::http_fetch(bool shared_fill) {
    OriginRequest oreq;
    std::string target;
    encode_path(path_, &target);
    OriginHeaderOptions opt;
    opt.via = rt_->via;
    opt.shared_fill = shared_fill;
    if (shared_fill) {
        // A HEAD miss still fetches the whole object so the cache can store it.
        oreq.method = "GET";
        std::string q;
        std::string qbuf;
        if (!forwarded_query(origin_query(req_, *behavior_, &qbuf), behavior_->query_string,
                             behavior_->query_string_allowlist, &q))
            q.clear();
        if (!q.empty()) target += "?" + q;
        if (const Ref<CachedObject>& stale = fill_->stale()) {
            opt.if_none_match = stale->etag();
            opt.if_modified_since = stale->last_modified();
        }
    } else {
        oreq.method = std::string(req_.method_name);
        std::string qbuf;
        if (std::string_view q = origin_query(req_, *behavior_, &qbuf); !q.empty()) target += "?" + std::string(q);
        oreq.body = std::string(req_.body);
    }
    oreq.target = std::move(target);
    opt.client_ip = viewer_.peer_ip();
    opt.behavior = behavior_;
    opt.cdn_id = rt_->config.cdn_id;
    bool authorization = build_origin_headers(req_, *origin_, opt, &oreq.headers);
    // Each candidate origin of a group gets these with its own Host and signature. The viewer's request is read
    // only here: a failover may happen after the viewer left (a fill goes on for its waiters).
    OriginRequestBuilder build = [this, base = std::move(oreq), authorization,
                                  viewer_host = std::string(req_.host)](const OriginConfig& o) {
        OriginRequest r = base;
        for (shared::HttpHeader& h : r.headers) {
            if (shared::ascii_iequals(h.name, "host")) h.value = origin_host_header(o, viewer_host);
        }
        sent_authorization_ = authorization;
        if (o.sigv4) {
            // The edge's own credentials replace the viewer's Authorization (dropped by the signer).
            sigv4_sign(*o.sigv4, ProxyHandler::wall_ms() / 1000, r.method, r.body, &r.target, &r.headers);
            sent_authorization_ = false;
        }
        return r;
    };
    OriginCallbacks cb;
    cb.on_response_headers = [this](const shared::HttpResponseHead& h) { on_origin_head(h); };
    cb.on_interim = [this](const shared::HttpResponseHead& h) { on_origin_interim(h); };
    cb.on_body = [this](std::string_view d) { return on_origin_body(d); };
    cb.on_complete = [this]() { on_origin_complete(); };
    cb.on_error = [this](shared::HttpError e) { on_origin_error(e); };
    const OriginConfig* secondary = behavior_->failover_origin_index < rt_->config.origins.size()
                                        ? &rt_->config.origins[behavior_->failover_origin_index]
                                        : nullptr;
    if (!secondary && origin_->parents.empty()) {
        // The common case, one origin: no group around the fetch.
        OriginRequest r = build(*origin_);
        fetch_ = handler_->io().origins().fetch(*origin_, std::move(r), std::move(cb));
        return;
    }
    OriginGroupOptions gopt;
    std::string_view m = req_.method_name;
    gopt.may_fail_over = shared_fill || m == "GET" || m == "HEAD";
    gopt.behavior = behavior_;
    gopt.clock_ms = &ProxyHandler::wall_ms;
    gopt.on_failover = [this](const FailoverEvent& e) { on_failover(e); };
    fetch_ = fetch_from_group(handler_->io().origins(), origin_candidates(*origin_, secondary, key_), std::move(build),
                              std::move(cb), std::move(gopt));
}

void ProxySession::on_failover(const FailoverEvent& e) {
    EdgeMetrics& m = *handler_->services().metrics;
    if (e.came_back) {
        m.count_origin_up(handler_->shard());
        shared::log::info("edge", "origin answers again, back in use", {{"origin", e.to->name}});
        return;
    }
    if (e.marked_down) {
        m.count_origin_down(handler_->shard());
        shared::log::warn("edge", "origin marked down",
                          {{"origin", e.from->name},
                           {"reason", failover_reason_name(e.reason)},
                           {"cooldown_ms", std::to_string(e.from->cooldown_ms)}});
    }
    if (!e.to) return; // nothing left to try: the failure is the answer (counted as an origin error if it is one)
    m.count_failover(handler_->shard(), e.reason);
    std::string detail = e.reason == FailoverReason::status ? std::to_string(e.status)
                         : e.error != OriginError::None     ? shared::http_error_name(e.error)
                                                            : "marked down";
    shared::log::info("edge", "origin failover",
                      {{"from", e.from->name},
                       {"to", e.to->name},
                       {"reason", failover_reason_name(e.reason)},
                       {"detail", detail},
                       {"path", path_}});
}

bool ProxySession::variant_store_key(const std::vector<HeaderField>& fields, uint64_t now, std::string_view* out) {
    std::string vf;
    if (!vary_request_fields(fields.data(), fields.size(), &vf)) return false; // Vary: *, or beyond what we key
    if (vf.empty()) return true;                                               // the plain key
    // RFC 9111 §4.1: stored under the plain key plus the values this request has for the fields, with a marker at
    // the plain key saying which fields (and under which generation) later lookups append.
    std::string_view plain = std::string_view(key_).substr(0, plain_key_len_ ? plain_key_len_ : key_.size());
    ObjectCache& cache = *handler_->services().cache;
    Ref<CachedObject> m;
    std::string_view have;
    uint64_t gen = 0;
    cache.find(plain, hash_cache_key(plain), now, &m);
    if (!m || !read_vary_marker(*m, &have, &gen) || have != vf) {
        gen = new_vary_generation();
        cache.insert(make_vary_marker(plain, vf, gen, now, kVaryMarkerLifetimeMs));
    }
    variant_key_.assign(plain);
    append_vary_suffix(req_.headers, vf, gen, &variant_key_);
    *out = variant_key_;
    return true;
}

void ProxySession::on_origin_head(const shared::HttpResponseHead& head) {
    uint64_t now = ProxyHandler::wall_ms();
    std::vector<HeaderField> fields = fields_of(head.headers);
    const std::string* cl = shared::find_header(head.headers, "content-length");
    if (role_ == Role::lead && driving_ && !fill_obj_) {
        const Ref<CachedObject>& stale = fill_->stale();
        if (stale && head.status == 304) {
            revalidate_from_304(fields, now);
            return; // the body-less 304 completes later; our viewer is served from the refreshed object
        }
        if (stale && head.status >= 500 && stale_usable_on_error(*stale, false)) {
            // The origin is failing: its 5xx is not stored, and every waiter (and our viewer) gets the stale copy.
            shared::log::warn("edge", "origin error; serving the stale copy",
                              {{"origin", origin_->name}, {"status", std::to_string(head.status)}, {"path", path_}});
            driving_ = false;
            fetch_.reset();
            fill_->fail();
            if (viewing() && !serve_stale_instead()) fail_viewer(502);
            maybe_destroy();
            return;
        }
        ResponseFacts facts = response_facts(head.status, fields.data(), fields.size(), request_time_ms_, now);
        facts.request_had_authorization = sent_authorization_;
        TtlPolicy policy = ttl_policy(*behavior_);
        policy.vary_variants = true; // stored below as a variant of its key when it Varies on request fields
        // CloudFront's error caching minimum TTL: how long this error answer is kept when it says nothing itself.
        const ErrorResponseConfig* er = find_error_response(rt_->config.sites[behavior_->site_index], head.status);
        if (er && er->caching_min_ttl_ms >= 0) policy.error_ttl_ms = static_cast<uint64_t>(er->caching_min_ttl_ms);
        Freshness f = compute_freshness(facts, policy);
        bool len_ok = true;
        uint64_t len = cl ? parse_length(*cl, &len_ok) : 0;
        if (!cl) len_ok = true;
        uint64_t max_obj = handler_->services().coalescer->max_object_bytes();
        std::string_view store_key = key_;
        if (f.store && !variant_store_key(fields, now, &store_key)) f.store = false;
        if (f.store && head.status != 206 && len_ok && len <= max_obj) {
            if (behavior_->compress && identity_needs_vary(head.status, fields.data(), fields.size())) {
                fields.push_back({"Vary", "Accept-Encoding"});
            }
            // RFC 9111 §5.2.2.4, §5.2.2.7: the fields a qualified no-cache / private names stay out of the stored
            // object; our own viewer, whose request this answers, still gets them.
            std::vector<std::string_view> omit = omitted_fields(facts.cache_control);
            for (const HeaderField& h : fields) {
                for (std::string_view o : omit) {
                    if (!shared::ascii_iequals(h.name, o) || is_edge_managed_header(h.name)) continue;
                    own_fields_.append(h.name).append(": ").append(h.value).append("\r\n");
                    break;
                }
            }
            ValidatorSpans val;
            std::string block = build_stored_header_block(head.status, head.reason, fields.data(), fields.size(),
                                                          behavior_->cache_set_cookie, &val, omit);
            fill_obj_ = CachedObject::create(store_key, head.status, block, val, f, len);
            if (!own_fields_.empty()) own_obj_ = fill_obj_;
            fill_->start_body(fill_obj_);
            return;
        }
        fill_->release_uncacheable(now);
        driving_ = false;
        if (!viewing()) {
            fetch_.reset();
            maybe_destroy();
            return;
        }
        if (subscribed_) fill_->unsubscribe(this);
        subscribed_ = false;
    }
    if (!viewing()) {
        fetch_.reset();
        maybe_destroy();
        return;
    }
    if (role_ == Role::pass && head.status >= 200 && head.status < 400 && req_.method != HTTP_GET &&
        req_.method != HTTP_HEAD && req_.method != HTTP_OPTIONS && req_.method != HTTP_TRACE) {
        handler_->invalidate_after_unsafe(req_, head.headers);
    }
    // Pass-through to our viewer.
    bool no_body = head_only_ || head.status == 204 || head.status == 304 || (head.status >= 100 && head.status < 200);
    write_pass_head(head.status, head.reason, head.headers, cl ? std::string_view(*cl) : std::string_view(), no_body);
}

void ProxySession::on_origin_interim(const shared::HttpResponseHead& head) {
    // RFC 9110 §15.2: interim responses go on to the viewer this fetch answers (as nginx >= 1.29, Varnish and H2O
    // pass 103 Early Hints), never into the cache (RFC 9111 §3), and never to an HTTP/1.0 viewer. 100 Continue
    // answers an Expect the edge never forwards, so it is for no one. An HTTP/2 viewer gets them as HEADERS frames
    // before the final one (RFC 9113 §8.1; browsers act on 103 Early Hints only there). Viewers collapsed onto this
    // fill wait for
    // the final response without them: their requests are not the one the origin is answering.
    if (head.status == 100 || phase_ != Phase::head || req_.http10()) return;
    if (role_ != Role::pass && role_ != Role::lead) return;
    std::string out;
    out.reserve(64 + head.headers.size() * 48);
    out.append("HTTP/1.1 ");
    out.append(std::to_string(head.status));
    out.push_back(' ');
    out.append(head.reason.empty() ? reason_phrase(head.status) : std::string_view(head.reason));
    out.append("\r\n");
    HeadWriter w(out);
    for (const auto& f : head.headers) {
        if (is_edge_managed_header(f.name) || is_edge_only_header(f.name)) continue;
        w.header(f.name, f.value);
    }
    w.end();
    if (!viewer_.write_copy(out)) {
        viewer_left();
        return;
    }
    bytes_ += out.size();
}

bool ProxySession::on_origin_body(std::string_view data) {
    if (fill_obj_ && driving_) {
        if (fill_->append(data.data(), data.size())) return true;
        return outgrow_to_pass(data);
    }
    if (!pass_ || !viewing()) return true;
    pass_body(data);
    return viewing() && !viewer_.congested();
}

bool ProxySession::outgrow_to_pass(std::string_view data) {
    // The body (no Content-Length) outgrew max_object_bytes: the fill failed for the waiters and nothing is stored.
    // Our own viewer must still get the whole response: what the fill buffered, then the rest of the origin's body
    // passed through with the origin paused while the viewer is congested. Cutting it here (as before) handed
    // viewers a truncated body.
    driving_ = false;
    Ref<CachedObject> obj = std::move(fill_obj_);
    handler_->services().metrics->count_oversize_pass(handler_->shard());
    shared::log::info("edge", "response larger than max_object_bytes without Content-Length, passed through uncached",
                      {{"origin", origin_->name}, {"path", path_}});
    if (subscribed_) fill_->unsubscribe(this);
    subscribed_ = false;
    if (!viewing()) {
        fetch_.reset();
        maybe_destroy();
        return false;
    }
    if (!obj_) {
        obj_ = obj;
        io_->stop_timer();
        result_ = result_for_status(obj_->status(), CacheResult::miss);
    }
    coding_ = ContentCoding::identity; // a compressed answer needs the complete body, which is never kept
    if (phase_ == Phase::head) pump();
    if (phase_ != Phase::body) return false;
    send_body(true); // the buffered part, queued by reference (the object is pinned until the response ends)
    if (phase_ != Phase::body) return false;
    pass_ = true;
    pass_no_body_ = head_only_;
    pass_body(data);
    return viewing() && !viewer_.congested();
}

void ProxySession::on_origin_complete() {
    if (fill_obj_ && driving_) {
        if (fill_->finish(ProxyHandler::wall_ms())) handler_->drop_stale_variants(key_, *fill_obj_);
        fill_obj_.reset();
        driving_ = false;
        fetch_.reset();
        maybe_destroy();
        return;
    }
    fetch_.reset();
    if (pass_ && phase_ == Phase::body) {
        if (chunked_ && !pass_no_body_ && !send("0\r\n\r\n")) return;
        finish();
        return;
    }
    maybe_destroy();
}

void ProxySession::on_origin_error(shared::HttpError err) {
    origin_error_ = err;
    handler_->services().metrics->count_origin_error(handler_->shard(), err);
    shared::log::warn("edge", "origin error",
                      {{"origin", origin_->name}, {"error", shared::http_error_name(err)}, {"path", path_}});
    fetch_.reset();
    if (driving_) {
        driving_ = false;
        fill_obj_.reset();
        fill_->fail(shared::http_error_status(err));
    }
    if (phase_ == Phase::body) {
        cut(); // truncated: the viewer must not take it for complete
    } else if (phase_ == Phase::head && !serve_stale_instead()) {
        fail_viewer(shared::http_error_status(err));
    }
    maybe_destroy();
}

// ---------------------------------------------------------------- pass-through

void ProxySession::write_pass_head(int status, std::string_view reason, const shared::HttpHeaders& headers,
                                   std::string_view content_length, bool no_body) {
    if (phase_ != Phase::head) return;
    if (status >= 400 && answer_with_error_page(status)) return;
    if (status >= 400) status_override_ = 0; // the page is an error itself: its own status
    int origin_status = status;
    if (status_override_) status = status_override_;
    pass_ = true;
    pass_no_body_ = no_body;
    status_ = status;
    result_ = result_for_status(status, CacheResult::miss);
    std::string& h = viewer_.head_buffer();
    HeadWriter w(h);
    h.append("HTTP/1.1 ");
    h.append(std::to_string(status));
    h.push_back(' ');
    h.append(reason.empty() || status_override_ ? reason_phrase(status) : reason);
    h.append("\r\n");
    bool has_server = false;
    std::string_view origin_date; // RFC 9110 §6.6.1: the origin's Date goes on; the time of receipt when it had none
    for (const auto& f : headers) {
        if (is_edge_managed_header(f.name) || is_edge_only_header(f.name)) {
            if (origin_date.empty() && shared::ascii_iequals(f.name, "date") && parse_http_date(f.value))
                origin_date = f.value;
            continue;
        }
        if (policy_ && policy_->drops(f.name)) continue;
        if (shared::ascii_iequals(f.name, "server")) has_server = true;
        w.header(f.name, f.value);
    }
    if (status == 204) {
        // RFC 9110 §8.6: no Content-Length, and no body (the response parser leaves the origin's, if any, unread).
    } else if (!content_length.empty()) {
        w.header("Content-Length", content_length);
    } else if (!no_body) {
        if (req_.chunked_bodies()) {
            chunked_ = true;
            w.header("Transfer-Encoding", "chunked");
        } else if (req_.http10()) {
            keep_alive_ = false;
        }
    }
    EdgeHeaders eh;
    eh.date = origin_date.empty() ? handler_->date() : origin_date;
    eh.via = rt_->via;
    eh.result = result_;
    eh.keep_alive = keep_alive_;
    eh.http10 = req_.http10();
    eh.server = !has_server;
    eh.cache_name = rt_->config.server_name;
    eh.cache_status.present = true;
    eh.cache_status.fwd = !behavior_->cache                                     ? CacheStatus::Fwd::bypass
                          : req_.method == HTTP_GET || req_.method == HTTP_HEAD ? CacheStatus::Fwd::uri_miss
                                                                                : CacheStatus::Fwd::method;
    eh.cache_status.fwd_status = static_cast<uint16_t>(origin_status);
    apply_to_edge_headers(policy_, &eh);
    write_edge_headers(w, eh);
    if (policy_) {
        auto has_field = [&](std::string_view lname) {
            for (const auto& f : headers) {
                if (shared::ascii_iequals(f.name, lname) && !policy_->drops(f.name)) return true;
            }
            return false;
        };
        append_policy_lines(*policy_, req_.header("origin"), has_field, h);
    }
    w.end();
    bytes_ += h.size();
    viewer_.write(h);
    if (!head_sent()) return;
    if (no_body) {
        // The origin may still send a (HEAD-less) completion; the viewer is done.
        finish();
    }
}

void ProxySession::pass_body(std::string_view data) {
    if (phase_ != Phase::body || pass_no_body_ || data.empty()) return;
    OutBuf b{data.data(), data.size()};
    bool ok = chunked_ ? send_chunk(&b, 1, data.size(), true) : send_copy(data);
    if (ok) bytes_ += data.size();
}

void ProxySession::bucket_pass(BucketResponse resp) {
    pass_ = true;
    shared::HttpHeaders headers;
    if (!resp.content_type.empty()) headers.push_back({"Content-Type", std::string(resp.content_type)});
    if (!resp.etag.empty()) headers.push_back({"ETag", resp.etag});
    if (!resp.last_modified.empty()) headers.push_back({"Last-Modified", resp.last_modified});
    if (!resp.location.empty()) headers.push_back({"Location", resp.location});
    if (!resp.content_range.empty()) headers.push_back({"Content-Range", resp.content_range});
    if (!resp.allow.empty()) headers.push_back({"Allow", std::string(resp.allow)});
    if (resp.retry_after) headers.push_back({"Retry-After", std::to_string(resp.retry_after)});
    if (resp.status == 200 || resp.status == 206) headers.push_back({"Accept-Ranges", "bytes"});
    std::string cl = std::to_string(resp.fd >= 0 ? resp.length : resp.body.size());
    bool not_modified = resp.status == 304;
    bool no_body = head_only_ || not_modified || resp.status == 204;
    bucket_resp_ = std::move(resp);
    bucket_sent_ = 0;
    write_pass_head(bucket_resp_.status, "", headers, not_modified ? std::string_view() : std::string_view(cl),
                    no_body);
    if (phase_ != Phase::body) return;
    if (bucket_resp_.fd < 0) {
        pass_body(bucket_resp_.body);
        finish();
        return;
    }
    pump_bucket_pass();
}

void ProxySession::pump_bucket_pass() {
    // One read at a time on the thread pool: a pread on the loop would stall every connection of this worker
    // behind a slow disk (or a cold page cache) for as long as the file is large.
    if (reading_bucket_ || phase_ != Phase::body) return;
    if (bucket_sent_ >= bucket_resp_.length) {
        finish();
        return;
    }
    if (viewer_.congested()) return; // on_writable() comes back here
    if (!bucket_buf_) bucket_buf_ = std::make_unique<char[]>(kBucketPassChunk);
    size_t want = static_cast<size_t>(std::min<uint64_t>(kBucketPassChunk, bucket_resp_.length - bucket_sent_));
    int fd = bucket_resp_.fd;
    char* buf = bucket_buf_.get();
    auto off = static_cast<off_t>(bucket_resp_.offset + bucket_sent_);
    bool last = bucket_sent_ + want >= bucket_resp_.length;
    reading_bucket_ = true;
    ++jobs_;
    // The job holds this session (destroy() waits for it), so the buffer and the result stay valid; bucket_resp_ is
    // not touched on the loop while the read is in flight.
    handler_->io().run_off_loop(
        [this, fd, buf, want, off, last] {
            ssize_t n;
            do
                n = ::pread(fd, buf, want, off);
            while (n < 0 && errno == EINTR);
            // Before the last piece goes out: a file a deploy rewrote during the pass (grown, same size with new
            // bytes) would otherwise reach the viewer as a complete body of mixed versions. Withholding the last
            // piece makes the cut visible as a short body.
            if (last && n > 0 && !bucket_resp_.same_file()) n = -1;
            bucket_read_n_ = n;
        },
        [this](bool ran) {
            bucket_pass_read(ran, bucket_read_n_);
            job_done();
        });
}

void ProxySession::bucket_pass_read(bool ran, int64_t n) {
    reading_bucket_ = false;
    if (dead_ || phase_ != Phase::body) return;
    if (!ran || n <= 0) {
        cut(); // the file shrank under us or an I/O error: never send a short body as if complete
        return;
    }
    pass_body(std::string_view(bucket_buf_.get(), static_cast<size_t>(n)));
    bucket_sent_ += static_cast<uint64_t>(n);
    pump_bucket_pass();
}

} // namespace edge
