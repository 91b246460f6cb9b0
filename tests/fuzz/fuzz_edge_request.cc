// libFuzzer harness for the whole edge request path, in one process: the viewer's bytes go through a real
// connection (edge/server), the request parser, the proxy handler, the cache, request collapsing and the origin
// client to a fake origin in the same event loop, whose answer (bytes, and whether it closes, stalls or resets)
// the fuzzer also chooses; the response bytes come back to the viewer. Both ends are real loopback sockets on the
// harness's own libuv loop, so every lifecycle the edge sees (half-close, reset, stall) is the kernel's.
//
// Input: [flags][viewer length hi][viewer length lo][viewer bytes][origin bytes]
//   flags & 3: the origin, after reading a request head: 0 answers and closes, 1 answers and keeps the connection,
//              2 answers half and resets, 3 never answers (the edge's first_byte_timeout fires)
//   flags & 4: the viewer resets instead of half-closing after writing; flags & 8: it writes in 7-byte pieces.
// Invariants beyond the sanitizers': the edge answers every input within a bounded time, what the viewer receives
// is empty or starts with an HTTP/1.1 status line (a SETTINGS frame after the HTTP/2 preface), and nothing is left
// running between inputs.
#include <uv.h>

#include <unistd.h>

#include <atomic>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <memory>
#include <string>
#include <string_view>

#include "edge/access_log/access_log.h"
#include "edge/cache/miss_coalescer.h"
#include "edge/cache/object_cache.h"
#include "edge/config/edge_config.h"
#include "edge/proxy/edge_metrics.h"
#include "edge/proxy/edge_runtime.h"
#include "edge/proxy/proxy_handler.h"
#include "edge/server/http_server.h"
#include "edge/server/loop_proxy_io.h"
#include "shared/config/config.h"
#include "shared/log/log.h"
#include "shared/net/address.h"

