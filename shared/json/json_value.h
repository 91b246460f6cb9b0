// A small strict JSON (RFC 8259) reader and the quoting its writers need: for operator APIs with small bodies (the
// edge's invalidation requests), not for bulk data. Depth and size are bounded by the caller's body limit and
// kMaxDepth. Pure, any thread.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace shared {

struct JsonMember;

struct JsonValue {
    enum class Type { null, boolean, number, string, array, object };
    Type type = Type::null;
    bool boolean = false;
    double number = 0;
    std::string string;
    std::vector<JsonValue> items;    // array
    std::vector<JsonMember> members; // object, in document order (duplicates refused)

    // An object's member, or nullptr.
    const JsonValue* get(std::string_view key) const;
};

// An object member. (A std::pair would need JsonValue complete where it is still being declared; libc++ and
// libstdc++ under clang refuse that.)
struct JsonMember {
    std::string key;
    JsonValue value;
};

inline constexpr int kJsonMaxDepth = 32;

// Parses one JSON value with optional whitespace around it. False with *err ("offset N: why") on anything else:
// trailing bytes, control characters in strings, bad escapes or surrogates, duplicate object keys, nesting deeper
// than kJsonMaxDepth.
bool parse_json(std::string_view text, JsonValue* out, std::string* err);

// `s` as a JSON string literal (quotes included), appended to `out`: quotes and backslashes escaped, control
// characters as \n, \r, \t, \b, \f or \u00XX (DEL too), valid UTF-8 kept as it is, and each byte that does not
// start a valid UTF-8 sequence written as U+FFFD (one per byte), so the result is always valid JSON
// whatever bytes it is given (a log line, a path). Allocates only when `out` must grow.
void append_json_string(std::string& out, std::string_view s);
// The same as a new string.
std::string json_quote(std::string_view s);

// Length (1-4) of the well-formed UTF-8 sequence starting at s[i], or 0 (RFC 3629: no overlong forms, no
// surrogates, nothing above U+10FFFF, no truncated sequence).
size_t utf8_sequence_length(std::string_view s, size_t i) noexcept;
bool valid_utf8(std::string_view s) noexcept;

// A JSON array of those strings: ["a", "b"].
std::string json_string_array(const std::vector<std::string>& v);

} // namespace shared
