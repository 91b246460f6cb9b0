#include "shared/tls/openssl_error.h"

#include <openssl/err.h>

namespace shared {

std::string openssl_reason() {
    unsigned long e = ERR_get_error();
    if (!e) return "unknown OpenSSL error";
    char buf[256];
    ERR_error_string_n(e, buf, sizeof buf);
    ERR_clear_error();
    return buf;
}

} // namespace shared