namespace {

// The viewer gives up (a hang) after this; the edge's own timeouts here are 300 ms, the rest is slack for a loaded
// machine.
constexpr uint64_t kInputBudgetMs = 4000;
constexpr size_t kMaxViewerBytes = 1 << 20;

struct Origin;

// Everything the edge needs, built once: the per-input state is reset between inputs instead.
struct Harness {
    uv_loop_t loop{};
    std::unique_ptr<edge::ObjectCache> cache;
    std::unique_ptr<edge::MissCoalescer> coalescer;
    edge::AccessLogFile access_log;
    edge::EdgeMetrics metrics;
    std::atomic<bool> draining{false};
    std::unique_ptr<edge::LoopProxyIo> io;
    std::unique_ptr<edge::ProxyHandler> handler;
    edge::ConnSettings conn_settings;
    uint32_t max_connections = 0;
    std::unique_ptr<edge::HttpServer> server;
    int edge_port = 0;
    Origin* origin = nullptr;
};

// The fake origin: answers each request head it reads with the input's origin bytes.
struct Origin {
    uv_tcp_t listener{};
    int port = 0;
    std::string_view answer;
    int mode = 0;
    int open = 0; // connections alive
};

struct OriginConn {
    uv_tcp_t tcp{};
    Origin* origin = nullptr;
    std::string in;
    bool answered = false;
    char buf[4096];
};

struct Viewer {
    uv_tcp_t tcp{};
    uv_connect_t connect{};
    uv_timer_t timer{};
    std::string_view request;
    size_t written = 0;
    bool reset = false;
    bool pieces = false;
    std::string received;
    int open_handles = 0;
    bool done = false;
    bool timed_out = false;
    char buf[16384];
};

void close_origin_conn(OriginConn* c, bool reset) {
    if (uv_is_closing(reinterpret_cast<uv_handle_t*>(&c->tcp))) return;
    auto done = [](uv_handle_t* h) {
        auto* oc = static_cast<OriginConn*>(h->data);
        oc->origin->open--;
        delete oc;
    };
    if (reset)
        uv_tcp_close_reset(&c->tcp, done);
    else
        uv_close(reinterpret_cast<uv_handle_t*>(&c->tcp), done);
}

void origin_answer(OriginConn* c) {
    Origin* o = c->origin;
    c->answered = true;
    if (o->mode == 3) return; // stall
    std::string_view a = o->answer;
    if (o->mode == 2) a = a.substr(0, a.size() / 2);
    if (!a.empty()) {
        auto* w = new uv_write_t;
        auto* copy = new std::string(a);
        w->data = copy;
        uv_buf_t b = uv_buf_init(copy->data(), static_cast<unsigned>(copy->size()));
        if (uv_write(w, reinterpret_cast<uv_stream_t*>(&c->tcp), &b, 1, [](uv_write_t* req, int) {
                delete static_cast<std::string*>(req->data);
                delete req;
            }) != 0) {
            delete copy;
            delete w;
        }
    }
    if (o->mode == 0) {
        // Close once the answer is written: shutdown waits for it, then the origin goes away.
        auto* s = new uv_shutdown_t;
        s->data = c;
        if (uv_shutdown(s, reinterpret_cast<uv_stream_t*>(&c->tcp), [](uv_shutdown_t* r, int) {
                auto* oc = static_cast<OriginConn*>(r->data);
                delete r;
                close_origin_conn(oc, false);
            }) != 0) {
            delete s;
            close_origin_conn(c, false);
        }
    } else if (o->mode == 2) {
        close_origin_conn(c, true);
    }
}

void on_origin_connection(uv_stream_t* server, int status) {
    if (status < 0) return;
    auto* o = static_cast<Origin*>(server->data);
    auto* c = new OriginConn;
    c->origin = o;
    uv_tcp_init(server->loop, &c->tcp);
    c->tcp.data = c;
    o->open++;
    if (uv_accept(server, reinterpret_cast<uv_stream_t*>(&c->tcp)) != 0) return close_origin_conn(c, false);
    uv_read_start(
        reinterpret_cast<uv_stream_t*>(&c->tcp),
        [](uv_handle_t* h, size_t, uv_buf_t* b) {
            auto* oc = static_cast<OriginConn*>(h->data);
            *b = uv_buf_init(oc->buf, sizeof oc->buf);
        },
        [](uv_stream_t* s, ssize_t n, const uv_buf_t*) {
            auto* oc = static_cast<OriginConn*>(s->data);
            if (n < 0) return close_origin_conn(oc, false);
            if (oc->answered) return; // a keep-alive origin answers one request per connection here
            oc->in.append(oc->buf, static_cast<size_t>(n));
            if (oc->in.find("\r\n\r\n") != std::string::npos)
                origin_answer(oc);
            else if (oc->in.size() > 65536)
                close_origin_conn(oc, true);
        });
}

void viewer_handle_closed(uv_handle_t* h) {
    auto* v = static_cast<Viewer*>(h->data);
    if (--v->open_handles == 0) v->done = true;
}

void viewer_close(Viewer* v, bool reset) {
    if (uv_is_closing(reinterpret_cast<uv_handle_t*>(&v->tcp))) return;
    uv_timer_stop(&v->timer);
    uv_close(reinterpret_cast<uv_handle_t*>(&v->timer), viewer_handle_closed);
    if (reset)
        uv_tcp_close_reset(&v->tcp, viewer_handle_closed);
    else
        uv_close(reinterpret_cast<uv_handle_t*>(&v->tcp), viewer_handle_closed);
}

void viewer_write_next(Viewer* v);

void viewer_after_writes(Viewer* v) {
    if (v->reset) {
        // Give the edge a moment to start answering, then reset mid-exchange.
        uv_timer_start(
            &v->timer, [](uv_timer_t* t) { viewer_close(static_cast<Viewer*>(t->data), true); }, 5, 0);
        return;
    }
    auto* s = new uv_shutdown_t;
    if (uv_shutdown(s, reinterpret_cast<uv_stream_t*>(&v->tcp), [](uv_shutdown_t* r, int) { delete r; }) != 0) delete s;
}

void viewer_write_next(Viewer* v) {
    if (v->written >= v->request.size()) return viewer_after_writes(v);
    size_t n = v->pieces ? std::min<size_t>(7, v->request.size() - v->written) : v->request.size() - v->written;
    auto* w = new uv_write_t;
    w->data = v;
    uv_buf_t b = uv_buf_init(const_cast<char*>(v->request.data() + v->written), static_cast<unsigned>(n));
    v->written += n;
    if (uv_write(w, reinterpret_cast<uv_stream_t*>(&v->tcp), &b, 1, [](uv_write_t* req, int status) {
            auto* vv = static_cast<Viewer*>(req->data);
            delete req;
            if (status < 0 || uv_is_closing(reinterpret_cast<uv_handle_t*>(&vv->tcp))) return;
            viewer_write_next(vv);
        }) != 0) {
        delete w;
        viewer_close(v, false);
    }
}

Harness& harness() {
    static Harness* h = [] {
        auto* hs = new Harness;
        uv_loop_init(&hs->loop);
        shared::log::set_level(shared::log::Level::error);

        auto* o = new Origin;
        uv_tcp_init(&hs->loop, &o->listener);
        o->listener.data = o;
        sockaddr_in a{};
        uv_ip4_addr("127.0.0.1", 0, &a);
        if (uv_tcp_bind(&o->listener, reinterpret_cast<const sockaddr*>(&a), 0) != 0 ||
            uv_listen(reinterpret_cast<uv_stream_t*>(&o->listener), 128, on_origin_connection) != 0)
            std::abort();
        sockaddr_storage ss{};
        int len = sizeof ss;
        uv_tcp_getsockname(&o->listener, reinterpret_cast<sockaddr*>(&ss), &len);
        o->port = ntohs(reinterpret_cast<sockaddr_in*>(&ss)->sin_port);
        hs->origin = o;

        // Short timeouts so a stalled origin or viewer costs an input milliseconds, not seconds.
        char path[] = "/tmp/meridian-fuzz-edge-XXXXXX.toml";
        int fd = mkstemps(path, 5);
        if (fd < 0) std::abort();
        std::string conf = "workers = 1\nlisten = [\"127.0.0.1:0\"]\nserver_name = \"fuzz\"\n"
                           "[cache]\nmax_bytes = \"4MiB\"\nmax_object_bytes = \"64KiB\"\ncollapse_timeout = \"200ms\"\n"
                           "compress_timeout = \"100ms\"\n"
                           "[limits]\nheader_timeout = \"300ms\"\nbody_timeout = \"300ms\"\nsend_timeout = \"300ms\"\n"
                           "lingering_time = \"200ms\"\nlingering_timeout = \"100ms\"\nkeepalive_timeout = \"300ms\"\n"
                           "max_uri_bytes = \"1KiB\"\nmax_header_bytes = \"4KiB\"\n"
                           "[[origin]]\nname = \"o\"\ntype = \"http\"\naddress = \"127.0.0.1:" +
                           std::to_string(o->port) +
                           "\"\nconnect_timeout = \"200ms\"\nfirst_byte_timeout = \"200ms\"\nidle_timeout = \"200ms\"\n"
                           "[[behavior]]\npath_pattern = \"/pass/*\"\norigin = \"o\"\nallowed_methods = \"ALL\"\n"
                           "cache = false\n"
                           "[[behavior]]\npath_pattern = \"*\"\norigin = \"o\"\nallowed_methods = \"ALL\"\n";
        if (write(fd, conf.data(), conf.size()) != static_cast<ssize_t>(conf.size())) std::abort();
        close(fd);
        shared::ConfigDiagnostics diags;
        auto cfg = edge::load_edge_config(path, diags);
        unlink(path);
        if (!cfg || !diags.ok()) {
            for (const auto& e : diags.all())
                std::fprintf(stderr, "%s\n", e.to_string().c_str());
            std::abort();
        }
        std::string err;
        auto rt = edge::EdgeRuntime::build(std::move(*cfg), &err);
        if (!rt) std::abort();
        const auto& c = rt->config.cache;
        hs->cache = std::make_unique<edge::ObjectCache>(c.max_bytes, c.shards);
        hs->coalescer =
            std::make_unique<edge::MissCoalescer>(hs->cache.get(), c.shards, c.max_object_bytes, c.hit_for_miss_ttl_ms,
                                                  c.hit_for_miss_max_bytes, c.collapse_max_bytes);
        edge::EdgeServices services;
        services.cache = hs->cache.get();
        services.coalescer = hs->coalescer.get();
        services.access_log = &hs->access_log;
        services.metrics = &hs->metrics;
        services.draining = &hs->draining;
        hs->io = std::make_unique<edge::LoopProxyIo>(&hs->loop, nullptr);
        hs->handler = std::make_unique<edge::ProxyHandler>(*hs->io, 0, services, rt);
        hs->conn_settings = edge::conn_settings_of(rt->config.limits);
        hs->max_connections = rt->config.limits.max_connections;
        hs->server =
            std::make_unique<edge::HttpServer>(&hs->loop, hs->handler.get(), &hs->conn_settings, &hs->max_connections);
        std::string perr;
        auto listen = shared::parse_socket_address("127.0.0.1:0", &perr);
        if (!listen || hs->server->listen(*listen) != 0) std::abort();
        hs->edge_port = hs->server->addresses().at(0).port();
        return hs;
    }();
    return *h;
}

// Empties the cache so each input starts from the same state (libFuzzer wants inputs to reproduce alone).
void clear_cache(edge::ObjectCache& cache) {
    for (uint32_t s = 0; s < cache.shard_count(); ++s)
        for (const std::string& k : cache.lru_keys(s))
            cache.erase(k);
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    if (size < 3) return 0;
    Harness& h = harness();
    const uint8_t flags = data[0];
    size_t vlen = (size_t(data[1]) << 8) | data[2];
    data += 3;
    size -= 3;
    if (vlen > size) vlen = size;
    h.origin->answer = std::string_view(reinterpret_cast<const char*>(data) + vlen, size - vlen);
    h.origin->mode = flags & 3;

    Viewer v;
    v.request = std::string_view(reinterpret_cast<const char*>(data), vlen);
    v.reset = flags & 4;
    v.pieces = flags & 8;
    uv_tcp_init(&h.loop, &v.tcp);
    uv_timer_init(&h.loop, &v.timer);
    v.tcp.data = &v;
    v.timer.data = &v;
    v.connect.data = &v;
    v.open_handles = 2;
    sockaddr_in a{};
    uv_ip4_addr("127.0.0.1", h.edge_port, &a);
    if (uv_tcp_connect(&v.connect, &v.tcp, reinterpret_cast<const sockaddr*>(&a), [](uv_connect_t* c, int status) {
            auto* vv = static_cast<Viewer*>(c->data);
            if (status < 0) return viewer_close(vv, false);
            uv_read_start(
                reinterpret_cast<uv_stream_t*>(&vv->tcp),
                [](uv_handle_t* hh, size_t, uv_buf_t* b) {
                    auto* x = static_cast<Viewer*>(hh->data);
                    *b = uv_buf_init(x->buf, sizeof x->buf);
                },
                [](uv_stream_t* s, ssize_t n, const uv_buf_t*) {
                    auto* x = static_cast<Viewer*>(s->data);
                    if (n < 0) return viewer_close(x, false);
                    if (x->received.size() < kMaxViewerBytes) x->received.append(x->buf, static_cast<size_t>(n));
                });
            viewer_write_next(vv);
        }) != 0)
        std::abort();
    uv_timer_start(
        &v.timer,
        [](uv_timer_t* t) {
            auto* x = static_cast<Viewer*>(t->data);
            x->timed_out = true;
            viewer_close(x, true);
        },
        kInputBudgetMs, 0);
    while (!v.done)
        uv_run(&h.loop, UV_RUN_ONCE);

    static const bool verbose = std::getenv("MERIDIAN_FUZZ_VERBOSE") != nullptr;
    if (verbose)
        std::fprintf(stderr, "--- viewer received %zu bytes:\n%s\n---\n", v.received.size(), v.received.c_str());
    // The edge answered (or closed) in time, and what it sent is HTTP.
    if (v.timed_out) {
        std::fprintf(stderr, "the edge neither answered nor closed within %llu ms\n",
                     static_cast<unsigned long long>(kInputBudgetMs));
        std::abort();
    }
    // A viewer that opens with the HTTP/2 preface is answered in HTTP/2 (h2c prior knowledge, RFC 9113 §3.3): the
    // server's preface, a SETTINGS frame on stream 0, comes first. Anything else is answered in HTTP/1.1.
    static constexpr std::string_view kPreface = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
    const std::string& got = v.received;
    bool h2 = v.request.substr(0, kPreface.size()) == kPreface;
    bool framed = h2 ? got.size() >= 9 && got[3] == 0x04 && (got[5] | got[6] | got[7] | got[8]) == 0
                     : got.rfind("HTTP/1.1 ", 0) == 0;
    if (!got.empty() && !framed) {
        std::fprintf(stderr, h2 ? "the h2c viewer received bytes that do not start with a SETTINGS frame\n"
                                : "the viewer received bytes that are not an HTTP/1.1 response\n");
        std::abort();
    }
    // Let the edge finish with this input (origin fetches time out in 200 ms) before the next one starts.
    uint64_t until = uv_now(&h.loop) + 1000;
    while ((h.handler->live_sessions() != 0 || h.server->connections() != 0 || h.origin->open != 0) &&
           uv_now(&h.loop) < until)
        uv_run(&h.loop, UV_RUN_NOWAIT), usleep(200);
    clear_cache(*h.cache);
    return 0;
}
