#include "dns/dnssec/dnssec_cli.h"

#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "dns/dnssec/dnssec_key.h"

namespace dns {

namespace {

int usage(const char* msg) {
    if (msg) std::fprintf(stderr, "meridian-dns: %s\n", msg);
    std::fprintf(stderr,
                 "usage: meridian-dns keygen [--algorithm ecdsap256sha256|ed25519] [--dir DIR] [--ksk|--zsk] ZONE\n"
                 "       meridian-dns ds [--digest 2|4] [--ttl SECONDS] KEYFILE...\n");
    return 2;
}

int keygen(int argc, char** argv) {
    DnssecAlgorithm alg = DnssecAlgorithm::ecdsa_p256_sha256;
    std::string dir = ".", zone;
    bool want_ksk = true, want_zsk = true;
    for (int i = 2; i < argc; ++i) {
        std::string_view a = argv[i];
        if (a == "--algorithm" && i + 1 < argc) {
            if (!parse_dnssec_algorithm(argv[++i], &alg)) return usage("--algorithm: ecdsap256sha256 or ed25519");
        } else if (a == "--dir" && i + 1 < argc) {
            dir = argv[++i];
        } else if (a == "--ksk") {
            want_zsk = false;
        } else if (a == "--zsk") {
            want_ksk = false;
        } else if (a == "--help" || a == "-h") {
            usage(nullptr);
            return 0;
        } else if (!a.empty() && a[0] != '-' && zone.empty()) {
            zone = a;
        } else {
            return usage(("unexpected argument: " + std::string(a)).c_str());
        }
    }
    if (zone.empty()) return usage("keygen needs a ZONE");
    if (!want_ksk && !want_zsk) return usage("--ksk and --zsk exclude each other");
    for (bool ksk : {true, false}) {
        if ((ksk && !want_ksk) || (!ksk && !want_zsk)) continue;
        std::string err, stem;
        auto key = DnssecKey::generate(zone, alg, ksk, &err);
        if (!key || !key->write(dir, &stem, &err)) {
            std::fprintf(stderr, "meridian-dns: keygen: %s\n", err.c_str());
            return 1;
        }
        std::printf("%s %s (key tag %u): %s.key, %s.private\n", ksk ? "KSK" : "ZSK", dnssec_algorithm_name(alg),
                    static_cast<unsigned>(key->key_tag()), stem.c_str(), stem.c_str());
        if (ksk) std::printf("DS for the parent zone:\n%s\n", key->ds_text(2, 3600).c_str());
    }
    return 0;
}

int ds(int argc, char** argv) {
    int digest = 2;
    long ttl = 3600;
    std::vector<std::string> files;
    for (int i = 2; i < argc; ++i) {
        std::string_view a = argv[i];
        if (a == "--digest" && i + 1 < argc) {
            digest = std::atoi(argv[++i]);
            if (digest != 2 && digest != 4) return usage("--digest: 2 (SHA-256) or 4 (SHA-384)");
        } else if (a == "--ttl" && i + 1 < argc) {
            char* end = nullptr;
            ttl = std::strtol(argv[++i], &end, 10);
            if (!end || *end || ttl < 0 || ttl > 2147483647) return usage("--ttl: seconds");
        } else if (a == "--help" || a == "-h") {
            usage(nullptr);
            return 0;
        } else if (!a.empty() && a[0] != '-') {
            files.emplace_back(a);
        } else {
            return usage(("unexpected argument: " + std::string(a)).c_str());
        }
    }
    if (files.empty()) return usage("ds needs at least one KEYFILE");
    int rc = 0;
    for (const auto& f : files) {
        std::string err;
        auto key = DnssecKey::load(f, &err);
        if (!key) {
            std::fprintf(stderr, "meridian-dns: ds: %s\n", err.c_str());
            rc = 1;
            continue;
        }
        if (!key->ksk())
            std::fprintf(stderr, "meridian-dns: ds: note: %s is a ZSK (flags 256); the parent's DS names the KSK\n",
                         f.c_str());
        std::printf("%s\n", key->ds_text(static_cast<uint8_t>(digest), static_cast<uint32_t>(ttl)).c_str());
    }
    return rc;
}

} // namespace

bool run_dnssec_command(int argc, char** argv, int* exit_code) {
    if (argc < 2) return false;
    std::string_view cmd = argv[1];
    if (cmd == "keygen")
        *exit_code = keygen(argc, argv);
    else if (cmd == "ds")
        *exit_code = ds(argc, argv);
    else
        return false;
    return true;
}

} // namespace dns
