// meridian-dns: the authoritative geo DNS server. Everything lives in dns/dns_app.h; the process life (CLI,
// --check, signals, admin listener) in shared/process/daemon.h.
#include "dns/dns_app.h"
#include "shared/process/daemon.h"

int main(int argc, char** argv) {
    dns::DnsApp app;
    shared::CliSpec spec{"meridian-dns", "authoritative geo DNS server (Route53 role)", "/etc/meridian/dns.toml"};
    return shared::run_daemon(argc, argv, spec, app);
}
