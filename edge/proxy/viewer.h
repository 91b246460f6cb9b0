// The proxy's side of a viewer connection: the narrow response interface that answers are written through, and
// the interface that receives requests. No socket and no event-loop type appears here: the connection (edge/server)
// owns the socket and implements Viewer; unit tests implement it with a recording fake.
//
// Lifetime: a session that answers a request across loop turns calls hold() once and release() once when it is
// destroyed; the Viewer object stays valid in between, even after the viewer has gone. So the session keeps a plain
// reference for its whole life instead of a pointer that the connection's teardown would have to clear. A write
// after the viewer has gone does nothing and returns false.
//
// Thread: the worker loop that owns the connection.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "edge/cache/cached_object.h"
#include "edge/cache/ref.h"
#include "edge/http/request_parser.h"

namespace edge {

// Response bytes queued by reference: they must stay valid until the response is done (head_buffer(), pinned
// objects, static text).
struct OutBuf {
    const char* data;
    size_t len;
};

// Body bytes that are also in a file: `mem` (kept valid like OutBuf) holds the same bytes as [off, off + len) of
// file `fd` (a cached body in a shared-memory file, body_file.h), so the connection may send them with sendfile.
struct FileSpan {
    int fd;
    uint64_t off;
    const char* mem;
    size_t len;
};

// What a session hears from its viewer while attached (Viewer::attach).
class ViewerEvents {
  public:
    // The output queue fell below the low watermark: send more.
    virtual void on_writable() = 0;
    // The viewer went away (reset, closed, send timeout, server stop). Nothing written from now on reaches it, and
    // no event follows. Called at most once, possibly from inside one of the session's own writes.
    virtual void on_viewer_gone() = 0;

  protected:
    ~ViewerEvents() = default;
};

class Viewer {
  public:
    // The viewer is gone: writes do nothing (and return false), end_response() and abort() are no-ops.
    virtual bool gone() const = 0;

    // Per-response scratch for a head; valid until the response's writes complete.
    virtual std::string& head_buffer() = 0;
    // Queues bytes by reference (see OutBuf). Returns false, having queued nothing, when the viewer is gone or went
    // away during this write.
    virtual bool write(const OutBuf* bufs, unsigned n) = 0;
    bool write(std::string_view s) {
        OutBuf b{s.data(), s.size()};
        return write(&b, 1);
    }
    // Queues `head[0..n)` and then `body` (possibly by sendfile). Returns false as write() does.
    virtual bool write_file(const OutBuf* head, unsigned n, const FileSpan& body) = 0;
    // Queues a copy of `s` (streamed bodies whose source buffer is about to be reused). Returns false as write().
    virtual bool write_copy(std::string_view s) = 0;
    // Keeps `obj` alive until the response's writes complete (bodies sent by reference).
    virtual void pin(Ref<CachedObject> obj) = 0;
    // More than the configured buffer is queued: wait for on_writable() before writing more.
    virtual bool congested() const = 0;
    // All of the response is queued. `keep_alive` false closes the connection once it is written. The viewer may
    // start on its next request (and a new session) before this returns.
    virtual void end_response(bool keep_alive) = 0;
    // Abandons the response (the origin failed mid-body): the connection closes without sending more, so the
    // viewer never takes a short body for a complete one.
    virtual void abort() = 0;

    // While attached, `events` hears on_writable() and on_viewer_gone(); end_response() and detach() end that.
    virtual void attach(ViewerEvents* events) = 0;
    virtual void detach() = 0;
    // Keeps this object valid (not the connection open) until the matching release().
    virtual void hold() = 0;
    virtual void release() = 0;

    virtual std::string_view peer_ip() const = 0;
    // Milliseconds since the current request's first byte arrived (access log time-taken).
    virtual uint64_t request_elapsed_ms() const = 0;
    // The connection's TLS version and cipher in OpenSSL's names ("TLSv1.3", "TLS_AES_128_GCM_SHA256"), as
    // CloudFront's ssl-protocol and ssl-cipher log fields; "" for plain HTTP (so also: was the request HTTPS).
    virtual std::string_view tls_protocol() const { return {}; }
    virtual std::string_view tls_cipher() const { return {}; }

  protected:
    ~Viewer() = default;
};

// Receives each complete request from a connection. Implemented by the proxy; one per worker.
class RequestHandler {
  public:
    virtual ~RequestHandler() = default;
    // Answer `req` on `viewer`: write the response (now or later) and call viewer.end_response().
    virtual void handle(Viewer& viewer, const HttpRequest& req) = 0;
    // The parser refused the request (or it timed out): answer `status` (the connection then closes).
    virtual void reject(Viewer& viewer, int status, const char* reason) = 0;
    // A connection was opened / closed (metrics).
    virtual void on_conn_open() {}
    virtual void on_conn_close() {}
};

} // namespace edge
