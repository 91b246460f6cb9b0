#include <catch2/catch.hpp>

#include <nghttp2/nghttp2.h>

#include <algorithm>
#include <cstring>
#include <map>
#include <string>
#include <vector>

#include "edge/server/h2_session.h"

// H2Session without sockets: an nghttp2 client session in memory is the viewer, a fake transport carries the bytes,
// and a fake handler answers the way the proxy does (an HTTP/1.1-shaped head, then the body).

namespace {

using edge::H2Session;

struct FakeTransport final : edge::H2Transport {
    std::string out;
    uint64_t now = 1000;
    bool closed = false;
    int holds = 0;
    bool send_copy(std::string_view b) override {
        out.append(b);
        return !closed;
    }
    uint64_t send_queued() const override { return 0; }
    uint64_t send_buffer_limit() const override { return 1 << 20; }
    bool transport_closed() const override { return closed; }
    void close_transport() override { closed = true; }
    void hold_transport() override { ++holds; }
    void release_transport() override { --holds; }
    uint64_t now_ms() const override { return now; }
    std::string_view transport_peer_ip() const override { return "192.0.2.1"; }
    std::string_view transport_tls_protocol() const override { return "TLSv1.3"; }
    std::string_view transport_tls_cipher() const override { return "TLS_AES_128_GCM_SHA256"; }
    void pause_input(bool) override {}
};

struct FakeHandler final : edge::RequestHandler {
    std::vector<std::string> seen; // "METHOD path host vMAJOR.MINOR cookie"
    edge::Viewer* later = nullptr;
    std::string body100 = std::string(100, 'x');
    void handle(edge::Viewer& v, const edge::HttpRequest& req) override {
        seen.push_back(std::string(req.method_name) + " " + std::string(req.path) + " " + std::string(req.host) + " v" +
                       std::to_string(req.version_major) + "." + std::to_string(req.version_minor) + " " +
                       std::string(req.header("cookie")));
        if (req.path == "/hit") {
            v.head_buffer() = "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nConnection: keep-alive\r\nX-A:  b \r\n\r\n";
            edge::OutBuf bufs[2] = {{v.head_buffer().data(), v.head_buffer().size()}, {"hello", 5}};
            v.write(bufs, 2);
            v.end_response(true);
        } else if (req.path == "/interim") {
            v.write("HTTP/1.1 103 Early Hints\r\nLink: </a.css>\r\n\r\n");
            v.write("HTTP/1.1 204 No Content\r\nTransfer-Encoding: chunked\r\n\r\n");
            v.end_response(true);
        } else if (req.path == "/big") {
            v.write("HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n");
            v.write(body100);
            v.end_response(true);
        } else if (req.path == "/abort") {
            v.write("HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n");
            v.write("part");
            v.abort(); // the origin failed mid-body
        } else if (req.path == "/later") {
            later = &v;
            v.hold();
        } else {
            v.write("HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n");
            v.end_response(false);
        }
    }
    void reject(edge::Viewer& v, int status, const char*) override {
        v.write("HTTP/1.1 " + std::to_string(status) + " X\r\nContent-Length: 0\r\n\r\n");
        v.end_response(false);
    }
};

struct Client {
    nghttp2_session* ng = nullptr;
    struct Stream {
        std::map<std::string, std::string> headers;
        std::string data;
        bool closed = false;
        uint32_t error = 0;
        int interim = 0;
    };
    std::map<int32_t, Stream> streams;
    int goaway = -1;

