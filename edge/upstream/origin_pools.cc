#include "edge/upstream/origin_pools.h"

namespace edge {

OriginPools::OriginPools(uv_loop_t* loop, std::function<void(uint64_t ms)> first_byte_hook)
    : loop_(loop), first_byte_hook_(std::move(first_byte_hook)) {}

OriginPools::~OriginPools() {
    close();
}

void OriginPools::close() {
    pools_.clear();
    resolver_.reset();
}

std::unique_ptr<OriginStream> OriginPools::fetch(const OriginConfig& origin, OriginRequest req, OriginCallbacks cb) {
    return pool_for(origin)->fetch(std::move(req), std::move(cb));
}

OriginPool* OriginPools::pool_for(const OriginConfig& o) {
    // Per site too: two sites' origins of the same name and address never share connections.
    std::string id = o.site_name + "|" + o.name + "|" + o.address + "|" + std::to_string(o.connect_timeout_ms) + "|" +
                     std::to_string(o.first_byte_timeout_ms) + "|" + std::to_string(o.idle_timeout_ms);
    // A reload builds new TLS contexts (maybe a new CA file or server name): pools of the old one are not reused.
    if (o.tls) {
        id += "|tls|" + std::to_string(reinterpret_cast<uintptr_t>(o.tls_context.get())) + "|" + o.tls_server_name;
    }
    auto it = pools_.find(id);
    if (it != pools_.end()) return it->second.get();
    if (!resolver_) resolver_ = std::make_unique<shared::Resolver>(loop_);
    OriginSettings s;
    s.host = o.host;
    s.port = o.port;
    s.tls = o.tls;
    s.tls_context = o.tls_context;
    s.tls_server_name = o.tls_server_name;
    s.connect_timeout_ms = static_cast<uint32_t>(o.connect_timeout_ms);
    s.first_byte_timeout_ms = static_cast<uint32_t>(o.first_byte_timeout_ms);
    s.idle_timeout_ms = static_cast<uint32_t>(o.idle_timeout_ms);
    s.max_idle_connections = o.max_idle_connections;
    auto pool = std::make_unique<OriginPool>(loop_, resolver_.get(), std::move(s));
    if (first_byte_hook_) pool->set_first_byte_hook(first_byte_hook_);
    OriginPool* p = pool.get();
    pools_.emplace(std::move(id), std::move(pool));
    return p;
}

} // namespace edge
