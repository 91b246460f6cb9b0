// meridian-dns: the authoritative geo DNS server. Everything lives in dns/dns_app.h; the process life (CLI,
// --check, signals, admin listener) in shared/process/daemon.h.
#include "dns/dns_app.h"
#include "dns/dnssec/dnssec_cli.h"
#include "dns/explain/explain_cli.h"
#include "shared/process/daemon.h"

int main(int argc, char** argv) {
    if (int rc = 0; dns::run_dnssec_command(argc, argv, &rc)) return rc;  // keygen, ds
    if (int rc = 0; dns::run_explain_command(argc, argv, &rc)) return rc; // explain
    dns::DnsApp app;
    shared::CliSpec spec{"meridian-dns", "authoritative geo DNS server (Route53 role)", "/etc/meridian/dns.toml"};
    return shared::run_daemon(argc, argv, spec, app);
}
