#include "shared/net/resolver.h"

#include <ares.h>
#include <arpa/inet.h>

#include <algorithm>
#include <cstring>
#include <mutex>
#include <unordered_map>

namespace shared {

namespace {

struct Waiter {
    Resolver::RequestId id;
    uint16_t port;
    Resolver::Callback cb;
};

struct Entry {
    enum class State : uint8_t { Pending, Ready, Failed } state = State::Pending;
    int status = 0;
    std::vector<SocketAddress> addrs;  // port 0; the waiter's port is filled in on delivery
    uint64_t expires_ms = 0;
    std::vector<Waiter> waiters;
};

struct PollCtx {
    uv_poll_t poll{};
    Resolver::Impl* impl = nullptr;
    ares_socket_t sock = ARES_SOCKET_BAD;
};

std::once_flag g_ares_init_once;
int g_ares_init_status = ARES_SUCCESS;

} // namespace

const char* resolve_status_string(int status) noexcept {
    return status == 0 ? "success" : ares_strerror(status);
}

struct Resolver::Impl {
    uv_loop_t* loop = nullptr;
    ResolverOptions opts;
    ares_channel channel = nullptr;
    bool channel_ok = false;
    std::string error;
    uv_timer_t timer{};
    int open_handles = 0;
    bool destroyed = false;
    std::unordered_map<ares_socket_t, PollCtx*> polls;
    std::unordered_map<std::string, Entry> cache;
    RequestId next_id = 1;
    std::vector<Waiter>* dispatching = nullptr;  // waiters being called back right now (cancel() looks here too)

