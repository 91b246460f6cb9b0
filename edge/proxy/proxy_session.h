// One viewer request that the cache could not answer at once, as a socket-free state machine. Three roles
// (MissCoalescer's vocabulary):
//   lead — fetches from the origin and drives the Fill that every collapsed request streams from; its own viewer
//          streams from the fill's object like any waiter, so a slow viewer never slows the fill. If the viewer
//          leaves, the session stays alive until the fill is resolved.
//   join — waits on another request's Fill (bounded by collapse_timeout_ms, then fetches for itself) and streams
//          the object as it grows.
//   variant — the identity object is cached and fresh, but the viewer wants a compressed variant that is not: get it
//          (join the compression already running, or lead a new one on the thread pool) and send it.
//   pass — a private fetch (uncacheable answer, hit-for-miss, caching off, forwarded methods): the origin response
//          is copied to the viewer as it arrives, and the origin is paused while the viewer's buffer is full.
// When the viewer negotiated a content coding (Params::coding) and the object qualifies (variant_headers.h), lead and
// join first wait for the complete identity body and then take the variant route, so the first viewer gets the same
// compressed answer as later ones; only a failed or too slow (cache.compress_timeout) compression, or a result that
// is not smaller, answers identity.
//
// The viewer side is an explicit phase (Phase): head (nothing sent) → body (head sent) → done (the whole response
// queued and ended), or → aborted (the viewer left, or the response was cut because its origin failed mid-body, so
// the viewer never takes a short body for a complete one). Bytes reach the viewer only in the body phase and only
// through send()/send_copy(), which turn a write that finds the viewer gone into the aborted phase; nothing is written
// in any other phase. Origin failures become 502/504 (X-Cache Error) when nothing was sent yet; a failed fill is
// never stored.
//
// The viewer (Viewer) is held for the session's whole life, so it is a reference, never a pointer that a write could
// clear. Timers, cross-thread wakeups, thread-pool jobs and origin fetches go through ProxyIo: nothing here touches
// a socket or an event loop.
//
// Thread: the worker loop that created it. Fill notifications arrive on the leader's thread and are moved over
// with SessionIo::wake(). Deleted after its SessionIo closed.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "edge/cache/fill.h"
#include "edge/compress/content_coding.h"
#include "edge/http/response_writer.h"
#include "edge/origin/bucket_origin.h"
#include "edge/proxy/edge_runtime.h"
#include "edge/proxy/proxy_io.h"
#include "edge/proxy/viewer.h"
#include "edge/upstream/origin_group.h"

namespace edge {

class ProxyHandler;

class ProxySession final : public ViewerEvents, public FillSubscriber, public SessionIoEvents {
  public:
    enum class Role : uint8_t { lead, join, pass, variant };
    // The viewer side's state (see the file comment).
    enum class Phase : uint8_t { head, body, done, aborted };

    struct Params {
        ProxyHandler* handler = nullptr;
        std::shared_ptr<const EdgeRuntime> runtime;
        const BehaviorConfig* behavior = nullptr;
        std::string_view path; // normalized
        std::string_view key;  // cache key ("" for pass without caching)
        uint64_t hash = 0;
        // When `key` is a variant's (a vary marker sent the lookup there; see edge/cache/vary_variant.h): the length
        // of the plain key it starts with. 0: `key` is plain.
        size_t plain_key_len = 0;
        Role role = Role::pass;
        Ref<Fill> fill;
        FillLeader leader;                              // Role::lead
        ContentCoding coding = ContentCoding::identity; // what the viewer negotiated (identity: no compression)
        Ref<CachedObject> identity;                     // Role::variant: the fresh cached identity object
        int status_override = 0; // a custom error response's page: the status the viewer gets (no error page of
                                 // its own, no ranges)
        // The response headers policy of the behavior the viewer's request matched (null = none): applied to every
        // head this session writes to the viewer, never to what it stores.
        const ResponseHeadersPolicy* response_headers = nullptr;
        // Owns response_headers when it comes from another snapshot than `runtime` (an error page served for a
        // session that started before a reload); null when `runtime` owns it.
        std::shared_ptr<const EdgeRuntime> policy_owner;
    };
    // Starts answering `req` on `viewer`. The session frees itself once the viewer side is over and the fill it leads
    // (if any) is resolved.
    static ProxySession* start(Viewer& viewer, const HttpRequest& req, Params p);

