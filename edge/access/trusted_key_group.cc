#include "edge/access/trusted_key_group.h"

#include <cstdio>
#include <cstring>
#include <set>

#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/pem.h>

#include "shared/config/config.h"

namespace edge {

namespace {

bool valid_key_pair_id(std::string_view id) {
    if (id.empty() || id.size() > 128) return false;
    for (char c : id) {
        bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_';
        if (!ok) return false;
    }
    return true;
}

} // namespace

PublicKey load_public_key(const std::string& path, std::string* err) {
    FILE* f = std::fopen(path.c_str(), "rb");
    if (!f) {
        *err = "\"" + path + "\": cannot be read";
        return nullptr;
    }
    EVP_PKEY* raw = PEM_read_PUBKEY(f, nullptr, nullptr, nullptr);
    bool private_key = false;
    if (!raw) {
        // A private key where the public one belongs: say so (and never keep signing material in the edge).
        std::rewind(f);
        char line[128];
        while (!private_key && std::fgets(line, sizeof line, f))
            private_key = std::strstr(line, "-----BEGIN") && std::strstr(line, "PRIVATE KEY-----");
    }
    std::fclose(f);
    ERR_clear_error();
    if (!raw) {
        *err = "\"" + path + "\": " +
               (private_key ? "a private key: the edge needs only the public one (openssl pkey -in KEY -pubout)"
                            : "not a PEM public key (-----BEGIN PUBLIC KEY-----)");
        return nullptr;
    }
    PublicKey key(raw, EVP_PKEY_free);
    int type = EVP_PKEY_get_base_id(raw);
    if (type == EVP_PKEY_RSA) {
        if (EVP_PKEY_get_bits(raw) < 1024) {
            *err = "\"" + path + "\": RSA key of " + std::to_string(EVP_PKEY_get_bits(raw)) +
                   " bits (at least 1024; CloudFront uses 2048)";
            return nullptr;
        }
        return key;
    }
    if (type == EVP_PKEY_EC) {
        char group[64] = {0};
        size_t len = 0;
        if (EVP_PKEY_get_utf8_string_param(raw, OSSL_PKEY_PARAM_GROUP_NAME, group, sizeof group, &len) != 1 ||
            std::string_view(group) != "prime256v1") {
            *err = "\"" + path + "\": EC key on curve \"" + std::string(group) + "\" (only P-256 / prime256v1)";
            return nullptr;
        }
        return key;
    }
    *err = "\"" + path + "\": neither an RSA nor an EC P-256 key";
    return nullptr;
}

KeyGroups parse_key_groups(shared::ConfigSection& root) {
    KeyGroups groups;
    std::set<std::string> names;
    for (shared::ConfigSection& sec : root.array_of_tables("key_group")) {
        KeyGroup g;
        g.name = sec.require_string("name");
        if (!g.name.empty() && !names.insert(g.name).second) {
            sec.error("name", "duplicate key group name \"" + g.name + "\"");
        }
        std::set<std::string> ids;
        for (shared::ConfigSection& ks : sec.array_of_tables("keys")) {
            TrustedKey k;
            k.id = ks.require_string("id");
            if (!k.id.empty() && !valid_key_pair_id(k.id)) {
                ks.error("id", "\"" + k.id + "\" is not a key pair id (letters, digits, '-' and '_')");
            } else if (!k.id.empty() && !ids.insert(k.id).second) {
                ks.error("id", "key id \"" + k.id + "\" appears twice in this group");
            }
            std::string path = ks.get_path("public_key", "");
            if (path.empty()) {
                ks.error("public_key", "required: the PEM file of the public key");
            } else {
                std::string err;
                k.key = load_public_key(path, &err);
                if (!k.key) ks.error("public_key", (k.id.empty() ? "" : "key \"" + k.id + "\": ") + err);
                k.ec = k.key && EVP_PKEY_get_base_id(k.key.get()) == EVP_PKEY_EC;
            }
            ks.finish();
            if (k.key) g.keys.push_back(std::move(k));
        }
        if (!sec.has("keys")) sec.error("keys", "required: at least one { id, public_key }");
        sec.finish();
        groups.push_back(std::move(g));
    }
    return groups;
}

std::shared_ptr<const TrustedKeys> parse_trusted_key_groups(shared::ConfigSection& sec, const KeyGroups& groups) {
    if (!sec.has("trusted_key_groups")) return nullptr;
    auto t = std::make_shared<TrustedKeys>();
    t->group_names = sec.get_string_list("trusted_key_groups", {});
    if (t->group_names.empty()) {
        sec.error("trusted_key_groups", "an empty list: no signature could ever be accepted (remove the key to make "
                                        "this behavior public)");
    }
    for (const std::string& n : t->group_names) {
        const KeyGroup* g = nullptr;
        for (const KeyGroup& kg : groups)
            if (kg.name == n) g = &kg;
        if (!g) {
            sec.error("trusted_key_groups", "no [[key_group]] named \"" + n + "\"");
            continue;
        }
        t->keys.insert(t->keys.end(), g->keys.begin(), g->keys.end());
    }
    return t;
}

} // namespace edge
