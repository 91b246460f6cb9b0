// dns_loadgen: a saturating UDP DNS load generator for one core.
//
// One dnsperf thread tops out near 110k qps on a 2-core box, below what NSD, Knot and Meridian serve, so the bench
// needs a generator that costs fewer cycles per query: queries are pre-encoded once, sent and received in batches
// (sendmmsg/recvmmsg) over several connected UDP sockets, with a window of outstanding queries. Every answer is
// checked (ID known on that socket, QR set, question echoed) and counted per RCODE; latency goes into a log-linear
// histogram. The run is bounded by -l seconds plus a drain of at most the query timeout.
//
// Query file: dnsperf's format, one "name type" per line ('#' comments, blank lines skipped), with an optional third
// token "ecs=ADDR/PREFIX" that adds an EDNS Client Subnet option (RFC 7871) to that query.
//
// TCP (RFC 7766 framing: a 2-byte length before each message), two shapes:
//   --tcp            --sockets connections held open for the whole run, the window of outstanding queries spread
//                    over them (pipelined: each connection carries window/sockets queries in flight, written
//                    together, answers matched by ID in any order); a connection the server closes is reopened.
//   --tcp-per-query  one query per connection: connect, write one query, read its answer, close (the client closes
//                    first, so TIME_WAIT stays here); the window is the number of connections open at once.
//                    --sources N spreads the connections over 127.0.0.1..N (loopback only) so a long run does not
//                    run out of local ports while earlier ones sit in TIME_WAIT.
//   --axfr ZONE      one AXFR of ZONE over TCP: time to the first byte and to the closing SOA, records, messages.
// Every mode reports the client's own CPU seconds and its core's busy share (client_core_busy): near 1.0 means this
// client, not the server, set the rate.
//
// Single-threaded by design: pin it with --cpu (or taskset) to the core the server is not on.

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <cinttypes>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace {

constexpr int kBatch = 64;          // datagrams per sendmmsg/recvmmsg call
constexpr size_t kMaxQuery = 512;   // our queries are small; answers may be up to 64 KiB
constexpr size_t kMaxAnswer = 4096; // only the header and question are checked; the rest may be cut off

uint64_t now_ns() {
    timespec ts{};
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return uint64_t(ts.tv_sec) * 1000000000ull + uint64_t(ts.tv_nsec);
}

struct Options {
    std::string server = "127.0.0.1";
    int port = 53;
    std::string query_file;
    double seconds = 10;
    int cpu = -1;
    int sockets = 8;
    int window = 512;
    double rate = 0;        // queries/s; 0 = as fast as the window allows
    double timeout_s = 1.0; // an answer later than this counts as lost
    bool edns = false;
    bool dnssec_ok = false; // --do: EDNS with the DO bit (DNSSEC answers)
    uint16_t edns_bufsize = 1232;
    bool json = false;
    bool progress = false;
    bool random_order = false;
    enum class Transport { udp, tcp, tcp_per_query, axfr } transport = Transport::udp;
    int sources = 1;       // TCP: local addresses 127.0.0.1 .. 127.0.0.N (IPv4 loopback servers only)
    std::string axfr_zone; // --axfr
};

// CPU seconds (user + system) this process used so far.
double self_cpu_s() {
    rusage ru{};
    getrusage(RUSAGE_SELF, &ru);
    return double(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) + double(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

[[noreturn]] void usage(const char* msg) {
    if (msg) std::fprintf(stderr, "dns_loadgen: %s\n", msg);
    std::fprintf(stderr,
                 "usage: dns_loadgen -d QUERYFILE [-s SERVER] [-p PORT] [-l SECONDS] [--cpu N] [--sockets N]\n"
                 "                   [--window N] [-Q QPS] [--timeout SECONDS] [--edns] [--do] [--bufsize N]\n"
                 "                   [--random] [--progress] [--json] [--tcp | --tcp-per-query [--sources N]]\n"
                 "       dns_loadgen --axfr ZONE [-s SERVER] [-p PORT] [--timeout SECONDS] [--json]\n"
                 "  QUERYFILE lines: NAME TYPE [ecs=ADDR/PREFIX]   (dnsperf's format plus optional ECS)\n"
                 "  -Q QPS fixed-rate mode (still bounded by --window); default: saturate with --window in flight\n");
    std::exit(2);
}

// ---------------------------------------------------------------------------------------------------------------
// Query encoding

struct Query {
    std::array<uint8_t, kMaxQuery> wire{};
    uint16_t len = 0;
    uint16_t qname_end = 0; // offset just past QTYPE/QCLASS: [12, qname_end) is compared with the answer's question
};

int type_code(std::string_view t) {
    static const std::map<std::string, int, std::less<>> types = {
        {"A", 1},     {"NS", 2},     {"CNAME", 5},  {"SOA", 6},   {"PTR", 12},    {"HINFO", 13},
        {"MX", 15},   {"TXT", 16},   {"AAAA", 28},  {"SRV", 33},  {"NAPTR", 35},  {"DNAME", 39},
        {"DS", 43},   {"SSHFP", 44}, {"RRSIG", 46}, {"NSEC", 47}, {"DNSKEY", 48}, {"TLSA", 52},
        {"SVCB", 64}, {"HTTPS", 65}, {"AXFR", 252}, {"ANY", 255}, {"CAA", 257}};
    std::string up(t);
    for (auto& c : up)
        c = char(std::toupper(static_cast<unsigned char>(c)));
    if (auto it = types.find(up); it != types.end()) return it->second;
    if (up.rfind("TYPE", 0) == 0 && up.size() > 4) {
        char* end = nullptr;
        long v = std::strtol(up.c_str() + 4, &end, 10);
        if (*end == '\0' && v >= 0 && v <= 65535) return int(v);
    }
    return -1;
}

// Appends NAME in wire format; returns an error message or nullptr.
const char* put_name(std::vector<uint8_t>& out, std::string_view name) {
    if (name == ".") {
        out.push_back(0);
        return nullptr;
    }
    if (!name.empty() && name.back() == '.') name.remove_suffix(1);
    size_t total = 1;
    while (!name.empty()) {
        size_t dot = name.find('.');
        std::string_view label = name.substr(0, dot);
        if (label.empty()) return "empty label";
        if (label.size() > 63) return "label longer than 63 bytes";
        if (label.find('\\') != std::string_view::npos) return "escapes in names are not supported";
        total += label.size() + 1;
        if (total > 255) return "name longer than 255 bytes";
        out.push_back(uint8_t(label.size()));
        out.insert(out.end(), label.begin(), label.end());
        name = dot == std::string_view::npos ? std::string_view{} : name.substr(dot + 1);
    }
    out.push_back(0);
    return nullptr;
}

void put16(std::vector<uint8_t>& out, unsigned v) {
    out.push_back(uint8_t(v >> 8));
    out.push_back(uint8_t(v));
}

// Parses "ADDR/PREFIX" into the ECS option body (RFC 7871 §6): family, source prefix, scope 0, truncated address.
const char* make_ecs(std::string_view spec, std::vector<uint8_t>& opt) {
    size_t slash = spec.find('/');
    if (slash == std::string_view::npos) return "ecs= wants ADDR/PREFIX";
    std::string addr(spec.substr(0, slash));
    int prefix = std::atoi(std::string(spec.substr(slash + 1)).c_str());
    uint8_t buf[16];
    int family;
    size_t max_bits;
    if (inet_pton(AF_INET, addr.c_str(), buf) == 1) {
        family = 1;
        max_bits = 32;
    } else if (inet_pton(AF_INET6, addr.c_str(), buf) == 1) {
        family = 2;
        max_bits = 128;
    } else {
        return "ecs= address is not IPv4 or IPv6";
    }
    if (prefix < 0 || size_t(prefix) > max_bits) return "ecs= prefix out of range";
    size_t nbytes = (size_t(prefix) + 7) / 8;
    // RFC 7871 §6: bits past the source prefix must be zero.
    if (prefix % 8) buf[nbytes - 1] &= uint8_t(0xff << (8 - prefix % 8));
    put16(opt, 8); // OPTION-CODE edns-client-subnet
    put16(opt, unsigned(4 + nbytes));
    put16(opt, unsigned(family));
    opt.push_back(uint8_t(prefix));
    opt.push_back(0);
    opt.insert(opt.end(), buf, buf + nbytes);
    return nullptr;
}

// Encodes one query-file line; returns an error message or nullptr. Blank and comment lines set q.len = 0.
const char* encode_line(const std::string& line, const Options& o, Query& q) {
    q.len = 0;
    std::vector<std::string> tok;
    size_t i = 0;
    while (i < line.size()) {
        while (i < line.size() && std::isspace(static_cast<unsigned char>(line[i])))
            ++i;
        if (i >= line.size() || line[i] == '#' || line[i] == ';') break;
        size_t j = i;
        while (j < line.size() && !std::isspace(static_cast<unsigned char>(line[j])))
            ++j;
        tok.emplace_back(line.substr(i, j - i));
        i = j;
    }
    if (tok.empty()) return nullptr;
    if (tok.size() < 2 || tok.size() > 3) return "expected: NAME TYPE [ecs=ADDR/PREFIX]";
    int type = type_code(tok[1]);
    if (type < 0) return "unknown query type";
    std::vector<uint8_t> w = {0, 0, 0x00, 0x00, 0, 1, 0, 0, 0, 0, 0, 0}; // ID patched per send; RD clear
    if (const char* err = put_name(w, tok[0])) return err;
    put16(w, unsigned(type));
    put16(w, 1); // IN
    size_t qend = w.size();
    std::vector<uint8_t> opt;
    if (tok.size() == 3) {
        if (tok[2].rfind("ecs=", 0) != 0) return "third token must be ecs=ADDR/PREFIX";
        if (const char* err = make_ecs(std::string_view(tok[2]).substr(4), opt)) return err;
    }
    if (o.edns || o.dnssec_ok || !opt.empty()) {
        w[11] = 1; // ARCOUNT
        w.push_back(0);
        put16(w, 41);
        put16(w, o.edns_bufsize);
        put16(w, 0);
        put16(w, o.dnssec_ok ? 0x8000 : 0);
        put16(w, unsigned(opt.size()));
        w.insert(w.end(), opt.begin(), opt.end());
    }
    if (w.size() > kMaxQuery) return "query too large";
    std::memcpy(q.wire.data(), w.data(), w.size());
    q.len = uint16_t(w.size());
    q.qname_end = uint16_t(qend);
    return nullptr;
}

std::vector<Query> load_queries(const Options& o) {
    std::ifstream in(o.query_file);
    if (!in) {
        std::fprintf(stderr, "dns_loadgen: %s: cannot open: %s\n", o.query_file.c_str(), std::strerror(errno));
        std::exit(2);
    }
    std::vector<Query> qs;
    std::string line;
    int lineno = 0;
    while (std::getline(in, line)) {
        ++lineno;
        Query q;
        if (const char* err = encode_line(line, o, q)) {
            std::fprintf(stderr, "dns_loadgen: %s:%d: %s\n", o.query_file.c_str(), lineno, err);
            std::exit(2);
        }
        if (q.len) qs.push_back(q);
    }
    if (qs.empty()) {
        std::fprintf(stderr, "dns_loadgen: %s: no queries\n", o.query_file.c_str());
        std::exit(2);
    }
    return qs;
}

// ---------------------------------------------------------------------------------------------------------------
// Latency histogram: log-linear over microseconds, 32 sub-buckets per power of two (about 3% resolution).

class Histogram {
  public:
    void add(uint64_t ns) {
        uint64_t us = ns / 1000;
        ++counts_[index(us)];
        ++total_;
    }
    uint64_t total() const { return total_; }
    // Upper bound of the bucket that holds quantile q, in microseconds.
    double quantile_us(double q) const {
        if (!total_) return 0;
        uint64_t want = uint64_t(q * double(total_));
        if (want >= total_) want = total_ - 1;
        uint64_t seen = 0;
        for (size_t i = 0; i < counts_.size(); ++i) {
            seen += counts_[i];
            if (seen > want) return upper(i);
        }
        return upper(counts_.size() - 1);
    }

  private:
    static constexpr int kSub = 32;
    static size_t index(uint64_t us) {
        if (us < kSub) return size_t(us);
        int msb = 63 - __builtin_clzll(us);
        int shift = msb - 5; // keep 5 bits below the top bit
        size_t i = size_t(msb - 4) * kSub + size_t((us >> shift) & (kSub - 1));
        return std::min(i, size_t(kBuckets - 1));
    }
    static double upper(size_t i) {
        if (i < kSub) return double(i + 1);
        size_t msb = i / kSub + 4;
        size_t sub = i % kSub;
        return double((uint64_t(kSub + sub + 1)) << (msb - 5));
    }
    static constexpr int kBuckets = 40 * kSub;
    std::array<uint64_t, kBuckets> counts_{};
    uint64_t total_ = 0;
};

// ---------------------------------------------------------------------------------------------------------------
// In-flight bookkeeping: one slot per (socket, ID); IDs are handed out sequentially per socket, so a slot is reused
// only after 65,536 sends on that socket. A FIFO of sends in send order finds timeouts without scanning slots.

struct Slot {
    uint64_t sent_ns = 0;
    uint32_t query = 0;
    uint32_t seq = 0; // send sequence number; 0 = free
};

struct Sent {
    uint32_t seq;
    uint16_t sock;
    uint16_t id;
};

struct Stats {
    uint64_t sent = 0, answered = 0, lost = 0, late = 0, bad_id = 0, bad_question = 0, truncated = 0, short_pkt = 0;
    uint64_t send_errors = 0;
    std::array<uint64_t, 16> rcodes{};
};

volatile sig_atomic_t g_stop = 0;
void on_signal(int) {
    g_stop = 1;
}

const char* rcode_name(int r) {
    static const char* names[16] = {"NOERROR",  "FORMERR", "SERVFAIL", "NXDOMAIN", "NOTIMP",  "REFUSED",
                                    "YXDOMAIN", "YXRRSET", "NXRRSET",  "NOTAUTH",  "NOTZONE", "RCODE11",
                                    "RCODE12",  "RCODE13", "RCODE14",  "RCODE15"};
    return names[r & 15];
}

// The "rcodes" object's members and the closing braces of a --json line, for every mode.
void print_rcodes_json(const std::array<uint64_t, 16>& rcodes) {
    bool first = true;
    for (int r = 0; r < 16; ++r) {
        if (!rcodes[size_t(r)]) continue;
        std::printf("%s\"%s\":%" PRIu64, first ? "" : ",", rcode_name(r), rcodes[size_t(r)]);
        first = false;
    }
    std::printf("}}\n");
}

class LoadGen {
  public:
    LoadGen(const Options& o, std::vector<Query> qs) : o_(o), queries_(std::move(qs)) {
        slots_.resize(size_t(o.sockets) * 65536);
        next_id_.assign(size_t(o.sockets), 0);
        size_t cap = 1;
        while (cap < size_t(o.window) * 4 + 1024)
            cap <<= 1;
        // The FIFO also holds answered entries until the head passes them; size it for the timeout at high rates.
        while (cap < (1u << 20))
            cap <<= 1;
        fifo_.resize(cap);
        open_sockets();
        order_seed_ = 0x9e3779b97f4a7c15ull ^ uint64_t(getpid());
    }

    int run() {
        const uint64_t start = now_ns();
        const uint64_t end = start + uint64_t(o_.seconds * 1e9);
        const uint64_t timeout = uint64_t(o_.timeout_s * 1e9);
        uint64_t next_progress = start + 1000000000ull;
        uint64_t last_answered = 0;
        size_t sock_rr = 0;
        while (!g_stop) {
            uint64_t now = now_ns();
            if (now >= end) break;
            expire(now, timeout);
            // How many to send now: fill the window, and in fixed-rate mode no more than the schedule allows.
            int64_t budget = int64_t(o_.window) - int64_t(outstanding_);
            if (o_.rate > 0) {
                int64_t due = int64_t(double(now - start) * 1e-9 * o_.rate) - int64_t(stats_.sent);
                budget = std::min(budget, due);
            }
            while (budget > 0) {
                int n = int(std::min<int64_t>(budget, kBatch));
                int sent = send_batch(sock_rr, n, now);
                sock_rr = (sock_rr + 1) % socks_.size();
                if (sent <= 0) break;
                budget -= sent;
            }
            // Wait for answers; in fixed-rate mode wake up in time for the next send.
            int wait_ms = 1;
            if (o_.rate <= 0 && outstanding_ < size_t(o_.window)) wait_ms = 0;
            receive_all(wait_ms);
            if (o_.progress && now >= next_progress) {
                std::fprintf(stderr, "dns_loadgen: %4.0fs  %" PRIu64 " answers/s  outstanding %zu  lost %" PRIu64 "\n",
                             double(now - start) / 1e9, stats_.answered - last_answered, outstanding_, stats_.lost);
                last_answered = stats_.answered;
                next_progress += 1000000000ull;
            }
        }
        const uint64_t stop_sending = now_ns();
        // Drain: answers already on their way count; give them at most the timeout.
        const uint64_t drain_end = stop_sending + timeout;
        while (outstanding_ > 0 && !g_stop) {
            uint64_t now = now_ns();
            if (now >= drain_end) break;
            receive_all(1);
            expire(now_ns(), timeout);
        }
        stats_.lost += outstanding_;
        outstanding_ = 0;
        wall_s_ = double(now_ns() - start) / 1e9;
        report(double(stop_sending - start) / 1e9);
        return stats_.answered > 0 ? 0 : 1;
    }

  private:
    void open_sockets() {
        sockaddr_storage ss{};
        socklen_t sl;
        auto* s4 = reinterpret_cast<sockaddr_in*>(&ss);
        auto* s6 = reinterpret_cast<sockaddr_in6*>(&ss);
        if (inet_pton(AF_INET, o_.server.c_str(), &s4->sin_addr) == 1) {
            s4->sin_family = AF_INET;
            s4->sin_port = htons(uint16_t(o_.port));
            sl = sizeof *s4;
        } else if (inet_pton(AF_INET6, o_.server.c_str(), &s6->sin6_addr) == 1) {
            s6->sin6_family = AF_INET6;
            s6->sin6_port = htons(uint16_t(o_.port));
            sl = sizeof *s6;
        } else {
            std::fprintf(stderr, "dns_loadgen: server '%s' is not an IP address\n", o_.server.c_str());
            std::exit(2);
        }
        for (int i = 0; i < o_.sockets; ++i) {
            int fd = socket(ss.ss_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
            if (fd < 0) {
                std::perror("dns_loadgen: socket");
                std::exit(2);
            }
            int buf = 4 << 20;
            setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &buf, sizeof buf);
            setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &buf, sizeof buf);
            // Connected: the kernel filters foreign sources and sendmmsg needs no per-message address.
            if (connect(fd, reinterpret_cast<sockaddr*>(&ss), sl) != 0) {
                std::perror("dns_loadgen: connect");
                std::exit(2);
            }
            socks_.push_back(fd);
        }
        send_bufs_.resize(kBatch);
        recv_bufs_.resize(kBatch);
    }

    uint32_t pick_query() {
        if (!o_.random_order) {
            uint32_t q = next_query_;
            next_query_ = (next_query_ + 1) % uint32_t(queries_.size());
            return q;
        }
        order_seed_ ^= order_seed_ << 13;
        order_seed_ ^= order_seed_ >> 7;
        order_seed_ ^= order_seed_ << 17;
        return uint32_t(order_seed_ % queries_.size());
    }

    int send_batch(size_t sock, int n, uint64_t now) {
        std::array<mmsghdr, kBatch> msgs{};
        std::array<iovec, kBatch> iov{};
        std::array<uint16_t, kBatch> ids{};
        std::array<uint32_t, kBatch> qidx{};
        for (int i = 0; i < n; ++i) {
            uint16_t id = next_id_[sock]++;
            Slot& s = slot(sock, id);
            if (s.seq) { // still unanswered after 65,536 later sends on this socket: it is lost
                s.seq = 0;
                --outstanding_;
                ++stats_.lost;
            }
            uint32_t q = pick_query();
            const Query& qq = queries_[q];
            auto& b = send_bufs_[size_t(i)];
            std::memcpy(b.data(), qq.wire.data(), qq.len);
            b[0] = uint8_t(id >> 8);
            b[1] = uint8_t(id);
            iov[size_t(i)] = {b.data(), qq.len};
            msgs[size_t(i)].msg_hdr.msg_iov = &iov[size_t(i)];
            msgs[size_t(i)].msg_hdr.msg_iovlen = 1;
            ids[size_t(i)] = id;
            qidx[size_t(i)] = q;
        }
        int r = sendmmsg(socks_[sock], msgs.data(), unsigned(n), 0);
        if (r < 0) {
            if (errno != EAGAIN && errno != EWOULDBLOCK && errno != ENOBUFS) ++stats_.send_errors;
            r = 0;
        }
        for (int i = 0; i < r; ++i) {
            Slot& s = slot(sock, ids[size_t(i)]);
            s.sent_ns = now;
            s.query = qidx[size_t(i)];
            s.seq = ++seq_;
            push_fifo({s.seq, uint16_t(sock), ids[size_t(i)]});
            ++outstanding_;
        }
        // IDs of messages the kernel did not take are simply skipped.
        stats_.sent += uint64_t(r);
        return r;
    }

    void receive_all(int wait_ms) {
        std::vector<pollfd>& pfds = pfds_;
        if (pfds.size() != socks_.size()) {
            pfds.resize(socks_.size());
            for (size_t i = 0; i < socks_.size(); ++i)
                pfds[i] = {socks_[i], POLLIN, 0};
        }
        int ready = poll(pfds.data(), nfds_t(pfds.size()), wait_ms);
        if (ready <= 0) return;
        for (size_t i = 0; i < socks_.size(); ++i) {
            if (pfds[i].revents & (POLLIN | POLLERR)) drain_socket(i);
        }
    }

    void drain_socket(size_t sock) {
        std::array<mmsghdr, kBatch> msgs{};
        std::array<iovec, kBatch> iov{};
        for (;;) {
            for (int i = 0; i < kBatch; ++i) {
                iov[size_t(i)] = {recv_bufs_[size_t(i)].data(), kMaxAnswer};
                msgs[size_t(i)].msg_hdr = {};
                msgs[size_t(i)].msg_hdr.msg_iov = &iov[size_t(i)];
                msgs[size_t(i)].msg_hdr.msg_iovlen = 1;
            }
            int r = recvmmsg(socks_[sock], msgs.data(), kBatch, MSG_DONTWAIT, nullptr);
            if (r <= 0) return; // EAGAIN, or ECONNREFUSED from an ICMP port unreachable: nothing to count
            uint64_t now = now_ns();
            for (int i = 0; i < r; ++i)
                check_answer(sock, recv_bufs_[size_t(i)].data(), msgs[size_t(i)].msg_len, now);
            if (r < kBatch) return;
        }
    }

    void check_answer(size_t sock, const uint8_t* p, size_t len, uint64_t now) {
        if (len < 12) {
            ++stats_.short_pkt;
            return;
        }
        uint16_t id = uint16_t(p[0] << 8 | p[1]);
        Slot& s = slot(sock, id);
        if (!s.seq || !(p[2] & 0x80)) {
            ++stats_.bad_id; // unknown ID (duplicate, or arrived after we gave up: late), or not a response
            return;
        }
        const Query& q = queries_[s.query];
        size_t qlen = q.qname_end - 12u;
        // The question must come back as sent (same letter case too: RFC 1035 §7.3 / 0x20).
        if (len > kMaxAnswer) len = kMaxAnswer;
        if (len < q.qname_end || (p[4] << 8 | p[5]) != 1 || std::memcmp(p + 12, q.wire.data() + 12, qlen) != 0) {
            ++stats_.bad_question;
        }
        if (p[2] & 0x02) ++stats_.truncated;
        ++stats_.rcodes[p[3] & 0x0f];
        ++stats_.answered;
        hist_.add(now - s.sent_ns);
        s.seq = 0;
        --outstanding_;
    }

    void push_fifo(Sent e) {
        if (fifo_count_ == fifo_.size()) pop_fifo_head(true);
        fifo_[(fifo_head_ + fifo_count_) & (fifo_.size() - 1)] = e;
        ++fifo_count_;
    }

    // Drops the FIFO head; if its query is still in flight and `force`, counts it lost.
    void pop_fifo_head(bool force) {
        Sent& e = fifo_[fifo_head_];
        Slot& s = slot(e.sock, e.id);
        if (force && s.seq == e.seq) {
            s.seq = 0;
            --outstanding_;
            ++stats_.lost;
        }
        fifo_head_ = (fifo_head_ + 1) & (fifo_.size() - 1);
        --fifo_count_;
    }

    void expire(uint64_t now, uint64_t timeout) {
        while (fifo_count_) {
            Sent& e = fifo_[fifo_head_];
            Slot& s = slot(e.sock, e.id);
            if (s.seq == e.seq) {
                if (now - s.sent_ns < timeout) return; // oldest in-flight query is still within its time
                pop_fifo_head(true);
            } else {
                pop_fifo_head(false); // already answered
            }
        }
    }

    Slot& slot(size_t sock, uint16_t id) { return slots_[sock * 65536 + id]; }

    void report(double elapsed) {
        double qps = elapsed > 0 ? double(stats_.answered) / elapsed : 0;
        double p50 = hist_.quantile_us(0.50), p99 = hist_.quantile_us(0.99), p999 = hist_.quantile_us(0.999);
        double lost_pct = stats_.sent ? 100.0 * double(stats_.lost) / double(stats_.sent) : 0;
        if (o_.json) {
            std::printf("{\"tool\":\"dns_loadgen\",\"server\":\"%s\",\"port\":%d,\"seconds\":%.3f,\"mode\":\"%s\","
                        "\"target_qps\":%.0f,\"window\":%d,\"sockets\":%d,\"sent\":%" PRIu64 ",\"answered\":%" PRIu64
                        ",\"lost\":%" PRIu64 ",\"lost_pct\":%.4f,\"qps\":%.1f,\"p50_us\":%.1f,\"p99_us\":%.1f,"
                        "\"p999_us\":%.1f,\"bad_id\":%" PRIu64 ",\"bad_question\":%" PRIu64 ",\"truncated\":%" PRIu64
                        ",\"send_errors\":%" PRIu64 ",\"client_cpu_s\":%.3f,\"client_core_busy\":%.2f,"
                        "\"transport\":\"udp\",\"rcodes\":{",
                        o_.server.c_str(), o_.port, elapsed, o_.rate > 0 ? "fixed" : "saturate", o_.rate, o_.window,
                        o_.sockets, stats_.sent, stats_.answered, stats_.lost, lost_pct, qps, p50, p99, p999,
                        stats_.bad_id, stats_.bad_question, stats_.truncated, stats_.send_errors, self_cpu_s(),
                        wall_s_ > 0 ? self_cpu_s() / wall_s_ : 0);
            print_rcodes_json(stats_.rcodes);
            return;
        }
        std::printf("dns_loadgen: %s:%d  %s%s  %.2f s  window %d  sockets %d\n", o_.server.c_str(), o_.port,
                    o_.rate > 0 ? "fixed rate " : "saturating",
                    o_.rate > 0 ? std::to_string(int64_t(o_.rate)).c_str() : "", elapsed, o_.window, o_.sockets);
        std::printf("  queries sent:      %" PRIu64 "\n", stats_.sent);
        std::printf("  answers:           %" PRIu64 "\n", stats_.answered);
        std::printf("  lost:              %" PRIu64 " (%.3f%%)\n", stats_.lost, lost_pct);
        std::printf("  queries/s:         %.0f\n", qps);
        std::printf("  latency p50/p99/p99.9: %.0f / %.0f / %.0f us\n", p50, p99, p999);
        std::printf("  unknown id/late:   %" PRIu64 "   question mismatch: %" PRIu64 "   TC set: %" PRIu64
                    "   send errors: %" PRIu64 "\n",
                    stats_.bad_id, stats_.bad_question, stats_.truncated, stats_.send_errors);
        std::printf("  rcodes:");
        for (int r = 0; r < 16; ++r)
            if (stats_.rcodes[size_t(r)]) std::printf(" %s=%" PRIu64, rcode_name(r), stats_.rcodes[size_t(r)]);
        std::printf("\n");
    }

    const Options& o_;
    std::vector<Query> queries_;
    std::vector<int> socks_;
    std::vector<pollfd> pfds_;
    std::vector<Slot> slots_;
    std::vector<uint16_t> next_id_;
    std::vector<Sent> fifo_;
    size_t fifo_head_ = 0, fifo_count_ = 0;
    std::vector<std::array<uint8_t, kMaxQuery>> send_bufs_;
    std::vector<std::array<uint8_t, kMaxAnswer>> recv_bufs_;
    size_t outstanding_ = 0;
    uint32_t seq_ = 0;
    uint32_t next_query_ = 0;
    uint64_t order_seed_ = 0;
    Stats stats_;
    Histogram hist_;
    double wall_s_ = 0;
};

// ---------------------------------------------------------------------------------------------------------------
// TCP

// The server's address, and the local ones to connect from (--sources).
struct Endpoints {
    sockaddr_storage server{};
    socklen_t server_len = 0;
    std::vector<sockaddr_in> sources; // empty: let the kernel pick
};

Endpoints resolve_endpoints(const Options& o) {
    Endpoints e;
    auto* s4 = reinterpret_cast<sockaddr_in*>(&e.server);
    auto* s6 = reinterpret_cast<sockaddr_in6*>(&e.server);
    if (inet_pton(AF_INET, o.server.c_str(), &s4->sin_addr) == 1) {
        s4->sin_family = AF_INET;
        s4->sin_port = htons(uint16_t(o.port));
        e.server_len = sizeof *s4;
    } else if (inet_pton(AF_INET6, o.server.c_str(), &s6->sin6_addr) == 1) {
        s6->sin6_family = AF_INET6;
        s6->sin6_port = htons(uint16_t(o.port));
        e.server_len = sizeof *s6;
    } else {
        std::fprintf(stderr, "dns_loadgen: server '%s' is not an IP address\n", o.server.c_str());
        std::exit(2);
    }
    if (o.sources > 1) {
        if (s4->sin_family != AF_INET || (ntohl(s4->sin_addr.s_addr) >> 24) != 127) {
            std::fprintf(stderr, "dns_loadgen: --sources needs an IPv4 loopback server\n");
            std::exit(2);
        }
        for (int i = 0; i < o.sources; ++i) {
            sockaddr_in a{};
            a.sin_family = AF_INET;
            a.sin_addr.s_addr = htonl(0x7f000001u + uint32_t(i));
            e.sources.push_back(a);
        }
    }
    return e;
}

// Opens a non-blocking TCP socket and starts connecting; -1 on failure (errno set).
int tcp_connect(const Endpoints& e, size_t n) {
    int fd = socket(e.server.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) return -1;
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (!e.sources.empty()) {
        // The port is picked at connect() for the whole 4-tuple, not at bind() for the address alone.
        setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof one);
        const sockaddr_in& src = e.sources[n % e.sources.size()];
        if (bind(fd, reinterpret_cast<const sockaddr*>(&src), sizeof src) != 0) {
            int err = errno;
            close(fd);
            errno = err;
            return -1;
        }
    }
    if (connect(fd, reinterpret_cast<const sockaddr*>(&e.server), e.server_len) != 0 && errno != EINPROGRESS) {
        int err = errno;
        close(fd);
        errno = err;
        return -1;
    }
    return fd;
}

struct TcpStats {
    uint64_t opened = 0;      // connections opened
    uint64_t conn_errors = 0; // connect failed, or reset / closed by the server with queries unanswered
};

class TcpLoadGen {
  public:
    TcpLoadGen(const Options& o, std::vector<Query> qs)
        : o_(o), per_query_(o.transport == Options::Transport::tcp_per_query), queries_(std::move(qs)),
          ep_(resolve_endpoints(o)) {
        size_t n = per_query_ ? size_t(o.window) : size_t(o.sockets);
        per_conn_ = per_query_ ? 1u : uint32_t(std::max(1, (o.window + o.sockets - 1) / o.sockets));
        if (per_conn_ > kConnSlots / 2) per_conn_ = kConnSlots / 2;
        conns_.resize(n);
        for (auto& c : conns_)
            c.slots.resize(per_query_ ? 1 : kConnSlots);
        epfd_ = epoll_create1(EPOLL_CLOEXEC);
        if (epfd_ < 0) {
            std::perror("dns_loadgen: epoll_create1");
            std::exit(2);
        }
        rbuf_.resize(64 << 10);
    }

    int run() {
        const double cpu0 = self_cpu_s();
        const uint64_t start = now_ns();
        const uint64_t end = start + uint64_t(o_.seconds * 1e9);
        const uint64_t timeout = uint64_t(o_.timeout_s * 1e9);
        for (size_t i = 0; i < conns_.size(); ++i)
            open_conn(i, start);
        std::vector<epoll_event> evs(conns_.size() + 16);
        uint64_t next_check = start + 10000000ull;
        while (!g_stop) {
            uint64_t now = now_ns();
            if (now >= end) break;
            int n = epoll_wait(epfd_, evs.data(), int(evs.size()), 1);
            now = now_ns();
            for (int i = 0; i < n; ++i)
                on_event(evs[size_t(i)].data.u32, evs[size_t(i)].events, now, true);
            if (now >= next_check) {
                expire(now, timeout, true);
                next_check = now + 10000000ull;
            }
        }
        const uint64_t stop_sending = now_ns();
        sending_ = false;
        const uint64_t drain_end = stop_sending + timeout;
        while (!g_stop && in_flight() > 0) {
            uint64_t now = now_ns();
            if (now >= drain_end) break;
            int n = epoll_wait(epfd_, evs.data(), int(evs.size()), 1);
            now = now_ns();
            for (int i = 0; i < n; ++i)
                on_event(evs[size_t(i)].data.u32, evs[size_t(i)].events, now, false);
        }
        for (size_t i = 0; i < conns_.size(); ++i) {
            stats_.lost += conns_[i].inflight;
            conns_[i].inflight = 0;
            close_conn(i);
        }
        const double wall = double(now_ns() - start) / 1e9;
        report(double(stop_sending - start) / 1e9, self_cpu_s() - cpu0, wall);
        return stats_.answered > 0 ? 0 : 1;
    }

  private:
    static constexpr uint32_t kConnSlots = 1024; // IDs in flight per connection: id & (kConnSlots - 1)

    struct TcpSlot {
        uint64_t sent_ns = 0;
        uint32_t query = 0;
        uint16_t id = 0;
        bool busy = false;
    };

    struct Conn {
        int fd = -1;
        bool connected = false;
        bool answered_one = false; // per-query: its answer arrived, the close is ours
        uint16_t next_id = 0;
        uint32_t inflight = 0;
        uint64_t opened_ns = 0;
        uint64_t progress_ns = 0; // last connect, answer or open: a connection silent past the timeout is given up
        // Reading: the 2-byte length, then the message (its first kMaxAnswer bytes kept for the checks).
        uint8_t len_bytes[2] = {0, 0};
        uint32_t len_have = 0;
        uint32_t msg_len = 0, msg_got = 0;
        std::array<uint8_t, kMaxAnswer> msg{};
        // Writing: queries framed and waiting for the socket.
        std::vector<uint8_t> out;
        size_t out_off = 0;
        std::vector<TcpSlot> slots;
    };

    size_t in_flight() const {
        size_t n = 0;
        for (const auto& c : conns_)
            n += c.inflight;
        return n;
    }

    void open_conn(size_t i, uint64_t now) {
        Conn& c = conns_[i];
        c.fd = tcp_connect(ep_, opened_n_++);
        c.connected = false;
        c.answered_one = false;
        c.inflight = 0;
        c.len_have = c.msg_len = c.msg_got = 0;
        c.out.clear();
        c.out_off = 0;
        c.opened_ns = c.progress_ns = now;
        for (auto& s : c.slots)
            s.busy = false;
        if (c.fd < 0) {
            ++tcp_.conn_errors;
            return; // retried by expire()
        }
        ++tcp_.opened;
        epoll_event ev{};
        ev.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET;
        ev.data.u32 = uint32_t(i);
        epoll_ctl(epfd_, EPOLL_CTL_ADD, c.fd, &ev);
    }

    void close_conn(size_t i) {
        Conn& c = conns_[i];
        if (c.fd >= 0) close(c.fd); // also leaves the epoll set
        c.fd = -1;
        c.connected = false;
    }

    // The connection failed or was closed by the server: what it had in flight is lost; open another.
    void fail_conn(size_t i, uint64_t now, bool reopen) {
        Conn& c = conns_[i];
        if (c.inflight || !c.answered_one) ++tcp_.conn_errors;
        stats_.lost += c.inflight;
        c.inflight = 0;
        close_conn(i);
        if (reopen) open_conn(i, now);
    }

    void on_event(uint32_t i, uint32_t events, uint64_t now, bool sending) {
        Conn& c = conns_[i];
        if (c.fd < 0) return;
        if (!c.connected && (events & EPOLLOUT) && !(events & EPOLLERR)) {
            c.connected = true;
            c.progress_ns = now;
        }
        if (events & (EPOLLIN | EPOLLRDHUP | EPOLLERR | EPOLLHUP)) {
            if (!read_conn(i, now)) {
                if (per_query_ && c.answered_one && c.inflight == 0) {
                    close_conn(i);
                    if (sending) open_conn(i, now);
                } else {
                    fail_conn(i, now, sending);
                }
                return;
            }
            if (per_query_ && c.answered_one) { // our close: the one exchange this connection was for is done
                close_conn(i);
                if (sending) open_conn(i, now);
                return;
            }
        }
        if (c.connected && sending) fill(c, now);
        if (c.connected) flush(i, now);
    }

    // Reads everything available; false when the connection is finished (EOF or error).
    bool read_conn(size_t i, uint64_t now) {
        Conn& c = conns_[i];
        for (;;) {
            ssize_t r = read(c.fd, rbuf_.data(), rbuf_.size());
            if (r == 0) return false;
            if (r < 0) {
                if (errno == EAGAIN || errno == EWOULDBLOCK) return true;
                if (errno == EINTR) continue;
                return false;
            }
            const uint8_t* p = rbuf_.data();
            size_t left = size_t(r);
            while (left) {
                if (c.len_have < 2) {
                    c.len_bytes[c.len_have++] = *p++;
                    --left;
                    if (c.len_have == 2) {
                        c.msg_len = uint32_t(c.len_bytes[0] << 8 | c.len_bytes[1]);
                        c.msg_got = 0;
                        if (c.msg_len == 0) {
                            ++stats_.short_pkt;
                            c.len_have = 0;
                        }
                    }
                    continue;
                }
                size_t take = std::min<size_t>(left, c.msg_len - c.msg_got);
                if (c.msg_got < kMaxAnswer) {
                    size_t keep = std::min<size_t>(take, kMaxAnswer - c.msg_got);
                    std::memcpy(c.msg.data() + c.msg_got, p, keep);
                }
                c.msg_got += uint32_t(take);
                p += take;
                left -= take;
                if (c.msg_got == c.msg_len) {
                    check_answer(c, std::min<size_t>(c.msg_len, kMaxAnswer), now);
                    c.len_have = 0;
                }
            }
            if (size_t(r) < rbuf_.size()) return true; // edge-triggered: a short read means drained (EOF comes next)
        }
    }

    void check_answer(Conn& c, size_t len, uint64_t now) {
        const uint8_t* p = c.msg.data();
        if (len < 12) {
            ++stats_.short_pkt;
            return;
        }
        uint16_t id = uint16_t(p[0] << 8 | p[1]);
        TcpSlot& s = c.slots[id & (c.slots.size() - 1)];
        if (!s.busy || s.id != id || !(p[2] & 0x80)) {
            ++stats_.bad_id;
            return;
        }
        const Query& q = queries_[s.query];
        size_t qlen = q.qname_end - 12u;
        if (len < q.qname_end || (p[4] << 8 | p[5]) != 1 || std::memcmp(p + 12, q.wire.data() + 12, qlen) != 0) {
            ++stats_.bad_question;
        }
        if (p[2] & 0x02) ++stats_.truncated;
        ++stats_.rcodes[p[3] & 0x0f];
        ++stats_.answered;
        hist_.add(now - s.sent_ns);
        s.busy = false;
        --c.inflight;
        c.progress_ns = now;
        if (per_query_) c.answered_one = true;
    }

    uint32_t pick_query() {
        uint32_t q = next_query_;
        next_query_ = (next_query_ + 1) % uint32_t(queries_.size());
        return q;
    }

    // Frames queries until the connection has per_conn_ in flight (per-query mode: its one query, once).
    void fill(Conn& c, uint64_t now) {
        if (per_query_ && (c.answered_one || c.inflight)) return;
        while (c.inflight < per_conn_) {
            uint16_t id = c.next_id;
            TcpSlot& s = c.slots[id & (c.slots.size() - 1)];
            if (s.busy) break; // an older query holds this slot; wait for its answer
            ++c.next_id;
            uint32_t qi = pick_query();
            const Query& q = queries_[qi];
            size_t at = c.out.size();
            c.out.resize(at + 2 + q.len);
            c.out[at] = uint8_t(q.len >> 8);
            c.out[at + 1] = uint8_t(q.len);
            std::memcpy(c.out.data() + at + 2, q.wire.data(), q.len);
            c.out[at + 2] = uint8_t(id >> 8);
            c.out[at + 3] = uint8_t(id);
            s.busy = true;
            s.id = id;
            s.query = qi;
            // Per-query: the latency counts from the connect, the cost this shape is about.
            s.sent_ns = per_query_ ? c.opened_ns : now;
            ++c.inflight;
            ++stats_.sent;
        }
    }

    void flush(size_t i, uint64_t now) {
        Conn& c = conns_[i];
        while (c.out_off < c.out.size()) {
            ssize_t w = write(c.fd, c.out.data() + c.out_off, c.out.size() - c.out_off);
            if (w < 0) {
                if (errno == EAGAIN || errno == EWOULDBLOCK) return; // EPOLLOUT (edge) resumes
                if (errno == EINTR) continue;
                ++stats_.send_errors;
                fail_conn(i, now, sending_);
                return;
            }
            c.out_off += size_t(w);
        }
        c.out.clear();
        c.out_off = 0;
    }

    // Connections that made no progress within the timeout (no connect, no answer) lose what they had in flight.
    void expire(uint64_t now, uint64_t timeout, bool reopen) {
        for (size_t i = 0; i < conns_.size(); ++i) {
            Conn& c = conns_[i];
            if (c.fd < 0) {
                if (reopen && now - c.progress_ns >= 1000000ull) open_conn(i, now); // failed connect: retry soon
                continue;
            }
            bool waiting = !c.connected || c.inflight > 0;
            if (waiting && now - c.progress_ns >= timeout) fail_conn(i, now, reopen);
        }
    }

    void report(double elapsed, double cpu, double wall) {
        double qps = elapsed > 0 ? double(stats_.answered) / elapsed : 0;
        double p50 = hist_.quantile_us(0.50), p99 = hist_.quantile_us(0.99), p999 = hist_.quantile_us(0.999);
        double lost_pct = stats_.sent ? 100.0 * double(stats_.lost) / double(stats_.sent) : 0;
        const char* mode = per_query_ ? "tcp-per-query" : "tcp";
        double busy = wall > 0 ? cpu / wall : 0;
        if (o_.json) {
            std::printf(
                "{\"tool\":\"dns_loadgen\",\"server\":\"%s\",\"port\":%d,\"seconds\":%.3f,\"mode\":\"saturate\","
                "\"transport\":\"%s\",\"window\":%d,\"sockets\":%zu,\"per_connection\":%u,\"sent\":%" PRIu64
                ",\"answered\":%" PRIu64 ",\"lost\":%" PRIu64 ",\"lost_pct\":%.4f,\"qps\":%.1f,\"p50_us\":%.1f,"
                "\"p99_us\":%.1f,\"p999_us\":%.1f,\"bad_id\":%" PRIu64 ",\"bad_question\":%" PRIu64
                ",\"truncated\":%" PRIu64 ",\"send_errors\":%" PRIu64 ",\"connections\":%" PRIu64
                ",\"conn_errors\":%" PRIu64 ",\"client_cpu_s\":%.3f,\"client_core_busy\":%.2f,\"rcodes\":{",
                o_.server.c_str(), o_.port, elapsed, mode, o_.window, conns_.size(), per_conn_, stats_.sent,
                stats_.answered, stats_.lost, lost_pct, qps, p50, p99, p999, stats_.bad_id, stats_.bad_question,
                stats_.truncated, stats_.send_errors, tcp_.opened, tcp_.conn_errors, cpu, busy);
            print_rcodes_json(stats_.rcodes);
            return;
        }
        std::printf("dns_loadgen: %s:%d  %s  %.2f s  window %d  connections %zu (%u in flight each)\n",
                    o_.server.c_str(), o_.port, mode, elapsed, o_.window, conns_.size(), per_conn_);
        std::printf("  queries sent:      %" PRIu64 "\n", stats_.sent);
        std::printf("  answers:           %" PRIu64 "\n", stats_.answered);
        std::printf("  lost:              %" PRIu64 " (%.3f%%)\n", stats_.lost, lost_pct);
        std::printf("  queries/s:         %.0f\n", qps);
        std::printf("  latency p50/p99/p99.9: %.0f / %.0f / %.0f us\n", p50, p99, p999);
        std::printf("  connections opened: %" PRIu64 "   connection errors: %" PRIu64 "\n", tcp_.opened,
                    tcp_.conn_errors);
        std::printf("  unknown id/late:   %" PRIu64 "   question mismatch: %" PRIu64 "   TC set: %" PRIu64 "\n",
                    stats_.bad_id, stats_.bad_question, stats_.truncated);
        std::printf("  client CPU:        %.2f s (core busy %.2f)\n", cpu, busy);
    }

    const Options& o_;
    const bool per_query_;
    std::vector<Query> queries_;
    Endpoints ep_;
    uint32_t per_conn_ = 1;
    std::vector<Conn> conns_;
    std::vector<uint8_t> rbuf_;
    int epfd_ = -1;
    bool sending_ = true;
    uint64_t opened_n_ = 0;
    uint32_t next_query_ = 0;
    Stats stats_;
    TcpStats tcp_;
    Histogram hist_;
};

// ---------------------------------------------------------------------------------------------------------------
// AXFR: one transfer, timed. Each message's records are walked (names skipped, compression pointers included) to
// count them and find the closing SOA (RFC 5936 §2.2: the transfer ends with the zone's SOA again).

// Skips a wire name at p[off]; returns the offset past it, or 0 when malformed.
size_t skip_name(const uint8_t* p, size_t len, size_t off) {
    while (off < len) {
        uint8_t l = p[off];
        if (l == 0) return off + 1;
        if ((l & 0xc0) == 0xc0) return off + 2 <= len ? off + 2 : 0;
        if (l & 0xc0) return 0;
        off += 1 + size_t(l);
    }
    return 0;
}

int run_axfr(const Options& o) {
    const double cpu0 = self_cpu_s();
    Endpoints ep = resolve_endpoints(o);
    std::vector<uint8_t> q = {0, 2, 0, 0xab, 0x00, 0x00, 0, 1, 0, 0, 0, 0, 0, 0}; // length patched below
    {
        std::vector<uint8_t> name;
        if (const char* err = put_name(name, o.axfr_zone)) usage(err);
        q.insert(q.end(), name.begin(), name.end());
        put16(q, 252); // AXFR
        put16(q, 1);
        q[0] = uint8_t((q.size() - 2) >> 8);
        q[1] = uint8_t(q.size() - 2);
    }
    const uint64_t t0 = now_ns();
    int fd = tcp_connect(ep, 0);
    if (fd < 0) {
        std::perror("dns_loadgen: connect");
        return 1;
    }
    const uint64_t deadline_gap = uint64_t(o.timeout_s * 1e9);
    uint64_t first_ns = 0, last_progress = t0;
    uint64_t bytes = 0, messages = 0, records = 0;
    int soas = 0, rcode = 0;
    bool complete = false, malformed = false, sent = false;
    std::vector<uint8_t> buf(1 << 20);
    size_t have = 0;
    pollfd pfd{fd, POLLOUT, 0};
    while (!complete && !malformed && !g_stop) {
        int pr = poll(&pfd, 1, 100);
        uint64_t now = now_ns();
        if (pr <= 0) {
            if (now - last_progress > deadline_gap) break;
            continue;
        }
        if (!sent && (pfd.revents & POLLOUT)) {
            if (write(fd, q.data(), q.size()) != ssize_t(q.size())) break;
            sent = true;
            pfd.events = POLLIN;
            continue;
        }
        if (have == buf.size()) buf.resize(buf.size() * 2);
        ssize_t r = read(fd, buf.data() + have, buf.size() - have);
        if (r == 0 || (r < 0 && errno != EAGAIN && errno != EINTR)) break;
        if (r < 0) continue;
        if (!first_ns) first_ns = now_ns();
        last_progress = now_ns();
        bytes += uint64_t(r);
        have += size_t(r);
        size_t off = 0;
        while (have - off >= 2) {
            size_t mlen = size_t(buf[off] << 8 | buf[off + 1]);
            if (have - off < 2 + mlen) break;
            const uint8_t* m = buf.data() + off + 2;
            ++messages;
            if (mlen < 12) {
                malformed = true;
                break;
            }
            rcode = m[3] & 0x0f;
            if (rcode != 0) break;
            unsigned qd = unsigned(m[4] << 8 | m[5]), an = unsigned(m[6] << 8 | m[7]);
            size_t at = 12;
            for (unsigned i = 0; i < qd && at; ++i) {
                at = skip_name(m, mlen, at);
                if (at) at = at + 4 <= mlen ? at + 4 : 0;
            }
            for (unsigned i = 0; i < an && at; ++i) {
                at = skip_name(m, mlen, at);
                if (!at || at + 10 > mlen) {
                    at = 0;
                    break;
                }
                unsigned type = unsigned(m[at] << 8 | m[at + 1]);
                size_t rdlen = size_t(m[at + 8] << 8 | m[at + 9]);
                at += 10 + rdlen;
                if (at > mlen) {
                    at = 0;
                    break;
                }
                ++records;
                if (type == 6 && ++soas == 2) complete = true;
            }
            if (!at) malformed = true;
            off += 2 + mlen;
            if (complete || malformed) break;
        }
        if (rcode != 0) break;
        std::memmove(buf.data(), buf.data() + off, have - off);
        have -= off;
    }
    const uint64_t t1 = now_ns();
    close(fd);
    double secs = double(t1 - t0) / 1e9, cpu = self_cpu_s() - cpu0;
    if (o.json) {
        std::printf("{\"tool\":\"dns_loadgen\",\"transport\":\"axfr\",\"zone\":\"%s\",\"complete\":%s,\"rcode\":\"%s\","
                    "\"malformed\":%s,\"axfr_s\":%.3f,\"first_byte_ms\":%.2f,\"records\":%" PRIu64
                    ",\"messages\":%" PRIu64 ",\"bytes\":%" PRIu64
                    ",\"records_per_s\":%.0f,\"client_cpu_s\":%.3f,\"client_core_busy\":%.2f}\n",
                    o.axfr_zone.c_str(), complete ? "true" : "false", rcode_name(rcode), malformed ? "true" : "false",
                    secs, first_ns ? double(first_ns - t0) / 1e6 : 0.0, records, messages, bytes,
                    secs > 0 ? double(records) / secs : 0, cpu, secs > 0 ? cpu / secs : 0);
    } else {
        std::printf("dns_loadgen: AXFR %s from %s:%d: %s in %.3f s (first byte %.2f ms), %" PRIu64 " records, %" PRIu64
                    " messages, %" PRIu64 " bytes, client CPU %.2f s\n",
                    o.axfr_zone.c_str(), o.server.c_str(), o.port, complete ? "complete" : "INCOMPLETE", secs,
                    first_ns ? double(first_ns - t0) / 1e6 : 0.0, records, messages, bytes, cpu);
    }
    return complete ? 0 : 1;
}

double parse_num(const char* flag, const char* v, double lo, double hi) {
    char* end = nullptr;
    double d = std::strtod(v, &end);
    if (!v[0] || *end || d < lo || d > hi) {
        std::fprintf(stderr, "dns_loadgen: %s: '%s' is not a number in [%g, %g]\n", flag, v, lo, hi);
        std::exit(2);
    }
    return d;
}

Options parse_args(int argc, char** argv) {
    Options o;
    for (int i = 1; i < argc; ++i) {
        std::string a = argv[i];
        auto val = [&]() -> const char* {
            if (i + 1 >= argc) usage((a + " needs a value").c_str());
            return argv[++i];
        };
        if (a == "-s")
            o.server = val();
        else if (a == "-p")
            o.port = int(parse_num("-p", val(), 1, 65535));
        else if (a == "-d")
            o.query_file = val();
        else if (a == "-l")
            o.seconds = parse_num("-l", val(), 0.1, 3600);
        else if (a == "--cpu")
            o.cpu = int(parse_num("--cpu", val(), 0, 4095));
        else if (a == "--sockets")
            o.sockets = int(parse_num("--sockets", val(), 1, 256));
        else if (a == "--window")
            o.window = int(parse_num("--window", val(), 1, 1000000));
        else if (a == "-Q")
            o.rate = parse_num("-Q", val(), 1, 1e8);
        else if (a == "--timeout")
            o.timeout_s = parse_num("--timeout", val(), 0.01, 30);
        else if (a == "--edns")
            o.edns = true;
        else if (a == "--do")
            o.dnssec_ok = true;
        else if (a == "--bufsize")
            o.edns_bufsize = uint16_t(parse_num("--bufsize", val(), 512, 65535));
        else if (a == "--json")
            o.json = true;
        else if (a == "--progress")
            o.progress = true;
        else if (a == "--random")
            o.random_order = true;
        else if (a == "--tcp")
            o.transport = Options::Transport::tcp;
        else if (a == "--tcp-per-query")
            o.transport = Options::Transport::tcp_per_query;
        else if (a == "--sources")
            o.sources = int(parse_num("--sources", val(), 1, 254));
        else if (a == "--axfr") {
            o.transport = Options::Transport::axfr;
            o.axfr_zone = val();
        } else if (a == "-h" || a == "--help")
            usage(nullptr);
        else
            usage(("unknown argument " + a).c_str());
    }
    if (o.transport == Options::Transport::axfr) return o;
    if (o.query_file.empty()) usage("-d QUERYFILE is required");
    if (o.transport != Options::Transport::udp && o.rate > 0) usage("-Q is for UDP; TCP modes saturate");
    return o;
}

} // namespace

int main(int argc, char** argv) {
    Options o = parse_args(argc, argv);
    if (o.cpu >= 0) {
        cpu_set_t set;
        CPU_ZERO(&set);
        CPU_SET(o.cpu, &set);
        if (sched_setaffinity(0, sizeof set, &set) != 0) std::perror("dns_loadgen: sched_setaffinity (continuing)");
    }
    struct sigaction sa {};
    sa.sa_handler = on_signal;
    sigaction(SIGINT, &sa, nullptr);
    sigaction(SIGTERM, &sa, nullptr);
    // A server closing a connection we are still writing to must not end the run.
    signal(SIGPIPE, SIG_IGN);
    if (o.transport == Options::Transport::axfr) return run_axfr(o);
    std::vector<Query> qs = load_queries(o);
    if (o.transport != Options::Transport::udp) {
        TcpLoadGen tcp(o, std::move(qs));
        return tcp.run();
    }
    LoadGen gen(o, std::move(qs));
    return gen.run();
}