    // Worker stop: cancel the origin fetch (a fill in progress fails), cut the viewer, and go away. Idempotent.
    void abort();

    Phase phase() const { return phase_; }
    Role role() const { return role_; }

    // ViewerEvents
    void on_writable() override;
    void on_viewer_gone() override;
    // FillSubscriber
    void on_fill_progress() noexcept override;
    // SessionIoEvents
    void on_wakeup() override;
    void on_timer() override;
    void on_io_closed() override;

  private:
    ProxySession(Viewer& viewer, const HttpRequest& req, Params&& p);
    ~ProxySession();

    // ---- viewer side: every byte and every phase change goes through these ----
    bool viewing() const { return phase_ == Phase::head || phase_ == Phase::body; }
    // Body phase only. False (and the session is aborted) when the viewer is gone.
    bool send(const OutBuf* bufs, unsigned n);
    bool send(std::string_view s) {
        OutBuf b{s.data(), s.size()};
        return send(&b, 1);
    }
    bool send_copy(std::string_view s);
    // One chunk of a chunked body: size line, data, CRLF (`copy`: the data's buffer is about to be reused).
    bool send_chunk(const OutBuf* bufs, unsigned n, uint64_t total, bool copy);
    bool send_chunk_size(uint64_t total); // a chunk's size line
    // head → body, after the head went out (false: the viewer left while it was written).
    bool head_sent();
    // body → done: the whole response is queued.
    void finish();
    // head → done: the handler sends a last answer of its own (an error, 416).
    void fail_viewer(int status);
    void answer_unsatisfiable(uint64_t size);
    // body → aborted: the origin failed after bytes were sent; the connection is cut.
    void cut();
    // head → done: a custom error response ([[error_response]]) for `status` takes the viewer over (a new session
    // or a hit for its page). False when none applies; nothing changed then.
    bool answer_with_error_page(int status);
    // The viewer is gone (→ aborted) without us cutting it.
    void viewer_left();

    void begin();
    void on_fill_state();
    void pump();
    // Queues obj_'s body from sent_ (up to body_end_); stops when the viewer is congested unless `past_congestion`.
    void send_body(bool past_congestion);
    bool send_file_span(const BodyBuffer& body, uint64_t size);
    // Leader: the body outgrew max_object_bytes; hands our viewer over to pass-through. Returns on_body's answer.
    bool outgrow_to_pass(std::string_view data);
    // The revalidation of a stale object failed: serves the stale object instead when the behavior and the object
    // allow it (stale_usable_on_error) and nothing was sent yet. Returns whether it did.
    bool serve_stale_instead();
    // The behavior's serve_stale_on_error, or the object's stale-if-error window (RFC 5861), and not
    // must-revalidate.
    // `disconnected`: the origin could not be reached (no answer at all), which serve_stale_when_disconnected covers.
    bool stale_usable_on_error(const CachedObject& stale, bool disconnected) const;
    // How this viewer's answer was obtained (Cache-Status), for a head written from obj_.
    CacheStatus cache_status() const;
    // Leader: the origin answered our revalidation with 304 carrying `fields`.
    void revalidate_from_304(const std::vector<HeaderField>& fields, uint64_t now);
    // Leader, bucket origin: reads the file into the fill and finishes it on the thread pool, then bucket_body_read()
    // on the loop (`ok`: the fill finished; `stored`: its object went into the cache).
    void read_bucket_body(BucketResponse resp, Ref<CachedObject> obj);
    void bucket_body_read(bool ok, bool stored, const Ref<CachedObject>& obj, int fail_status = 502);
    // A thread-pool job of this session finished (destroy() waits for them before closing).
    void job_done();
    void maybe_destroy();
    void destroy();

    // Compressed variants.
    void start_variant();
    void on_variant_state();
    void use_variant(Ref<CachedObject> v);
    void use_identity();
    void leave_variant_fill();

