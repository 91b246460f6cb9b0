// meridian-edge: the caching HTTP reverse proxy (the CloudFront role). Everything but the CLI wiring lives in
// edge_core; see edge/edge_app.h.
#include "edge/access/sign_cli.h"
#include "edge/edge_app.h"
#include "edge/invalidation/invalidate_cli.h"
#include "shared/process/daemon.h"
#include "shared/process/malloc_tunables.h"

int main(int argc, char** argv) {
    if (int rc = 0; edge::run_invalidate_command(argc, argv, &rc)) return rc; // for deploy scripts
    if (int rc = 0; edge::run_sign_command(argc, argv, &rc)) return rc;       // signed URLs and cookies
    static const shared::CliSpec spec{
        "meridian-edge",
        "caching HTTP reverse proxy in front of bucket and http origins",
        "/etc/meridian/edge.toml",
    };
    // The cache grows one heap block per object: huge pages make an empty cache's misses a third cheaper.
    shared::reexec_with_malloc_tunables(argv);
    edge::EdgeApp app;
    return shared::run_daemon(argc, argv, spec, app);
}
