#include "dns/explain/explain_cli.h"

#include <cstdio>
#include <string>
#include <string_view>

#include "dns/dns_app.h"
#include "dns/explain/answer_explainer.h"
#include "shared/config/config.h"

namespace dns {

namespace {

int usage(const std::string& msg) {
    if (!msg.empty()) std::fprintf(stderr, "meridian-dns: explain: %s\n", msg.c_str());
    std::fprintf(stderr, "usage: meridian-dns explain [--config FILE] --client IP [--ecs PREFIX/LEN] [--json] NAME "
                         "[TYPE]\n");
    return 2;
}

} // namespace

bool run_explain_command(int argc, char** argv, int* exit_code) {
    if (argc < 2 || std::string_view(argv[1]) != "explain") return false;
    std::string config = "/etc/meridian/dns.toml", client, ecs, name, type;
    bool json = false;
    for (int i = 2; i < argc; ++i) {
        std::string_view a = argv[i];
        auto value = [&](std::string* out) {
            if (i + 1 >= argc) return false;
            *out = argv[++i];
            return true;
        };
        if (a == "--config" || a == "-c") {
            if (!value(&config)) return *exit_code = usage("--config needs a FILE"), true;
        } else if (a == "--client") {
            if (!value(&client)) return *exit_code = usage("--client needs an IP address"), true;
        } else if (a == "--ecs") {
            if (!value(&ecs)) return *exit_code = usage("--ecs needs PREFIX/LEN"), true;
        } else if (a == "--json") {
            json = true;
        } else if (a == "--help" || a == "-h") {
            usage("");
            return *exit_code = 0, true;
        } else if (!a.empty() && a[0] != '-' && name.empty()) {
            name = a;
        } else if (!a.empty() && a[0] != '-' && type.empty()) {
            type = a;
        } else {
            return *exit_code = usage("unexpected argument: " + std::string(a)), true;
        }
    }
    if (client.empty()) return *exit_code = usage("--client is required (the resolver's address)"), true;
    ExplainQuery q;
    std::string err;
    if (!parse_explain_query(name, type.empty() ? "A" : type, client, ecs, &q, &err))
        return *exit_code = usage(err), true;
    DnsApp app;
    shared::ConfigDiagnostics diags;
    bool ok = app.load(config, diags) && diags.ok();
    for (const auto& e : diags.all())
        std::fprintf(stderr, "%s\n", e.to_string().c_str());
    if (!ok) {
        std::fprintf(stderr, "meridian-dns: explain: %s: %zu configuration error(s)\n", config.c_str(),
                     diags.error_count());
        return *exit_code = 1, true;
    }
    Explanation e = app.explain(q);
    std::fputs((json ? explanation_json(e) : explanation_text(e)).c_str(), stdout);
    *exit_code = 0;
    return true;
}

} // namespace dns