    explicit Client(uint32_t window = 1 << 20) {
        nghttp2_session_callbacks* cb;
        nghttp2_session_callbacks_new(&cb);
        nghttp2_session_callbacks_set_on_header_callback(
            cb,
            [](nghttp2_session*, const nghttp2_frame* f, const uint8_t* n, size_t nl, const uint8_t* v, size_t vl,
               uint8_t, void* u) -> int {
                auto& st = static_cast<Client*>(u)->streams[f->hd.stream_id];
                std::string name((const char*)n, nl), value((const char*)v, vl);
                if (name == ":status" && value[0] == '1') ++st.interim;
                st.headers[name] = value;
                return 0;
            });
        nghttp2_session_callbacks_set_on_data_chunk_recv_callback(
            cb, [](nghttp2_session*, uint8_t, int32_t id, const uint8_t* d, size_t l, void* u) -> int {
                static_cast<Client*>(u)->streams[id].data.append((const char*)d, l);
                return 0;
            });
        nghttp2_session_callbacks_set_on_stream_close_callback(
            cb, [](nghttp2_session*, int32_t id, uint32_t e, void* u) -> int {
                auto& s = static_cast<Client*>(u)->streams[id];
                s.closed = true;
                s.error = e;
                return 0;
            });
        nghttp2_session_callbacks_set_on_frame_recv_callback(
            cb, [](nghttp2_session*, const nghttp2_frame* f, void* u) -> int {
                if (f->hd.type == NGHTTP2_GOAWAY)
                    static_cast<Client*>(u)->goaway = static_cast<int>(f->goaway.error_code);
                return 0;
            });
        nghttp2_option* opt;
        nghttp2_option_new(&opt);
        nghttp2_option_set_no_auto_window_update(opt, 1); // a window opens only when the test says so
        nghttp2_session_client_new2(&ng, cb, this, opt);
        nghttp2_option_del(opt);
        nghttp2_session_callbacks_del(cb);
        nghttp2_settings_entry iv[] = {{NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, window}};
        nghttp2_submit_settings(ng, NGHTTP2_FLAG_NONE, iv, 1);
        nghttp2_session_set_local_window_size(ng, NGHTTP2_FLAG_NONE, 0, 1 << 24);
    }
    ~Client() { nghttp2_session_del(ng); }
    int32_t get(const char* path, std::vector<std::pair<std::string, std::string>> extra = {}) {
        std::vector<std::pair<std::string, std::string>> h = {
            {":method", "GET"}, {":path", path}, {":scheme", "https"}, {":authority", "example.test"}};
        h.insert(h.end(), extra.begin(), extra.end());
        std::vector<nghttp2_nv> nv;
        for (auto& [n, v] : h)
            nv.push_back({(uint8_t*)n.data(), (uint8_t*)v.data(), n.size(), v.size(), NGHTTP2_NV_FLAG_NONE});
        return nghttp2_submit_request(ng, nullptr, nv.data(), nv.size(), nullptr, nullptr);
    }
    // Client → server, then server → client, until neither has more.
    void exchange(H2Session& s, FakeTransport& t) {
        for (int i = 0; i < 20; ++i) {
            std::string bytes;
            const uint8_t* d;
            ssize_t n;
            while ((n = nghttp2_session_mem_send(ng, &d)) > 0)
                bytes.append((const char*)d, static_cast<size_t>(n));
            if (!bytes.empty()) s.on_input(bytes.data(), bytes.size());
            std::string back;
            back.swap(t.out);
            if (!back.empty()) nghttp2_session_mem_recv(ng, (const uint8_t*)back.data(), back.size());
            if (bytes.empty() && back.empty()) return;
        }
    }
};

edge::H2Limits limits() {
    edge::H2Limits l;
    l.http2.max_stream_resets = 5;
    return l;
}

} // namespace

TEST_CASE("H2Session: a stream answered as HTTP/1.1 reaches the viewer as HTTP/2", "[edge][server][h2]") {
    FakeTransport t;
    FakeHandler h;
    H2Session s(t, &h, limits(), true);
    REQUIRE(s.start());
    Client c;
    int32_t id = c.get("/hit", {{"cookie", "a=1"}, {"cookie", "b=2"}});
    c.exchange(s, t);
    REQUIRE(h.seen.size() == 1);
    CHECK(h.seen[0] == "GET /hit example.test v2.0 a=1; b=2"); // RFC 9113 §8.2.3: cookies joined
    auto& st = c.streams[id];
    CHECK(st.closed);
    CHECK(st.error == NGHTTP2_NO_ERROR);
    CHECK(st.headers[":status"] == "200");
    CHECK(st.headers["x-a"] == "b");
    CHECK(st.headers["content-length"] == "5");
    CHECK(st.headers.count("connection") == 0); // RFC 9113 §8.2.2
    CHECK(st.data == "hello");
    CHECK(s.active_streams() == 0);
    CHECK(!t.closed);
}

