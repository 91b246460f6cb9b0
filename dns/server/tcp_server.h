// DNS over TCP for one worker (RFC 7766): 2-byte length framing, several queries pipelined on one connection
// (answered in order as they are parsed), an idle timeout, a per-worker connection limit, and AXFR/IXFR streamed
// to clients the AXFR allow-list admits. Worker thread only.
#pragma once

#include <uv.h>

#include <cstdint>
#include <memory>
#include <vector>

#include "dns/server/query_service.h"
#include "shared/net/address.h"

namespace dns {

class TcpServer {
public:
    explicit TcpServer(QueryService& svc) : svc_(svc) {}
    ~TcpServer();
    TcpServer(const TcpServer&) = delete;
    TcpServer& operator=(const TcpServer&) = delete;
    int start(uv_loop_t* loop, const shared::SocketAddress& addr);
    // Closes the listener and every connection; the loop must run afterwards. Must outlive that run.
    void close();
    shared::SocketAddress address() const;
    size_t connections() const { return conns_.size(); }

    struct Conn;

private:
    static void on_connection(uv_stream_t* s, int status) noexcept;
    void close_conn(Conn* c);
    void process(Conn* c);
    void send(Conn* c, std::vector<uint8_t> framed);
    // AXFR/IXFR: access check (allow-list or TSIG), then the zone stream. False when the connection was closed.
    bool transfer(Conn* c, const uint8_t* msg, size_t mlen, const AnswerInfo& info);
    friend struct Conn;

    QueryService& svc_;
    uv_loop_t* loop_ = nullptr;
    uv_tcp_t listener_{};
    bool initialized_ = false;
    bool closing_ = false;
    std::vector<Conn*> conns_;
    std::vector<uint8_t> out_ = std::vector<uint8_t>(65535);
};

} // namespace dns
