// Content-Type by file extension for the bucket origin (S3 sets it at upload; we derive it). Pure, any thread.
#pragma once

#include <string_view>

namespace edge {

// The media type for `path` by its extension (case-insensitive); text types carry "; charset=utf-8".
// Unknown or no extension: "application/octet-stream". The returned view is static.
std::string_view content_type_for(std::string_view path);

} // namespace edge