    // Origin side.
    void fetch_for_fill();
    // Bucket origin: get() runs on the thread pool (it opens the release folder and the file, probes for a writer and
    // fstats: never on the loop, whose other connections a slow or cold disk would stall), then bucket_fill() (the
    // leader of a fill) or bucket_pass() (a private fetch) on the loop.
    void bucket_get(bool for_fill);
    void bucket_fill(BucketResponse resp);
    void start_private_fetch();
    void http_fetch(bool shared_fill);
    // An origin group moved this request on (or marked an origin down or up): counted and logged.
    void on_failover(const FailoverEvent& e);
    // The key a storable response goes under: the session's key, or, when it Varies on request fields, that
    // variant's key (marker written); false when it cannot be stored as a variant (Vary: *, too many fields).
    // A waiter gives up on the fill it joined (slow, uncacheable, outgrown, another variant) and fetches for itself.
    void leave_fill_and_fetch();
    bool variant_store_key(const std::vector<HeaderField>& fields, uint64_t now, std::string_view* out);
    void on_origin_head(const shared::HttpResponseHead& head);
    void on_origin_interim(const shared::HttpResponseHead& head);
    bool on_origin_body(std::string_view data);
    void on_origin_complete();
    void on_origin_error(shared::HttpError err);

    // Pass-through to the viewer.
    void write_pass_head(int status, std::string_view reason, const shared::HttpHeaders& headers,
                         std::string_view content_length, bool no_body);
    void pass_body(std::string_view data);
    void bucket_pass(BucketResponse resp);
    void pump_bucket_pass();
    void bucket_pass_read(bool ran, int64_t n);

    ProxyHandler* handler_;
    Viewer& viewer_;         // held (Viewer::hold) until the destructor
    const HttpRequest& req_; // the viewer's request: read only while viewing()
    SessionIo* io_;          // closed by destroy(); on_io_closed() deletes the session
    std::shared_ptr<const EdgeRuntime> rt_;
    const BehaviorConfig* behavior_;
    const ResponseHeadersPolicy* policy_ = nullptr;   // Params::response_headers (owned by rt_ or policy_owner_)
    std::shared_ptr<const EdgeRuntime> policy_owner_; // Params::policy_owner
    const OriginConfig* origin_;
    std::string path_;
    std::string key_;
    size_t plain_key_len_ = 0; // Params::plain_key_len
    std::string variant_key_;  // where a response that Varies on request fields is stored (variant_store_key)
    uint64_t hash_;
    Role role_;
    Phase phase_ = Phase::head;
    Ref<Fill> fill_;
    FillLeader leader_; // fails the fill if this session goes away without resolving it
    bool subscribed_ = false;
    bool driving_ = false;       // this session still has to resolve fill_
    Ref<CachedObject> fill_obj_; // the object we are filling (lead)
    // Lead: the fields a qualified no-cache / private kept out of the object we filled (own_obj_; null when there
    // are none), for our own viewer's head ("Name: value\r\n"...).
    Ref<CachedObject> own_obj_;
    std::string own_fields_;
    shared::HttpError origin_error_ = shared::HttpError::None;
    bool dead_ = false; // destroy() ran: waiting for jobs, then for io_ to close
    int jobs_ = 0;      // thread-pool jobs in flight (each holds this session)

    // Viewer side.
    bool keep_alive_ = true;
    bool head_only_ = false;
    bool chunked_ = false;
    int status_ = 0;
    CacheResult result_ = CacheResult::miss;
    uint64_t bytes_ = 0;
    Ref<CachedObject> obj_;          // streamed from
    uint64_t sent_ = 0;              // next body offset to send
    uint64_t body_end_ = UINT64_MAX; // a ranged answer ends here

    // Compression.
    ContentCoding coding_ = ContentCoding::identity;
    bool waiting_variant_ = false;
    bool variant_served_ = false;
    Ref<CachedObject> src_; // the identity object the variant is made from
    Ref<Fill> vfill_;       // the variant key's fill we wait on
    bool vsubscribed_ = false;

    // Pass-through.
    bool pass_ = false;
    bool pass_no_body_ = false;
    std::unique_ptr<OriginStream> fetch_;
    uint64_t request_time_ms_ = 0;
    bool sent_authorization_ = false; // the origin got the viewer's Authorization (RFC 9111 §3.5)
    int status_override_ = 0;         // Params::status_override; 0 once the page turns out to be an error itself
    bool served_stale_ = false;       // serve_stale_instead() answered
    bool error_page_ = false;         // answering with a custom error page: no error page of its own
    BucketResponse bucket_resp_;
    uint64_t bucket_sent_ = 0;
    static constexpr size_t kBucketPassChunk = 256 << 10;
    std::unique_ptr<char[]> bucket_buf_; // a pass-through read's destination (reading_bucket_ while in flight)
    int64_t bucket_read_n_ = 0;          // the read's result, written by the thread-pool job
    bool reading_bucket_ = false;
};

} // namespace edge
