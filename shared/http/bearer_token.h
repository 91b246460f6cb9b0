// Bearer tokens of the admin listener: read from a file named in the config (kept out of the config itself, so the
// config can be shared or committed), and compared in constant time. Both the edge's invalidation API
// ([invalidation] token_file) and the read-only admin pages of both daemons (admin.token_file) use them.
#pragma once

#include <string>
#include <string_view>

namespace shared {

class ConfigSection;

// Reads `key` of `sec` as a path to a token file: "" when the key is absent or empty; otherwise the file's content
// without trailing white space, which must be one line of at least 16 characters (an error naming the key and file
// goes to the section's diagnostics, and "" is returned).
std::string read_token_file(ConfigSection& sec, std::string_view key);

// Compares without an early exit, so the time taken says nothing about where a wrong token differs.
bool same_secret(std::string_view a, std::string_view b) noexcept;

enum class BearerCheck { ok, missing, wrong };

// Checks an Authorization header against `token`: "Bearer <token>", or "Basic base64(<any user>:<token>)" so a
// browser's own login prompt can open a protected page (it sends the same header with every later fetch).
BearerCheck check_bearer(std::string_view authorization, std::string_view token);

} // namespace shared