TEST_CASE("H2Session: an interim head goes before the final one; connection-specific fields are dropped",
          "[edge][server][h2]") {
    FakeTransport t;
    FakeHandler h;
    H2Session s(t, &h, limits(), false);
    REQUIRE(s.start());
    Client c;
    int32_t id = c.get("/interim");
    c.exchange(s, t);
    auto& st = c.streams[id];
    CHECK(st.closed);
    CHECK(st.headers[":status"] == "204");
    CHECK(st.headers["link"] == "</a.css>"); // from the 103's HEADERS frame (the map keeps every field seen)
    CHECK(st.interim == 1);
    CHECK(st.headers.count("transfer-encoding") == 0);
}

TEST_CASE("H2Session: the body waits for the viewer's window", "[edge][server][h2]") {
    FakeTransport t;
    FakeHandler h;
    H2Session s(t, &h, limits(), true);
    REQUIRE(s.start());
    Client c(10); // a 10-byte stream window
    int32_t id = c.get("/big");
    c.exchange(s, t);
    auto& st = c.streams[id];
    CHECK(st.headers[":status"] == "200");
    CHECK(st.data.size() == 10);
    CHECK(!st.closed);
    CHECK(s.blocked());
    t.now += 5000;
    CHECK(s.last_progress_ms() == 1000); // the send timeout counts from the last DATA frame
    nghttp2_submit_window_update(c.ng, NGHTTP2_FLAG_NONE, id, 1000);
    c.exchange(s, t);
    CHECK(st.closed);
    CHECK(st.data == h.body100);
    CHECK(!s.blocked());
}

TEST_CASE("H2Session: a response written later; the viewer cancelling it tells the source", "[edge][server][h2]") {
    FakeTransport t;
    FakeHandler h;
    H2Session s(t, &h, limits(), true);
    REQUIRE(s.start());
    Client c;
    int32_t id = c.get("/later");
    c.exchange(s, t);
    REQUIRE(h.later);
    CHECK(t.holds == 1);
    struct Events final : edge::ViewerEvents {
        bool gone = false;
        void on_writable() override {}
        void on_viewer_gone() override { gone = true; }
    } ev;
    h.later->attach(&ev);
    CHECK(h.later->write("HTTP/1.1 200 OK\r\n"));
    nghttp2_submit_rst_stream(c.ng, NGHTTP2_FLAG_NONE, id, NGHTTP2_CANCEL);
    c.exchange(s, t);
    CHECK(ev.gone);
    CHECK(h.later->gone());
    CHECK(!h.later->write("more"));
    h.later->release();
    CHECK(t.holds == 0);
    CHECK(s.active_streams() == 0);
    CHECK(c.streams[id].headers.empty()); // the head never completed: nothing was sent
}

TEST_CASE("H2Session: rapid reset ends the connection with ENHANCE_YOUR_CALM", "[edge][server][h2]") {
    FakeTransport t;
    FakeHandler h;
    H2Session s(t, &h, limits(), true); // 5 resets per 10 s
    REQUIRE(s.start());
    Client c;
    auto open_and_cancel = [&](int n) {
        for (int i = 0; i < n; ++i) {
            int32_t id = c.get("/later"); // stays open until the viewer cancels it
            c.exchange(s, t);
            nghttp2_submit_rst_stream(c.ng, NGHTTP2_FLAG_NONE, id, NGHTTP2_CANCEL);
            c.exchange(s, t);
        }
    };
    open_and_cancel(5);
    CHECK(c.goaway == -1); // at the budget: fine
    t.now += 10'000;       // a new window
    open_and_cancel(5);
    CHECK(c.goaway == -1);
    uint64_t before = edge::h2_stats().rapid_reset_goaways.load();
    open_and_cancel(1);
    CHECK(c.goaway == NGHTTP2_ENHANCE_YOUR_CALM);
    CHECK(edge::h2_stats().rapid_reset_goaways.load() == before + 1);
    CHECK(t.closed);
}

