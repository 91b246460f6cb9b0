// One UDP socket of one worker (SO_REUSEPORT, bound to one listen address: libuv cannot use IP_PKTINFO, so no
// wildcard binds). Datagrams arrive in batches through libuv's recvmmsg (UV_UDP_RECVMMSG) into one buffer owned by
// this object; answers are built in fixed per-slot buffers and the whole batch goes out with one sendmmsg when libuv
// signals the end of the batch (UV_UDP_MMSG_FREE), so a busy socket costs two syscalls per batch, not one per query.
// No allocation per query. Worker thread only.
#pragma once

#include <uv.h>

#include <memory>

#include "dns/server/query_service.h"
#include "dns/server/receive_buffer.h"
#include "shared/net/address.h"

namespace dns {

class UdpServer {
public:
    explicit UdpServer(QueryService& svc) : svc_(svc) {}
    UdpServer(const UdpServer&) = delete;
    UdpServer& operator=(const UdpServer&) = delete;
    // 0 or a libuv error (the handle must still be closed). `receive_buffer`: bytes asked for the socket's kernel
    // receive buffer (0 = the kernel's default); see dns/server/receive_buffer.h.
    int start(uv_loop_t* loop, const shared::SocketAddress& addr, uint64_t receive_buffer);
    // Starts closing; the loop must run afterwards. The object must outlive the loop run.
    void close();
    shared::SocketAddress address() const;
    const ReceiveBufferResult& receive_buffer() const { return rcvbuf_; }

private:
    static void on_alloc(uv_handle_t* h, size_t suggested, uv_buf_t* buf) noexcept;
    static void on_recv(uv_udp_t* h, ssize_t nread, const uv_buf_t* buf, const sockaddr* addr, unsigned flags) noexcept;

    void flush() noexcept;

    static constexpr size_t kSlot = 64 * 1024; // libuv cuts the receive buffer into 64 KiB datagram slots
    static constexpr size_t kBatch = 20;       // UV__MMSG_MAXWIDTH
    static constexpr size_t kOut = 4096;       // edns_buffer_size is at most 4096
    QueryService& svc_;
    uv_udp_t udp_{};
    int fd_ = -1;
    ReceiveBufferResult rcvbuf_;
    bool initialized_ = false;
    std::unique_ptr<char[]> recv_buf_{new char[kSlot * kBatch]};
    // Answers waiting for the batch's sendmmsg.
    std::unique_ptr<uint8_t[]> out_{new uint8_t[kOut * kBatch]};
    struct Pending {
        sockaddr_storage addr;
        socklen_t addr_len;
        size_t len;
    };
    Pending pending_[kBatch];
    size_t npending_ = 0;
};

} // namespace dns
