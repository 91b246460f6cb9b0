#include "edge/http/request_fields.h"

#include "shared/http/http_tokens.h"

namespace edge {

bool is_never_forwarded_request_field(std::string_view name) {
    static constexpr std::string_view kFields[] = {"connection",
                                                   "keep-alive",
                                                   "proxy-connection",
                                                   "te",
                                                   "trailer",
                                                   "transfer-encoding",
                                                   "upgrade",
                                                   "proxy-authorization",
                                                   "proxy-authenticate",
                                                   "host",
                                                   "x-forwarded-for",
                                                   "via",
                                                   "content-length",
                                                   "expect"};
    for (std::string_view f : kFields) {
        if (shared::ascii_iequals(name, f)) return true;
    }
    return false;
}

} // namespace edge
