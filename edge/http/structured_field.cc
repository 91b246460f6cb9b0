#include "edge/http/structured_field.h"

namespace edge {

namespace {

// A cursor over the value, RFC 8941 §4.2's parsing algorithm without building anything.
struct Sf {
    std::string_view s;
    size_t i = 0;

    bool end() const noexcept { return i >= s.size(); }
    char peek() const noexcept { return end() ? '\0' : s[i]; }
    void sp() noexcept {
        while (!end() && s[i] == ' ')
            i++;
    }
    void ows() noexcept {
        while (!end() && (s[i] == ' ' || s[i] == '\t'))
            i++;
    }
    static bool lcalpha(char c) noexcept { return c >= 'a' && c <= 'z'; }
    static bool digit(char c) noexcept { return c >= '0' && c <= '9'; }
    static bool alpha(char c) noexcept { return lcalpha(c) || (c >= 'A' && c <= 'Z'); }
    static bool tchar(char c) noexcept {
        return alpha(c) || digit(c) ||
               (c != '\0' && std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos);
    }

    bool key() noexcept {
        if (!(lcalpha(peek()) || peek() == '*')) return false;
        i++;
        while (!end() && (lcalpha(s[i]) || digit(s[i]) || s[i] == '_' || s[i] == '-' || s[i] == '.' || s[i] == '*'))
            i++;
        return true;
    }
    bool number() noexcept {
        if (peek() == '-') i++;
        size_t start = i, dot = 0;
        bool decimal = false;
        while (!end() && (digit(s[i]) || (s[i] == '.' && !decimal))) {
            if (s[i] == '.') {
                decimal = true;
                dot = i;
            }
            i++;
        }
        size_t n = i - start;
        if (n == 0 || !digit(s[start])) return false;
        if (!decimal) return n <= 15;
        size_t frac = i - dot - 1;
        return dot - start <= 12 && frac >= 1 && frac <= 3;
    }
    bool string() noexcept {
        i++; // the opening quote
        while (!end()) {
            char c = s[i++];
            if (c == '\\') {
                if (end() || (s[i] != '"' && s[i] != '\\')) return false;
                i++;
            } else if (c == '"') {
                return true;
            } else if (static_cast<unsigned char>(c) < 0x20 || static_cast<unsigned char>(c) > 0x7e) {
                return false;
            }
        }
        return false;
    }
    bool token() noexcept {
        i++; // ALPHA or "*", checked by the caller
        while (!end() && (tchar(s[i]) || s[i] == ':' || s[i] == '/'))
            i++;
        return true;
    }
    bool bytes() noexcept {
        i++;
        while (!end() && s[i] != ':') {
            char c = s[i++];
            if (!(alpha(c) || digit(c) || c == '+' || c == '/' || c == '=')) return false;
        }
        if (end()) return false;
        i++;
        return true;
    }
    bool bare_item() noexcept {
        char c = peek();
        if (c == '-' || digit(c)) return number();
        if (c == '"') return string();
        if (c == '*' || alpha(c)) return token();
        if (c == ':') return bytes();
        if (c == '?') {
            i++;
            if (peek() != '0' && peek() != '1') return false;
            i++;
            return true;
        }
        return false;
    }
    bool parameters() noexcept {
        while (peek() == ';') {
            i++;
            sp();
            if (!key()) return false;
            if (peek() == '=') {
                i++;
                if (!bare_item()) return false;
            }
        }
        return true;
    }
    bool item_or_inner_list() noexcept {
        if (peek() == '(') {
            i++;
            for (;;) {
                sp();
                if (peek() == ')') {
                    i++;
                    break;
                }
                if (!bare_item() || !parameters()) return false;
                if (peek() != ' ' && peek() != ')') return false;
            }
        } else if (!bare_item()) {
            return false;
        }
        return parameters();
    }
};

} // namespace

bool sf_dictionary_valid(std::string_view value) noexcept {
    Sf p{value};
    p.sp();
    if (p.end()) return true; // an empty field is an empty dictionary
    for (;;) {
        if (!p.key()) return false;
        if (p.peek() == '=') {
            p.i++;
            if (!p.item_or_inner_list()) return false;
        } else if (!p.parameters()) {
            return false;
        }
        p.ows();
        if (p.end()) return true;
        if (p.peek() != ',') return false;
        p.i++;
        p.ows();
        if (p.end()) return false; // a trailing comma
    }
}

} // namespace edge
