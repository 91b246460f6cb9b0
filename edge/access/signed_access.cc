#include "edge/access/signed_access.h"

#include <string>

#include "edge/proxy/edge_metrics.h"
#include "shared/log/log.h"

namespace edge {

SignedDenial check_signed_access(const TrustedKeys& keys, const HttpRequest& req, std::string_view scheme,
                                 int64_t now_s, std::string_view client_ip, EdgeMetrics* metrics, unsigned shard) {
    // CloudFront: query parameters first; cookies only when the URL carries none.
    SignedParams p = signed_params_from_query(req.query);
    if (!p.any()) p = signed_params_from_cookies(req.headers);
    std::string buf;
    std::string url = viewer_url(scheme, req.host, req.path, query_without_signing_params(req.query, &buf));
    std::string detail;
    SignedDenial d = verify_signed_request(keys, p, url, now_s, client_ip, &detail);
    if (d != SignedDenial::none) {
        if (metrics) metrics->count_signed_denied(shard, static_cast<unsigned>(d));
        shared::log::debug("edge", "signed request denied",
                           {{"client", client_ip}, {"url", url}, {"reason", to_string(d)}, {"detail", detail}});
    }
    return d;
}

} // namespace edge
