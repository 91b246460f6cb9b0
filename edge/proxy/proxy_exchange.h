// One viewer request that the cache could not answer at once. Three roles (MissCoalescer's vocabulary):
//   lead — fetches from the origin and drives the Fill that every collapsed request streams from; its own viewer
//          streams from the fill's object like any waiter, so a slow viewer never slows the fill. If the viewer
//          leaves, the exchange stays alive until the fill is resolved.
//   join — waits on another request's Fill (bounded by collapse_timeout_ms, then fetches for itself) and streams
//          the object as it grows.
//   variant — the identity object is cached and fresh, but the viewer wants a compressed variant that is not: get it
//          (join the compression already running, or lead a new one on the threadpool) and send it.
//   pass — a private fetch (uncacheable answer, hit-for-miss, caching off, forwarded methods): the origin response
//          is copied to the viewer as it arrives, and the origin is paused while the viewer's buffer is full.
// When the viewer negotiated a content coding (Params::coding) and the object qualifies (variant_headers.h), lead and
// join first wait for the complete identity body and then take the variant route, so the first viewer gets the same
// compressed answer as later ones; only a failed or too slow (cache.compress_timeout) compression, or a result that
// is not smaller, answers identity.
// Origin failures become 502/504 (X-Cache Error) when nothing was sent yet, else the connection is closed so the
// viewer sees a truncated response; a failed fill is never stored.
//
// Thread: the worker loop that created it. Fill notifications arrive on the leader's thread and are moved over
// with a uv_async_t. Deleted after its handles closed.
#pragma once

#include <uv.h>

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "edge/cache/fill.h"
#include "edge/compress/content_coding.h"
#include "edge/origin/bucket_origin.h"
#include "edge/proxy/edge_runtime.h"
#include "edge/server/client_conn.h"
#include "edge/upstream/origin_pool.h"

namespace edge {

class ProxyHandler;

class ProxyExchange final : public Exchange, public FillSubscriber {
public:
    enum class Role : uint8_t { lead, join, pass, variant };

    struct Params {
        ProxyHandler* handler = nullptr;
        std::shared_ptr<const EdgeRuntime> runtime;
        const BehaviorConfig* behavior = nullptr;
        std::string_view path; // normalized
        std::string_view key;  // cache key ("" for pass without caching)
        uint64_t hash = 0;
        Role role = Role::pass;
        Ref<Fill> fill;
        FillLeader leader;                              // Role::lead
        ContentCoding coding = ContentCoding::identity; // what the viewer negotiated (identity: no compression)
        Ref<CachedObject> identity;                     // Role::variant: the fresh cached identity object
    };
    static void start(ClientConn& conn, const HttpRequest& req, Params p);

    // Worker stop: cancel the origin fetch (a fill in progress fails) and go away. Idempotent.
    void abort();

    void on_writable() override;
    void on_conn_closed() override;
    void on_fill_progress() noexcept override;

private:
    ProxyExchange(ClientConn& conn, const HttpRequest& req, Params&& p);
    ~ProxyExchange() override;
    static void on_async(uv_async_t* a) noexcept;
    static void on_timer(uv_timer_t* t) noexcept;
    static void on_handle_closed(uv_handle_t* h) noexcept;

    void begin();
    void on_fill_state();
    void pump();
    // Queues obj_'s body from sent_ (up to body_end_); stops when the viewer is congested unless `past_congestion`.
    void send_body(bool past_congestion);
    // Leader: the body outgrew max_object_bytes; hands our viewer over to pass-through. Returns on_body's answer.
    bool outgrow_to_pass(std::string_view data);
    void finish();
    void fail_viewer(int status);
    // This exchange is done with its viewer: detaches from the connection and hands it (and the request) back for
    // a last answer.
    ClientConn* release_viewer(const HttpRequest** req);
    // The revalidation of a stale object failed: serves the stale object instead when the behavior and the object
    // allow it (serve_stale_on_error, not must-revalidate) and nothing was sent yet. Returns whether it did.
    bool serve_stale_instead();
    // A Range beyond the object (announced or complete): 416, and this exchange is done with the viewer.
    void answer_unsatisfiable(uint64_t size);
    // Leader: the origin answered our revalidation with 304 carrying `fields`.
    void revalidate_from_304(const std::vector<HeaderField>& fields, uint64_t now);
    // Leader, bucket origin: reads the file into the fill and finishes it on libuv's threadpool, then
    // bucket_body_read() on the loop (`ok`: the fill finished; `stored`: its object went into the cache).
    void read_bucket_body(BucketResponse resp, Ref<CachedObject> obj);
    void bucket_body_read(bool ok, bool stored, const Ref<CachedObject>& obj);
    void close_handles();
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
    void bucket_fill(const BucketOrigin& bucket);
    void start_private_fetch();
    void http_fetch(bool shared_fill);
    void on_origin_head(const shared::HttpResponseHead& head);
    bool on_origin_body(std::string_view data);
    void on_origin_complete();
    void on_origin_error(shared::HttpError err);

    // Pass-through to the viewer.
    void write_pass_head(int status, std::string_view reason, const shared::HttpHeaders& headers,
                         std::string_view content_length, bool no_body);
    void pass_body(std::string_view data);
    // Runs several writes that form one unit (a chunk's size line, data and CRLF). Any write may close the
    // connection synchronously (viewer reset), and on_conn_closed() then clears conn_ at once; the connection object
    // itself is freed only after its handles close on a later loop turn, and ignores writes once closing. So the unit
    // writes through a pointer taken before it, never through conn_, which may become null between two writes.
    template <typename F>
    void write_sequence(F&& writes) {
        if (ClientConn* c = conn_) writes(*c);
    }
    void bucket_pass(BucketResponse resp);
    void pump_bucket_pass();
    static void on_bucket_pass_read(uv_fs_t* req) noexcept;

    ProxyHandler* handler_;
    ClientConn* conn_;
    const HttpRequest* req_;
    std::shared_ptr<const EdgeRuntime> rt_;
    const BehaviorConfig* behavior_;
    const OriginConfig* origin_;
    std::string path_;
    std::string key_;
    uint64_t hash_;
    Role role_;
    Ref<Fill> fill_;
    FillLeader leader_; // fails the fill if this exchange goes away without resolving it
    bool subscribed_ = false;
    bool driving_ = false;    // this exchange still has to resolve fill_
    Ref<CachedObject> fill_obj_; // the object we are filling (lead)
    shared::HttpError origin_error_ = shared::HttpError::None;

    uv_async_t async_{};
    uv_timer_t timer_{};
    int open_handles_ = 0;
    bool reading_bucket_ = false; // a threadpool read holds this exchange: destroy() leaves closing to it

    // Viewer side.
    bool keep_alive_ = true;
    bool head_only_ = false;
    bool head_sent_ = false;
    bool chunked_ = false;
    bool done_ = false;
    bool dead_ = false;
    int status_ = 0;
    CacheResult result_ = CacheResult::miss;
    uint64_t bytes_ = 0;
    Ref<CachedObject> obj_; // streamed from
    uint64_t sent_ = 0;                 // next body offset to send
    uint64_t body_end_ = UINT64_MAX;    // a ranged answer ends here

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
    std::unique_ptr<OriginFetch> fetch_;
    uint64_t request_time_ms_ = 0;
    BucketResponse bucket_resp_;
    uint64_t bucket_sent_ = 0;
    static constexpr size_t kBucketPassChunk = 256 << 10;
    std::unique_ptr<char[]> bucket_buf_; // a pass-through read's destination (reading_bucket_ while in flight)
    uv_fs_t bucket_fs_{};
};

} // namespace edge