TEST_CASE("H2Session: limits answer 414 and 431 per stream", "[edge][server][h2]") {
    FakeTransport t;
    FakeHandler h;
    edge::H2Limits l = limits();
    l.request.max_uri_bytes = 64;
    l.request.max_header_bytes = 1024;
    H2Session s(t, &h, l, true);
    REQUIRE(s.start());
    Client c;
    std::string long_path = "/" + std::string(100, 'a');
    int32_t a = c.get(long_path.c_str());
    int32_t b = c.get("/hit", {{"x-big", std::string(2000, 'b')}});
    int32_t ok = c.get("/hit");
    c.exchange(s, t);
    CHECK(c.streams[a].headers[":status"] == "414");
    CHECK(c.streams[b].headers[":status"] == "431");
    CHECK(c.streams[ok].headers[":status"] == "200");
    CHECK(h.seen.size() == 1);
    CHECK(c.goaway == -1);
}

TEST_CASE("H2Session: drain sends GOAWAY and closes once streams are done", "[edge][server][h2]") {
    FakeTransport t;
    FakeHandler h;
    H2Session s(t, &h, limits(), true);
    REQUIRE(s.start());
    Client c;
    int32_t id = c.get("/later");
    c.exchange(s, t);
    REQUIRE(h.later);
    s.drain();
    c.exchange(s, t);
    CHECK(c.goaway == NGHTTP2_NO_ERROR);
    CHECK(!t.closed);
    h.later->write("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
    h.later->end_response(true);
    c.exchange(s, t);
    CHECK(c.streams[id].data == "ok");
    h.later->release();
    CHECK(t.closed);
}

TEST_CASE("H2Session: an aborted response resets its stream, never ends it cleanly", "[edge][server][h2]") {
    FakeTransport t;
    FakeHandler h;
    H2Session s(t, &h, limits(), true);
    REQUIRE(s.start());
    Client c;
    int32_t id = c.get("/abort");
    int32_t ok = c.get("/hit");
    c.exchange(s, t);
    CHECK(c.streams[id].closed);
    CHECK(c.streams[id].error == NGHTTP2_INTERNAL_ERROR);
    CHECK(c.streams[ok].data == "hello"); // the other stream is unaffected
    CHECK(c.goaway == -1);
    CHECK(!t.closed);
}

namespace {

// A request body the test hands out: `left` more bytes, then (when `eof`) its end; sent counts what nghttp2 took.
struct Upload {
    size_t left = 0;
    size_t sent = 0;
    bool eof = false;
};

ssize_t upload_read(nghttp2_session*, int32_t, uint8_t* buf, size_t len, uint32_t* flags, nghttp2_data_source* src,
                    void*) {
    auto* u = static_cast<Upload*>(src->ptr);
    size_t n = std::min(len, u->left);
    std::memset(buf, 'u', n);
    u->left -= n;
    u->sent += n;
    if (u->left == 0 && u->eof) *flags |= NGHTTP2_DATA_FLAG_EOF;
    if (n == 0 && !u->eof) return NGHTTP2_ERR_DEFERRED;
    return static_cast<ssize_t>(n);
}

int32_t post(Client& c, Upload* u) {
    static std::string m = ":method", mv = "POST", p = ":path", pv = "/upload", sc = ":scheme", scv = "https",
                       a = ":authority", av = "example.test";
    nghttp2_nv nv[] = {{(uint8_t*)m.data(), (uint8_t*)mv.data(), m.size(), mv.size(), NGHTTP2_NV_FLAG_NONE},
                       {(uint8_t*)p.data(), (uint8_t*)pv.data(), p.size(), pv.size(), NGHTTP2_NV_FLAG_NONE},
                       {(uint8_t*)sc.data(), (uint8_t*)scv.data(), sc.size(), scv.size(), NGHTTP2_NV_FLAG_NONE},
                       {(uint8_t*)a.data(), (uint8_t*)av.data(), a.size(), av.size(), NGHTTP2_NV_FLAG_NONE}};
    nghttp2_data_provider prd;
    prd.source.ptr = u;
    prd.read_callback = upload_read;
    return nghttp2_submit_request(c.ng, nullptr, nv, 4, &prd, nullptr);
}

void settle(Client& c, H2Session& s, FakeTransport& t) {
    for (int i = 0; i < 200; ++i)
        c.exchange(s, t);
}

} // namespace

TEST_CASE("H2Session: the request bodies a connection buffers are bounded", "[edge][server][h2]") {
    // nghttp2's automatic WINDOW_UPDATEs took every stream's body up to max_body_bytes at once: 128 streams that
    // never end theirs held 128 MiB per connection.
    FakeTransport t;
    FakeHandler h;
    H2Session s(t, &h, limits(), true);
    REQUIRE(s.start());
    Client c;
    const size_t max_body = limits().request.max_body_bytes;
    std::vector<Upload> ups(12);
    std::vector<int32_t> ids;
    for (auto& u : ups) {
        u.left = max_body - 1; // each within the limit, none ending
        ids.push_back(post(c, &u));
    }
    settle(c, s, t);
    size_t sent = 0;
    for (auto& u : ups)
        sent += u.sent;
    // kBodyStreams bodies are taken whole, the others what their initial window (65,535 bytes) let in.
    CHECK(sent <= H2Session::kBodyStreams * max_body + (ups.size() - H2Session::kBodyStreams) * 65535);
    CHECK(sent > H2Session::kBodyStreams * (max_body - 1) - 1);
    CHECK(ups[0].left == 0);
    CHECK(ups[11].left > 0);
    // A body that ends is handled, and its place goes to a waiting one, which then arrives whole.
    ups[0].eof = true;
    nghttp2_session_resume_data(c.ng, ids[0]);
    settle(c, s, t);
    CHECK(c.streams[ids[0]].headers[":status"] == "404");
    size_t waiting_done = 0;
    for (size_t i = H2Session::kBodyStreams; i < ups.size(); ++i)
        if (ups[i].left == 0) ++waiting_done;
    CHECK(waiting_done == 1);
    CHECK(!t.closed);
}

TEST_CASE("H2Session: a request that stops arriving times out", "[edge][server][h2]") {
    FakeTransport t;
    FakeHandler h;
    H2Session s(t, &h, limits(), true);
    REQUIRE(s.start());
    Client c;
    CHECK(s.arrival_deadline(10'000, 60'000) == UINT64_MAX);
    Upload u;
    u.left = 1000; // then silence, the body unfinished
    int32_t id = post(c, &u);
    int32_t ok = c.get("/later"); // a request being answered has no arrival deadline
    c.exchange(s, t);
    CHECK(s.arrival_deadline(10'000, 60'000) == t.now + 60'000);
    t.now += 59'999;
    s.expire_arrivals(t.now, 10'000, 60'000);
    c.exchange(s, t);
    CHECK(!c.streams[id].closed);
    t.now += 1;
    s.expire_arrivals(t.now, 10'000, 60'000);
    c.exchange(s, t);
    // 408, then, as the rest of the request still does not come, RST_STREAM NO_ERROR (RFC 9113 §8.1): the stream
    // is gone.
    CHECK(c.streams[id].headers[":status"] == "408");
    CHECK(!c.streams[id].closed);
    CHECK(s.arrival_deadline(10'000, 60'000) <= t.now);
    s.expire_arrivals(t.now, 10'000, 60'000);
    c.exchange(s, t);
    CHECK(c.streams[id].closed);
    CHECK(c.streams[id].error == NGHTTP2_NO_ERROR);
    CHECK(!c.streams[ok].closed);
    CHECK(s.active_streams() == 1);
    CHECK(s.arrival_deadline(10'000, 60'000) == UINT64_MAX);
    CHECK(!t.closed);
    h.later->release();

    // A header block that never ends (HEADERS without END_HEADERS, no CONTINUATION) closes the connection after
    // header_timeout: no other frame may come on it before the block's end.
    FakeTransport t2;
    FakeHandler h2;
    H2Session s2(t2, &h2, limits(), true);
    REQUIRE(s2.start());
    Client c2;
    c2.exchange(s2, t2);
    // A HEADERS frame for stream 1 without END_HEADERS: its block is ":method: GET" (static index 2).
    const unsigned char frame[] = {0, 0, 1, NGHTTP2_HEADERS, NGHTTP2_FLAG_END_STREAM, 0, 0, 0, 1, 0x82};
    s2.on_input(reinterpret_cast<const char*>(frame), sizeof frame);
    CHECK(s2.arrival_deadline(10'000, 60'000) == t2.now + 10'000);
    t2.now += 10'000;
    s2.expire_arrivals(t2.now, 10'000, 60'000);
    CHECK(t2.closed);
}

TEST_CASE("H2Session: streams reset for the viewer's stream errors count as rapid resets", "[edge][server][h2]") {
    // CVE-2025-8671 ("MadeYouReset"): a request, then a frame that is a stream error (here a WINDOW_UPDATE that
    // overflows the stream's window), so that the server resets the stream itself: the request's work is done, its
    // slot is free at once, and no cancel of the viewer's was counted.
    FakeTransport t;
    FakeHandler h;
    H2Session s(t, &h, limits(), true); // 5 resets per 10 s
    REQUIRE(s.start());
    Client c;
    auto request_and_overflow = [&](int n) {
        for (int i = 0; i < n; ++i) {
            int32_t id = c.get("/later");
            c.exchange(s, t);
            unsigned char wu[] = {0,
                                  0,
                                  4,
                                  NGHTTP2_WINDOW_UPDATE,
                                  0,
                                  uint8_t(id >> 24),
                                  uint8_t(id >> 16),
                                  uint8_t(id >> 8),
                                  uint8_t(id),
                                  0x7f,
                                  0xff,
                                  0xff,
                                  0xff};
            s.on_input(reinterpret_cast<const char*>(wu), sizeof wu);
            c.exchange(s, t);
            if (c.goaway == -1) CHECK(c.streams[id].error == NGHTTP2_FLOW_CONTROL_ERROR);
        }
    };
    request_and_overflow(5);
    CHECK(c.goaway == -1);
    CHECK(h.seen.size() == 5); // each one was a request handled
    request_and_overflow(1);
    CHECK(c.goaway == NGHTTP2_ENHANCE_YOUR_CALM);
    CHECK(t.closed);
}

TEST_CASE("H2Session: a request answered before its end is reset only once the rest stops coming",
          "[edge][server][h2]") {
    FakeTransport t;
    FakeHandler h;
    H2Session s(t, &h, limits(), true);
    REQUIRE(s.start());
    Client c;
    Upload u;
    u.left = limits().request.max_body_bytes + 100'000; // 413 part-way; the viewer goes on sending, then stops
    int32_t id = post(c, &u);
    settle(c, s, t);
    CHECK(c.streams[id].headers[":status"] == "413");
    CHECK(u.left == 0);           // the rest was taken (and discarded), so a client still uploading reads the 413
    CHECK(!c.streams[id].closed); // no RST_STREAM while it arrives: curl 7.88 drops the answer behind one
    t.now += 60'000;              // body_timeout of silence
    CHECK(s.arrival_deadline(10'000, 60'000) <= t.now);
    s.expire_arrivals(t.now, 10'000, 60'000);
    c.exchange(s, t);
    CHECK(c.streams[id].closed);
    CHECK(c.streams[id].error == NGHTTP2_NO_ERROR);
    CHECK(s.active_streams() == 0);
    CHECK(!t.closed);
}
