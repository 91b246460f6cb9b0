// CloudFront's URL-safe base64: standard base64 (RFC 4648 §4, with padding) with '+' → '-', '=' → '_' and
// '/' → '~', used for the Policy and Signature of signed URLs and cookies. Pure, any thread.
#pragma once

#include <string>
#include <string_view>

namespace edge {

std::string url_safe_base64_encode(std::string_view bytes);

// Decodes CloudFront's alphabet; the standard one ('+', '/', '=') is accepted too, since some signers send it
// percent-decoded. Padding is optional; whitespace and any other character make it fail (false, *out cleared).
bool url_safe_base64_decode(std::string_view text, std::string* out);

} // namespace edge
