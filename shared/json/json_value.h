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

// `s` as a JSON string literal (quotes included; control characters, quotes and backslashes escaped).
std::string json_quote(std::string_view s);

// A JSON array of those strings: ["a", "b"].
std::string json_string_array(const std::vector<std::string>& v);

} // namespace shared