    static void on_sock_state(void* data, ares_socket_t s, int readable, int writable) noexcept;
    static void on_poll(uv_poll_t* h, int status, int events) noexcept;
    static void on_timer(uv_timer_t* t) noexcept;
    static void on_addrinfo(void* arg, int status, int timeouts, ares_addrinfo* res) noexcept;
    static void on_handle_closed(uv_handle_t* h) noexcept;
    void rearm_timer();
    void handle_closed();
    void complete(const std::string& key, int status, ares_addrinfo* res);
    void deliver(std::vector<Waiter>& waiters, const Entry& e);
};

namespace {
struct QueryCtx {
    Resolver::Impl* impl;
    std::string key;
};

std::string cache_key(std::string_view host, int family) {
    std::string k;
    k.reserve(host.size() + 2);
    k.push_back(family == AF_INET ? '4' : family == AF_INET6 ? '6' : '*');
    k.push_back('/');
    for (char c : host) k.push_back(c >= 'A' && c <= 'Z' ? char(c + 32) : c);
    return k;
}
} // namespace

void Resolver::Impl::on_sock_state(void* data, ares_socket_t s, int readable, int writable) noexcept {
    Impl* self = static_cast<Impl*>(data);
    auto it = self->polls.find(s);
    if (readable || writable) {
        PollCtx* ctx;
        if (it == self->polls.end()) {
            ctx = new PollCtx;
            ctx->impl = self;
            ctx->sock = s;
            if (uv_poll_init_socket(self->loop, &ctx->poll, s) != 0) {
                delete ctx;
                return;  // c-ares times the query out
            }
            ctx->poll.data = ctx;
            ++self->open_handles;
            self->polls.emplace(s, ctx);
        } else {
            ctx = it->second;
        }
        uv_poll_start(&ctx->poll, (readable ? UV_READABLE : 0) | (writable ? UV_WRITABLE : 0), &Impl::on_poll);
        self->rearm_timer();
    } else if (it != self->polls.end()) {
        PollCtx* ctx = it->second;
        self->polls.erase(it);
        uv_poll_stop(&ctx->poll);
        uv_close(reinterpret_cast<uv_handle_t*>(&ctx->poll), &Impl::on_handle_closed);
        if (self->polls.empty()) uv_timer_stop(&self->timer);
    }
}

void Resolver::Impl::on_poll(uv_poll_t* h, int status, int events) noexcept {
    PollCtx* ctx = static_cast<PollCtx*>(h->data);
    Impl* self = ctx->impl;
    ares_socket_t s = ctx->sock;
    if (status < 0) {
        // An error on the socket: let c-ares notice it by trying both directions.
        ares_process_fd(self->channel, s, s);
    } else {
        ares_process_fd(self->channel, (events & UV_READABLE) ? s : ARES_SOCKET_BAD,
                        (events & UV_WRITABLE) ? s : ARES_SOCKET_BAD);
    }
    self->rearm_timer();
}

void Resolver::Impl::on_timer(uv_timer_t* t) noexcept {
    Impl* self = static_cast<Impl*>(t->data);
    ares_process_fd(self->channel, ARES_SOCKET_BAD, ARES_SOCKET_BAD);
    self->rearm_timer();
}

void Resolver::Impl::rearm_timer() {
    if (destroyed || polls.empty()) {
        uv_timer_stop(&timer);
        return;
    }
    timeval tv{};
    timeval* next = ares_timeout(channel, nullptr, &tv);
    if (!next) {
        uv_timer_stop(&timer);
        return;
    }
    uint64_t ms = uint64_t(next->tv_sec) * 1000 + uint64_t(next->tv_usec) / 1000 + 1;
    uv_timer_start(&timer, &Impl::on_timer, ms, 0);
}

void Resolver::Impl::on_handle_closed(uv_handle_t* h) noexcept {
    Impl* self;
    if (h->type == UV_POLL) {
        PollCtx* ctx = static_cast<PollCtx*>(h->data);
        self = ctx->impl;
        delete ctx;
    } else {
        self = static_cast<Impl*>(h->data);
    }
    self->handle_closed();
}

void Resolver::Impl::handle_closed() {
    if (--open_handles == 0 && destroyed) delete this;
}

void Resolver::Impl::on_addrinfo(void* arg, int status, int /*timeouts*/, ares_addrinfo* res) noexcept {
    QueryCtx* q = static_cast<QueryCtx*>(arg);
    Impl* self = q->impl;
    if (status == ARES_EDESTRUCTION || self->destroyed) {
        if (res) ares_freeaddrinfo(res);
        delete q;
        return;
    }
    std::string key = std::move(q->key);
    delete q;
    self->complete(key, status, res);
    if (res) ares_freeaddrinfo(res);
}

void Resolver::Impl::complete(const std::string& key, int status, ares_addrinfo* res) {
    auto it = cache.find(key);
    if (it == cache.end()) return;  // cleared meanwhile
    Entry& e = it->second;
    e.addrs.clear();
    uint64_t ttl_ms = opts.max_ttl_ms;
    if (status == ARES_SUCCESS && res) {
        for (ares_addrinfo_node* n = res->nodes; n; n = n->ai_next) {
            auto a = SocketAddress::from_sockaddr(n->ai_addr);
            if (!a) continue;
            a->set_port(0);
            bool dup = std::any_of(e.addrs.begin(), e.addrs.end(), [&](const SocketAddress& b) {
                return b.len == a->len && std::memcmp(&b.storage, &a->storage, a->len) == 0;
            });
            if (dup) continue;
            e.addrs.push_back(*a);
            ttl_ms = std::min<uint64_t>(ttl_ms, uint64_t(n->ai_ttl < 0 ? 0 : n->ai_ttl) * 1000);
        }
        // Callers try addresses in order; IPv4 first keeps origins on dual-stack hosts predictable.
        std::stable_partition(e.addrs.begin(), e.addrs.end(),
                              [](const SocketAddress& a) { return a.family() == AF_INET; });
    }
    uint64_t now = uv_now(loop);
    if (!e.addrs.empty()) {
        e.state = Entry::State::Ready;
        e.status = 0;
        e.expires_ms = now + std::clamp<uint64_t>(ttl_ms, opts.min_ttl_ms, opts.max_ttl_ms);
    } else {
        e.state = Entry::State::Failed;
        e.status = status == ARES_SUCCESS ? ARES_ENODATA : status;
        e.expires_ms = now + opts.negative_ttl_ms;
    }
    std::vector<Waiter> waiters = std::move(e.waiters);
    e.waiters.clear();
    Entry snapshot{e.state, e.status, e.addrs, e.expires_ms, {}};
    deliver(waiters, snapshot);
}

void Resolver::Impl::deliver(std::vector<Waiter>& waiters, const Entry& e) {
    std::vector<Waiter>* outer = dispatching;
    dispatching = &waiters;
    std::vector<SocketAddress> with_port;
    for (size_t i = 0; i < waiters.size() && !destroyed; ++i) {
        if (!waiters[i].cb) continue;  // cancelled while an earlier waiter ran
        Callback cb = std::move(waiters[i].cb);
        waiters[i].cb = nullptr;
        with_port = e.addrs;
        for (auto& a : with_port) a.set_port(waiters[i].port);
        cb(e.status, with_port);
    }
    dispatching = outer;
}

Resolver::Resolver(uv_loop_t* loop, ResolverOptions opts) : impl_(new Impl) {
    impl_->loop = loop;
    impl_->opts = std::move(opts);
    uv_timer_init(loop, &impl_->timer);
    impl_->timer.data = impl_;
    impl_->open_handles = 1;
    std::call_once(g_ares_init_once, [] { g_ares_init_status = ares_library_init(ARES_LIB_INIT_ALL); });
    if (g_ares_init_status != ARES_SUCCESS) {
        impl_->error = std::string("ares_library_init: ") + ares_strerror(g_ares_init_status);
        return;
    }
    ares_options o{};
    o.sock_state_cb = &Impl::on_sock_state;
    o.sock_state_cb_data = impl_;
    o.timeout = int(impl_->opts.query_timeout_ms);
    o.tries = impl_->opts.tries;
    char lookups[] = "fb";  // hosts file first, then DNS, whatever nsswitch says
    o.lookups = lookups;
    int mask = ARES_OPT_SOCK_STATE_CB | ARES_OPT_TIMEOUTMS | ARES_OPT_TRIES | ARES_OPT_LOOKUPS;
    int rc = ares_init_options(&impl_->channel, &o, mask);
    if (rc != ARES_SUCCESS) {
        impl_->error = std::string("ares_init_options: ") + ares_strerror(rc);
        return;
    }
    if (!impl_->opts.servers.empty()) {
        rc = ares_set_servers_ports_csv(impl_->channel, impl_->opts.servers.c_str());
        if (rc != ARES_SUCCESS) {
            impl_->error = "bad resolver servers '" + impl_->opts.servers + "': " + ares_strerror(rc);
            ares_destroy(impl_->channel);
            impl_->channel = nullptr;
            return;
        }
    }
    impl_->channel_ok = true;
}

Resolver::~Resolver() {
    Impl* impl = impl_;
    impl->destroyed = true;
    impl->cache.clear();  // drops every waiter: no callback runs after destruction
    // Stop watching the sockets before c-ares closes them.
    for (auto& [s, ctx] : impl->polls) {
        uv_poll_stop(&ctx->poll);
        uv_close(reinterpret_cast<uv_handle_t*>(&ctx->poll), &Impl::on_handle_closed);
    }
    impl->polls.clear();
    if (impl->channel) ares_destroy(impl->channel);  // pending queries call back with ARES_EDESTRUCTION
    impl->channel = nullptr;
    uv_timer_stop(&impl->timer);
    uv_close(reinterpret_cast<uv_handle_t*>(&impl->timer), &Impl::on_handle_closed);
}

bool Resolver::ok() const { return impl_->channel_ok; }
const std::string& Resolver::error() const { return impl_->error; }

std::optional<SocketAddress> Resolver::parse_numeric(std::string_view host, uint16_t port) {
    if (host.size() >= 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
    if (host.empty() || host.size() >= INET6_ADDRSTRLEN) return std::nullopt;
    char buf[INET6_ADDRSTRLEN];
    std::memcpy(buf, host.data(), host.size());
    buf[host.size()] = '\0';
    SocketAddress a;
    auto* v4 = reinterpret_cast<sockaddr_in*>(&a.storage);
    if (inet_pton(AF_INET, buf, &v4->sin_addr) == 1) {
        v4->sin_family = AF_INET;
        v4->sin_port = htons(port);
        a.len = sizeof(sockaddr_in);
        return a;
    }
    auto* v6 = reinterpret_cast<sockaddr_in6*>(&a.storage);
    if (inet_pton(AF_INET6, buf, &v6->sin6_addr) == 1) {
        v6->sin6_family = AF_INET6;
        v6->sin6_port = htons(port);
        a.len = sizeof(sockaddr_in6);
        return a;
    }
    return std::nullopt;
}

Resolver::RequestId Resolver::resolve(std::string_view host, uint16_t port, int family, Callback cb) {
    if (auto a = parse_numeric(host, port)) {
        if (family != AF_UNSPEC && family != a->family()) {
            cb(ARES_ENOTFOUND, {});
        } else {
            std::vector<SocketAddress> one{*a};
            cb(0, one);
        }
        return 0;
    }
    Impl* impl = impl_;
    if (!impl->channel_ok || host.empty()) {
        cb(host.empty() ? ARES_EBADNAME : ARES_ENOTINITIALIZED, {});
        return 0;
    }
    std::string key = cache_key(host, family);
    uint64_t now = uv_now(impl->loop);
    auto it = impl->cache.find(key);
    if (it != impl->cache.end() && it->second.state != Entry::State::Pending && now >= it->second.expires_ms) {
        impl->cache.erase(it);
        it = impl->cache.end();
    }
    if (it != impl->cache.end() && it->second.state != Entry::State::Pending) {
        std::vector<Waiter> one;
        one.push_back(Waiter{0, port, std::move(cb)});
        Entry snapshot{it->second.state, it->second.status, it->second.addrs, it->second.expires_ms, {}};
        impl->deliver(one, snapshot);
        return 0;
    }
    RequestId id = impl->next_id++;
    if (it != impl->cache.end()) {  // a query for this name is already running: share it
        it->second.waiters.push_back(Waiter{id, port, std::move(cb)});
        return id;
    }
    Entry& e = impl->cache[key];
    e.waiters.push_back(Waiter{id, port, std::move(cb)});
    ares_addrinfo_hints hints{};
    hints.ai_family = family;
    hints.ai_socktype = SOCK_STREAM;
    // NOSORT: RFC 6724 sorting would open a UDP socket per address; origins do not need it.
    hints.ai_flags = ARES_AI_NOSORT;
    std::string name(host);
    auto* q = new QueryCtx{impl, key};
    ares_getaddrinfo(impl->channel, name.c_str(), nullptr, &hints, &Impl::on_addrinfo, q);
    // The socket-state callback ran before the query was queued, so only now does ares_timeout() know it.
    impl->rearm_timer();
    // The hosts file and failures complete synchronously; report 0 then, as documented.
    auto again = impl->cache.find(key);
    if (again == impl->cache.end() || again->second.state != Entry::State::Pending) return 0;
    for (const Waiter& w : again->second.waiters)
        if (w.id == id) return id;
    return 0;
}

void Resolver::cancel(RequestId id) {
    if (id == 0) return;
    Impl* impl = impl_;
    if (impl->dispatching) {
        for (Waiter& w : *impl->dispatching)
            if (w.id == id) w.cb = nullptr;
    }
    for (auto& [key, e] : impl->cache) {
        if (e.state != Entry::State::Pending) continue;
        auto& ws = e.waiters;
        auto it = std::find_if(ws.begin(), ws.end(), [id](const Waiter& w) { return w.id == id; });
        if (it != ws.end()) {
            ws.erase(it);
            return;
        }
    }
}

void Resolver::clear_cache() {
    Impl* impl = impl_;
    for (auto it = impl->cache.begin(); it != impl->cache.end();) {
        if (it->second.state == Entry::State::Pending) ++it;
        else it = impl->cache.erase(it);
    }
}

} // namespace shared
