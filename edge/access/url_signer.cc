#include "edge/access/url_signer.h"

#include <cstdio>

#include <openssl/err.h>
#include <openssl/pem.h>

#include "edge/access/signed_policy.h"
#include "edge/access/url_safe_base64.h"

namespace edge {

PrivateKey load_private_key(const std::string& path, std::string* err) {
    FILE* f = std::fopen(path.c_str(), "rb");
    if (!f) {
        *err = "\"" + path + "\": cannot be read";
        return nullptr;
    }
    EVP_PKEY* k = PEM_read_PrivateKey(f, nullptr, nullptr, nullptr);
    std::fclose(f);
    ERR_clear_error();
    if (!k) {
        *err = "\"" + path + "\": not a PEM private key (unencrypted)";
        return nullptr;
    }
    int type = EVP_PKEY_get_base_id(k);
    if (type != EVP_PKEY_RSA && type != EVP_PKEY_EC) {
        EVP_PKEY_free(k);
        *err = "\"" + path + "\": neither an RSA nor an EC key";
        return nullptr;
    }
    return PrivateKey(k, EVP_PKEY_free);
}

std::string sign_policy(EVP_PKEY* key, std::string_view data) {
    const EVP_MD* md = EVP_PKEY_get_base_id(key) == EVP_PKEY_EC ? EVP_sha256() : EVP_sha1();
    EVP_MD_CTX* ctx = EVP_MD_CTX_new();
    std::string sig;
    size_t len = 0;
    if (ctx && EVP_DigestSignInit(ctx, nullptr, md, nullptr, key) == 1 &&
        EVP_DigestSign(ctx, nullptr, &len, reinterpret_cast<const unsigned char*>(data.data()), data.size()) == 1) {
        sig.resize(len);
        if (EVP_DigestSign(ctx, reinterpret_cast<unsigned char*>(sig.data()), &len,
                           reinterpret_cast<const unsigned char*>(data.data()), data.size()) == 1) {
            sig.resize(len);
        } else {
            sig.clear();
        }
    }
    EVP_MD_CTX_free(ctx);
    ERR_clear_error();
    return sig.empty() ? std::string() : url_safe_base64_encode(sig);
}

SignedValues sign_request(EVP_PKEY* key, std::string_view key_pair_id, std::string_view url, int64_t expires,
                          std::string_view policy_json) {
    SignedValues v;
    v.key_pair_id = key_pair_id;
    if (policy_json.empty()) {
        v.expires = std::to_string(expires);
        v.signature = sign_policy(key, canned_policy(url, expires));
    } else {
        v.policy = url_safe_base64_encode(policy_json);
        v.signature = sign_policy(key, policy_json);
    }
    return v;
}

std::string signed_url(std::string_view url, const SignedValues& v) {
    std::string s(url);
    s.push_back(url.find('?') == std::string_view::npos ? '?' : '&');
    if (v.policy.empty()) {
        s += "Expires=" + v.expires;
    } else {
        s += "Policy=" + v.policy;
    }
    s += "&Signature=" + v.signature + "&Key-Pair-Id=" + v.key_pair_id;
    return s;
}

std::vector<std::string> signed_cookies(const SignedValues& v) {
    std::vector<std::string> c;
    if (v.policy.empty()) {
        c.push_back("CloudFront-Expires=" + v.expires);
    } else {
        c.push_back("CloudFront-Policy=" + v.policy);
    }
    c.push_back("CloudFront-Signature=" + v.signature);
    c.push_back("CloudFront-Key-Pair-Id=" + v.key_pair_id);
    return c;
}

} // namespace edge
