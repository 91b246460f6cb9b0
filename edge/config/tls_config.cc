#include "edge/config/tls_config.h"

namespace edge {
namespace {

std::string relative_to(const std::string& dir, const std::string& p) {
    if (p.empty() || p[0] == '/' || dir.empty()) return p;
    return dir + "/" + p;
}

} // namespace

void parse_tls_config(shared::ConfigSection& root, TlsConfig& out) {
    auto sec = root.table("tls");
    if (!sec) return;
    for (const std::string& s : sec->get_string_list("listen", {})) {
        std::string err;
        if (auto a = shared::parse_socket_address(s, &err))
            out.listen.push_back(*a);
        else
            sec->error("listen", "\"" + s + "\": " + err);
    }
    shared::TlsServerOptions& o = out.options;
    o.ciphers = sec->get_string("ciphers", "");
    o.ciphersuites = sec->get_string("ciphersuites", "");
    o.alpn = sec->get_string_list("alpn", {"h2", "http/1.1"});
    for (const std::string& p : o.alpn) {
        if (p != "http/1.1" && p != "h2") {
            // Only these are spoken on the connection: advertising anything else would break those clients.
            sec->error("alpn", "\"" + p + "\": only \"h2\" and \"http/1.1\" are supported");
        }
    }
    o.session_cache_size = sec->get_int("session_cache_size", o.session_cache_size, 0, 10'000'000);
    o.session_timeout_s = static_cast<long>(sec->get_duration_ms("session_timeout", 86'400'000) / 1000);
    if (o.session_timeout_s <= 0) sec->error("session_timeout", "must be at least 1s");
    out.session_ticket_rotation_ms = sec->get_duration_ms("session_ticket_rotation", out.session_ticket_rotation_ms);
    if (out.session_ticket_rotation_ms < 60'000) sec->error("session_ticket_rotation", "must be at least 1m");

    const std::string& dir = sec->config_dir();
    size_t defaults = 0;
    size_t entries = 0;
    for (shared::ConfigSection& c : sec->array_of_tables("certificate")) {
        ++entries;
        shared::TlsCertificateSpec spec;
        std::vector<std::string> certs = c.get_string_list("cert", {});
        std::vector<std::string> keys = c.get_string_list("key", {});
        if (certs.empty())
            c.error("cert", "required: a PEM certificate file (or a list, e.g. an ECDSA and an RSA one)");
        if (keys.size() != certs.size()) {
            c.error("key", "one key file per certificate file is required (" + std::to_string(certs.size()) +
                               " cert, " + std::to_string(keys.size()) + " key)");
        }
        for (size_t i = 0; i < certs.size() && i < keys.size(); ++i) {
            spec.pairs.push_back({relative_to(dir, certs[i]), relative_to(dir, keys[i])});
            c.note_file("cert", spec.pairs.back().cert_file); // read again on every reload
            c.note_file("key", spec.pairs.back().key_file);
        }
        spec.ocsp_file = c.get_path("ocsp_file", "");
        spec.is_default = c.get_bool("default", false);
        if (spec.is_default && ++defaults == 2) c.error("default", "only one certificate may be the default");
        c.finish();
        if (spec.pairs.empty() || spec.pairs.size() != certs.size() || keys.size() != certs.size()) continue;
        // Load this entry alone (with OpenSSL's default ciphers) so a bad file is reported at its own entry.
        shared::TlsServerOptions one;
        one.certificates.push_back(spec);
        one.alpn = {"http/1.1"};
        std::string err;
        auto loaded = shared::TlsServerContext::create(one, &err);
        if (!loaded) {
            c.error(err.rfind("OCSP", 0) == 0 ? "ocsp_file" : err.rfind("key", 0) == 0 ? "key" : "cert", err);
            continue;
        }
        for (const std::string& w : loaded->warnings())
            c.warning("ocsp_file", w);
        o.certificates.push_back(std::move(spec));
    }
    size_t before = sec->diagnostics().error_count();
    if (!out.listen.empty() && entries == 0) {
        sec->error("certificate", "an HTTPS listener needs at least one [[tls.certificate]]");
    }
    if (out.listen.empty() && !o.certificates.empty()) {
        sec->warning("listen", "certificates are configured but no HTTPS address: nothing is served over TLS");
    }
    if (!o.certificates.empty() && sec->diagnostics().error_count() == before) {
        // The entries load one by one: what is left to fail is a shared option.
        std::string err;
        if (!shared::TlsServerContext::create(o, &err))
            sec->error(err.rfind("ciphersuites", 0) == 0 ? "ciphersuites"
                       : err.rfind("ciphers", 0) == 0    ? "ciphers"
                                                         : "certificate",
                       err);
    }
    sec->finish();
}

} // namespace edge
