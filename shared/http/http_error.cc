#include "shared/http/http_error.h"

namespace shared {

const char* http_error_name(HttpError e) noexcept {
    switch (e) {
    case HttpError::None: return "none";
    case HttpError::Refused: return "refused";
    case HttpError::Reset: return "reset";
    case HttpError::TimeoutConnect: return "timeout-connect";
    case HttpError::TimeoutFirstByte: return "timeout-first-byte";
    case HttpError::TimeoutIdle: return "timeout-idle";
    case HttpError::BadResponse: return "bad-response";
    case HttpError::Truncated: return "truncated";
    case HttpError::TlsError: return "tls-error";
    case HttpError::ResolveError: return "resolve-error";
    case HttpError::Internal: return "internal";
    }
    return "unknown";
}

} // namespace shared
