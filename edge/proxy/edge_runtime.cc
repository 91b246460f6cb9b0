#include "edge/proxy/edge_runtime.h"

namespace edge {

std::shared_ptr<const EdgeRuntime> EdgeRuntime::build(EdgeConfig config, std::string* err) {
    auto rt = std::make_shared<EdgeRuntime>();
    rt->buckets.resize(config.origins.size());
    for (size_t i = 0; i < config.origins.size(); ++i) {
        const OriginConfig& o = config.origins[i];
        if (o.type != OriginType::bucket) continue;
        std::string e;
        rt->buckets[i] = BucketOrigin::open(o.path, o.index_document, o.error_document, &e);
        if (!rt->buckets[i]) {
            *err = (o.site_name.empty() ? "origin " : "site " + o.site_name + ", origin ") + o.name + ": " + e;
            return nullptr;
        }
    }
    rt->via = "1.1 " + config.server_name;
    rt->config = std::move(config);
    return rt;
}

} // namespace edge
