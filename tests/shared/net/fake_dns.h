// A fake authoritative DNS server on a loopback UDP port, for resolver and origin-pool tests.
#pragma once

#include <arpa/inet.h>

#include <atomic>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "shared/http/upstream_test_support.h"

namespace upstream_test {

// A tiny authoritative DNS server on a loopback UDP port: "a.test" has A 127.0.0.2 (TTL ttl_s), every other
// name is NXDOMAIN unless add_a() gave it addresses; a.test's AAAA is 2001:db8::2. With silent=true it never
// answers.
class FakeDns {
public:
    explicit FakeDns(uint32_t ttl_s, bool silent = false) : ttl_(ttl_s), silent_(silent) {
        fd_ = ::socket(AF_INET, SOCK_DGRAM, 0);
        auto a = loopback(0);
        ::bind(fd_, a.sa(), a.len);
        sockaddr_in got{};
        socklen_t len = sizeof got;
        ::getsockname(fd_, reinterpret_cast<sockaddr*>(&got), &len);
        port_ = ntohs(got.sin_port);
        thread_ = std::thread([this] { serve(); });
    }
    ~FakeDns() {
        stop_ = true;
        thread_.join();
        ::close(fd_);
    }
    // Before any query: `name` gets A records `ips` (TTL 60), in this order.
    void add_a(const std::string& name, std::vector<std::string> ips) { extra_[name] = std::move(ips); }
    std::string servers() const { return "127.0.0.1:" + std::to_string(port_); }
    int a_queries() const { return a_queries_.load(); }

private:
    void serve() {
        unsigned char q[512];
        while (!stop_) {
            if (!wait_readable(fd_, 20)) continue;
            sockaddr_storage from{};
            socklen_t flen = sizeof from;
            ssize_t n = ::recvfrom(fd_, q, sizeof q, 0, reinterpret_cast<sockaddr*>(&from), &flen);
            if (n < 12 || silent_) continue;
            // Question: name labels from offset 12, then qtype, qclass.
            size_t off = 12;
            std::string name;
            while (off < size_t(n) && q[off] != 0) {
                size_t l = q[off];
                if (!name.empty()) name += '.';
                name.append(reinterpret_cast<char*>(q + off + 1), l);
                off += l + 1;
            }
            off += 1;
            if (off + 4 > size_t(n)) continue;
            uint16_t qtype = uint16_t(q[off] << 8 | q[off + 1]);
            size_t qend = off + 4;
            std::string r(reinterpret_cast<char*>(q), qend);
            auto extra = extra_.find(name);
            bool known = name == "a.test" || extra != extra_.end();
            r[2] = char(0x84 | (q[2] & 0x01));  // QR, AA, copy RD
            r[3] = char(known ? 0x00 : 0x03);   // NOERROR / NXDOMAIN
            r[6] = r[7] = r[8] = r[9] = r[10] = r[11] = 0;
            if (extra != extra_.end()) {
                if (qtype == 1) {
                    r[7] = char(extra->second.size());
                    for (const auto& ip : extra->second) {
                        unsigned char ans[16] = {0xC0, 0x0C, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4};
                        inet_pton(AF_INET, ip.c_str(), ans + 12);
                        r.append(reinterpret_cast<const char*>(ans), sizeof ans);
                    }
                }
            } else if (known && qtype == 1) {
                a_queries_.fetch_add(1);
                r[7] = 1;
                const unsigned char ans[] = {0xC0, 0x0C, 0, 1, 0, 1, (unsigned char)(ttl_ >> 24),
                                             (unsigned char)(ttl_ >> 16), (unsigned char)(ttl_ >> 8),
                                             (unsigned char)ttl_, 0, 4, 127, 0, 0, 2};
                r.append(reinterpret_cast<const char*>(ans), sizeof ans);
            }
            if (extra == extra_.end() && known && qtype == 28) {  // AAAA 2001:db8::2
                r[7] = 1;
                const unsigned char ans[] = {0xC0, 0x0C, 0, 28, 0, 1, 0, 0, 0, 60, 0, 16,
                                             0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2};
                r.append(reinterpret_cast<const char*>(ans), sizeof ans);
            }
            ::sendto(fd_, r.data(), r.size(), 0, reinterpret_cast<sockaddr*>(&from), flen);
        }
    }
    uint32_t ttl_;
    bool silent_;
    int fd_ = -1;
    uint16_t port_ = 0;
    std::atomic<bool> stop_{false};
    std::atomic<int> a_queries_{0};
    std::thread thread_;
    std::map<std::string, std::vector<std::string>> extra_;
};

} // namespace upstream_test
