#include "shared/json/json_value.h"

#include <cstdint>
#include <cstdio>
#include <cstdlib>

namespace shared {
namespace {

class Parser {
  public:
    explicit Parser(std::string_view t) : t_(t) {}

    bool document(JsonValue* out, std::string* err) {
        ws();
        if (!value(out, 0)) return fail_out(err);
        ws();
        if (p_ != t_.size()) {
            why_ = "unexpected bytes after the value";
            return fail_out(err);
        }
        return true;
    }

  private:
    bool fail_out(std::string* err) {
        if (err) *err = "offset " + std::to_string(p_) + ": " + why_;
        return false;
    }
    bool fail(const char* why) {
        why_ = why;
        return false;
    }
    void ws() {
        while (p_ < t_.size() && (t_[p_] == ' ' || t_[p_] == '\t' || t_[p_] == '\n' || t_[p_] == '\r'))
            ++p_;
    }
    bool literal(std::string_view word) {
        if (t_.substr(p_, word.size()) != word) return fail("invalid literal");
        p_ += word.size();
        return true;
    }

    bool value(JsonValue* v, int depth) {
        if (depth > kJsonMaxDepth) return fail("nested too deeply");
        if (p_ >= t_.size()) return fail("a value was expected");
        char c = t_[p_];
        switch (c) {
        case '{':
            return object(v, depth);
        case '[':
            return array(v, depth);
        case '"':
            v->type = JsonValue::Type::string;
            return string(&v->string);
        case 't':
            v->type = JsonValue::Type::boolean;
            v->boolean = true;
            return literal("true");
        case 'f':
            v->type = JsonValue::Type::boolean;
            return literal("false");
        case 'n':
            v->type = JsonValue::Type::null;
            return literal("null");
        default:
            return number(v);
        }
    }

    bool object(JsonValue* v, int depth) {
        v->type = JsonValue::Type::object;
        ++p_;
        ws();
        if (p_ < t_.size() && t_[p_] == '}') {
            ++p_;
            return true;
        }
        for (;;) {
            ws();
            if (p_ >= t_.size() || t_[p_] != '"') return fail("a member name was expected");
            std::string key;
            if (!string(&key)) return false;
            if (v->get(key)) return fail("duplicate member name");
            ws();
            if (p_ >= t_.size() || t_[p_] != ':') return fail("':' was expected");
            ++p_;
            ws();
            JsonValue member;
            if (!value(&member, depth + 1)) return false;
            v->members.push_back(JsonMember{std::move(key), std::move(member)});
            ws();
            if (p_ < t_.size() && t_[p_] == ',') {
                ++p_;
                continue;
            }
            if (p_ < t_.size() && t_[p_] == '}') {
                ++p_;
                return true;
            }
            return fail("',' or '}' was expected");
        }
    }

    bool array(JsonValue* v, int depth) {
        v->type = JsonValue::Type::array;
        ++p_;
        ws();
        if (p_ < t_.size() && t_[p_] == ']') {
            ++p_;
            return true;
        }
        for (;;) {
            ws();
            JsonValue item;
            if (!value(&item, depth + 1)) return false;
            v->items.push_back(std::move(item));
            ws();
            if (p_ < t_.size() && t_[p_] == ',') {
                ++p_;
                continue;
            }
            if (p_ < t_.size() && t_[p_] == ']') {
                ++p_;
                return true;
            }
            return fail("',' or ']' was expected");
        }
    }

    bool hex4(uint32_t* out) {
        if (p_ + 4 > t_.size()) return fail("a \\u escape needs 4 hex digits");
        uint32_t v = 0;
        for (int i = 0; i < 4; ++i) {
            char c = t_[p_++];
            v <<= 4;
            if (c >= '0' && c <= '9')
                v |= static_cast<uint32_t>(c - '0');
            else if (c >= 'a' && c <= 'f')
                v |= static_cast<uint32_t>(c - 'a' + 10);
            else if (c >= 'A' && c <= 'F')
                v |= static_cast<uint32_t>(c - 'A' + 10);
            else
                return fail("a \\u escape needs 4 hex digits");
        }
        *out = v;
        return true;
    }

    static void utf8(uint32_t cp, std::string* out) {
        if (cp < 0x80) {
            out->push_back(static_cast<char>(cp));
        } else if (cp < 0x800) {
            out->push_back(static_cast<char>(0xC0 | (cp >> 6)));
            out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
        } else if (cp < 0x10000) {
            out->push_back(static_cast<char>(0xE0 | (cp >> 12)));
            out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
            out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
        } else {
            out->push_back(static_cast<char>(0xF0 | (cp >> 18)));
            out->push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
            out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
            out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
        }
    }

