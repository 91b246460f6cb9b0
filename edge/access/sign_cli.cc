#include "edge/access/sign_cli.h"

#include <cstdio>
#include <ctime>
#include <fstream>
#include <iterator>
#include <optional>
#include <string>
#include <string_view>

#include "edge/access/signed_policy.h"
#include "edge/access/url_signer.h"
#include "shared/config/config.h"

namespace edge {
namespace {

int usage(const std::string& why) {
    std::fprintf(stderr,
                 "meridian-edge sign: %s\n"
                 "usage: meridian-edge sign --key KEY.pem --key-pair-id ID --url URL (--expires TIME | --policy FILE) "
                 "[--cookie]\n"
                 "  TIME: Unix seconds, or a duration from now like 90s, 1h, 7d\n",
                 why.c_str());
    return 2;
}

// JSON without the whitespace between tokens (strings kept intact).
std::string compact_json(std::string_view s) {
    std::string out;
    bool in_string = false, escaped = false;
    for (char c : s) {
        if (in_string) {
            out.push_back(c);
            if (escaped)
                escaped = false;
            else if (c == '\\')
                escaped = true;
            else if (c == '"')
                in_string = false;
        } else if (c == '"') {
            in_string = true;
            out.push_back(c);
        } else if (c != ' ' && c != '\t' && c != '\r' && c != '\n') {
            out.push_back(c);
        }
    }
    return out;
}

std::optional<int64_t> parse_time(std::string_view t, int64_t now) {
    if (t.empty()) return std::nullopt;
    if (t.find_first_not_of("0123456789") == std::string_view::npos) {
        if (t.size() > 15) return std::nullopt;
        return std::stoll(std::string(t));
    }
    std::optional<uint64_t> ms = shared::parse_duration_ms(t);
    if (!ms || *ms < 1000) return std::nullopt;
    return now + static_cast<int64_t>(*ms / 1000);
}

} // namespace

bool run_sign_command(int argc, char** argv, int* exit_code) {
    if (argc < 2 || std::string_view(argv[1]) != "sign") return false;
    std::string key_file, key_pair_id, url, expires, policy_file;
    bool cookie = false;
    for (int i = 2; i < argc; ++i) {
        std::string_view a = argv[i];
        auto value = [&](std::string* out) {
            if (i + 1 >= argc) return false;
            *out = argv[++i];
            return true;
        };
        bool ok = true;
        if (a == "--key")
            ok = value(&key_file);
        else if (a == "--key-pair-id")
            ok = value(&key_pair_id);
        else if (a == "--url")
            ok = value(&url);
        else if (a == "--expires")
            ok = value(&expires);
        else if (a == "--policy")
            ok = value(&policy_file);
        else if (a == "--cookie")
            cookie = true;
        else {
            *exit_code = usage("unknown argument \"" + std::string(a) + "\"");
            return true;
        }
        if (!ok) {
            *exit_code = usage(std::string(a) + " needs a value");
            return true;
        }
    }
    if (key_file.empty() || key_pair_id.empty() || url.empty()) {
        *exit_code = usage("--key, --key-pair-id and --url are required");
        return true;
    }
    if (expires.empty() == policy_file.empty()) {
        *exit_code = usage("give either --expires (canned policy) or --policy (custom policy)");
        return true;
    }
    if (url.find("://") == std::string::npos && url != "*") {
        *exit_code = usage("--url must be absolute (scheme://host/path), as the edge rebuilds it");
        return true;
    }
    int64_t exp = 0;
    std::string policy;
    if (!expires.empty()) {
        auto t = parse_time(expires, static_cast<int64_t>(std::time(nullptr)));
        if (!t) {
            *exit_code = usage("--expires \"" + expires + "\": Unix seconds or a duration like 1h");
            return true;
        }
        exp = *t;
    } else {
        std::ifstream in(policy_file, std::ios::binary);
        if (!in) {
            *exit_code = usage("--policy \"" + policy_file + "\": cannot be read");
            return true;
        }
        policy = compact_json(std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()));
        SignedPolicy parsed;
        std::string why;
        if (!parse_signed_policy(policy, &parsed, &why)) {
            *exit_code = usage("--policy \"" + policy_file + "\": " + why);
            return true;
        }
    }
    std::string err;
    PrivateKey key = load_private_key(key_file, &err);
    if (!key) {
        *exit_code = usage("--key " + err);
        return true;
    }
    SignedValues v = sign_request(key.get(), key_pair_id, url, exp, policy);
    if (v.signature.empty()) {
        *exit_code = usage("signing failed");
        return true;
    }
    if (cookie) {
        for (const std::string& c : signed_cookies(v))
            std::printf("Set-Cookie: %s; Path=/; Secure; HttpOnly\n", c.c_str());
    } else {
        std::printf("%s\n", signed_url(url, v).c_str());
    }
    *exit_code = 0;
    return true;
}

} // namespace edge