    bool string(std::string* out) {
        ++p_; // the opening quote
        for (;;) {
            if (p_ >= t_.size()) return fail("unterminated string");
            unsigned char c = static_cast<unsigned char>(t_[p_++]);
            if (c == '"') return true;
            if (c < 0x20) return fail("control character in a string");
            if (c != '\\') {
                out->push_back(static_cast<char>(c));
                continue;
            }
            if (p_ >= t_.size()) return fail("unterminated string");
            char e = t_[p_++];
            switch (e) {
            case '"':
                out->push_back('"');
                break;
            case '\\':
                out->push_back('\\');
                break;
            case '/':
                out->push_back('/');
                break;
            case 'b':
                out->push_back('\b');
                break;
            case 'f':
                out->push_back('\f');
                break;
            case 'n':
                out->push_back('\n');
                break;
            case 'r':
                out->push_back('\r');
                break;
            case 't':
                out->push_back('\t');
                break;
            case 'u': {
                uint32_t cp;
                if (!hex4(&cp)) return false;
                if (cp >= 0xDC00 && cp <= 0xDFFF) return fail("unpaired low surrogate");
                if (cp >= 0xD800 && cp <= 0xDBFF) {
                    uint32_t lo;
                    if (t_.substr(p_, 2) != "\\u") return fail("unpaired high surrogate");
                    p_ += 2;
                    if (!hex4(&lo)) return false;
                    if (lo < 0xDC00 || lo > 0xDFFF) return fail("unpaired high surrogate");
                    cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
                }
                utf8(cp, out);
                break;
            }
            default:
                return fail("invalid escape");
            }
        }
    }

    bool number(JsonValue* v) {
        size_t start = p_;
        auto digits = [&] {
            size_t b = p_;
            while (p_ < t_.size() && t_[p_] >= '0' && t_[p_] <= '9')
                ++p_;
            return p_ > b;
        };
        if (p_ < t_.size() && t_[p_] == '-') ++p_;
        if (p_ < t_.size() && t_[p_] == '0') {
            ++p_;
        } else if (!digits()) {
            return fail("a value was expected");
        }
        if (p_ < t_.size() && t_[p_] == '.') {
            ++p_;
            if (!digits()) return fail("digits were expected after '.'");
        }
        if (p_ < t_.size() && (t_[p_] == 'e' || t_[p_] == 'E')) {
            ++p_;
            if (p_ < t_.size() && (t_[p_] == '+' || t_[p_] == '-')) ++p_;
            if (!digits()) return fail("digits were expected in the exponent");
        }
        std::string text(t_.substr(start, p_ - start));
        v->type = JsonValue::Type::number;
        v->number = std::strtod(text.c_str(), nullptr);
        return true;
    }

    std::string_view t_;
    size_t p_ = 0;
    const char* why_ = "";
};

} // namespace

const JsonValue* JsonValue::get(std::string_view key) const {
    for (const auto& [k, v] : members)
        if (k == key) return &v;
    return nullptr;
}

bool parse_json(std::string_view text, JsonValue* out, std::string* err) {
    *out = JsonValue();
    return Parser(text).document(out, err);
}

size_t utf8_sequence_length(std::string_view s, size_t i) noexcept {
    auto at = [&](size_t k) { return static_cast<unsigned char>(s[k]); };
    unsigned char c = at(i);
    if (c < 0x80) return 1;
    size_t n;
    unsigned char lo = 0x80, hi = 0xBF; // the range of the second byte (RFC 3629 §4)
    if (c >= 0xC2 && c <= 0xDF) {
        n = 2;
    } else if (c >= 0xE0 && c <= 0xEF) {
        n = 3;
        if (c == 0xE0) lo = 0xA0; // overlong
        if (c == 0xED) hi = 0x9F; // surrogates
    } else if (c >= 0xF0 && c <= 0xF4) {
        n = 4;
        if (c == 0xF0) lo = 0x90; // overlong
        if (c == 0xF4) hi = 0x8F; // above U+10FFFF
    } else {
        return 0; // a continuation byte, C0/C1 (overlong) or F5..FF
    }
    if (i + n > s.size() || at(i + 1) < lo || at(i + 1) > hi) return 0;
    for (size_t k = 2; k < n; ++k)
        if (at(i + k) < 0x80 || at(i + k) > 0xBF) return 0;
    return n;
}

bool valid_utf8(std::string_view s) noexcept {
    for (size_t i = 0; i < s.size();) {
        size_t n = utf8_sequence_length(s, i);
        if (n == 0) return false;
        i += n;
    }
    return true;
}

void append_json_string(std::string& out, std::string_view s) {
    static const char hex[] = "0123456789abcdef";
    out.push_back('"');
    for (size_t i = 0; i < s.size();) {
        unsigned char c = static_cast<unsigned char>(s[i]);
        if (c >= 0x80) {
            size_t n = utf8_sequence_length(s, i);
            if (n == 0) {
                out.append("\xEF\xBF\xBD"); // U+FFFD for the byte; the next one is looked at afresh
                ++i;
            } else {
                out.append(s.substr(i, n));
                i += n;
            }
            continue;
        }
        ++i;
        switch (c) {
        case '"':
            out.append("\\\"");
            break;
        case '\\':
            out.append("\\\\");
            break;
        case '\n':
            out.append("\\n");
            break;
        case '\r':
            out.append("\\r");
            break;
        case '\t':
            out.append("\\t");
            break;
        case '\b':
            out.append("\\b");
            break;
        case '\f':
            out.append("\\f");
            break;
        default:
            if (c < 0x20 || c == 0x7f) {
                const char esc[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15]};
                out.append(esc, 6);
            } else {
                out.push_back(static_cast<char>(c));
            }
        }
    }
    out.push_back('"');
}

std::string json_quote(std::string_view s) {
    std::string out;
    out.reserve(s.size() + 2);
    append_json_string(out, s);
    return out;
}

std::string json_string_array(const std::vector<std::string>& v) {
    std::string s = "[";
    for (size_t i = 0; i < v.size(); ++i) {
        if (i) s += ", ";
        s += json_quote(v[i]);
    }
    return s + "]";
}

} // namespace shared
