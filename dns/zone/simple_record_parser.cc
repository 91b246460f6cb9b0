#include "dns/zone/simple_record_parser.h"

#include <arpa/inet.h>

#include "dns/wire/dns_constants.h"

namespace dns {
namespace {

bool is_space(char c) { return c == ' ' || c == '\t'; }
bool is_digit(char c) { return c >= '0' && c <= '9'; }
bool is_alpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
bool label_char(char c) { return is_alpha(c) || is_digit(c) || c == '-' || c == '_' || c == '*'; }
// Characters of an unquoted token on the fast path; anything else ('(', '\\', '"', '$', control bytes, UTF-8...)
// sends the line to ldns.
bool token_char(char c) { return label_char(c) || c == '.' || c == ':' || c == '@'; }

bool iequals(std::string_view a, std::string_view b) {
    if (a.size() != b.size()) return false;
    for (size_t i = 0; i < a.size(); i++) {
        char x = a[i], y = b[i];
        if (x >= 'a' && x <= 'z') x = static_cast<char>(x - 32);
        if (y >= 'a' && y <= 'z') y = static_cast<char>(y - 32);
        if (x != y) return false;
    }
    return true;
}

enum class Tok { ok, end, bad };

// The next whitespace-separated token from line[*pos]. `end` at the end of the line or at a comment that follows
// whitespace; `bad` for any character the fast path does not take (or a ';' glued to a token).
Tok next_token(std::string_view line, size_t* pos, std::string_view* tok) {
    size_t i = *pos;
    while (i < line.size() && is_space(line[i])) i++;
    if (i == line.size() || line[i] == ';') {
        *pos = i;
        return Tok::end;
    }
    size_t start = i;
    while (i < line.size() && token_char(line[i])) i++;
    if (i < line.size() && !is_space(line[i])) return Tok::bad;
    *tok = line.substr(start, i - start);
    *pos = i;
    return Tok::ok;
}

// Nothing but whitespace and an optional comment left.
bool at_end(std::string_view line, size_t pos) {
    std::string_view t;
    return next_token(line, &pos, &t) == Tok::end;
}

// Appends the wire form of a name written as `tok` (relative names get the origin, like ldns).
bool append_name(std::string_view tok, std::string_view origin, std::string& out) {
    size_t start = out.size();
    if (tok == "@") {
        if (origin.empty()) return false;
        out.append(origin);
        return true;
    }
    if (tok == ".") {
        out.push_back('\0');
        return true;
    }
    bool absolute = tok.back() == '.';
    if (absolute) tok.remove_suffix(1);
    size_t pos = 0;
    for (;;) {
        size_t dot = tok.find('.', pos);
        size_t end = dot == std::string_view::npos ? tok.size() : dot;
        size_t len = end - pos;
        if (len == 0 || len > 63) return false;
        for (size_t i = pos; i < end; i++)
            if (!label_char(tok[i])) return false;
        out.push_back(static_cast<char>(len));
        out.append(tok.substr(pos, len));
        if (dot == std::string_view::npos) break;
        pos = dot + 1;
    }
    if (absolute) {
        out.push_back('\0');
    } else {
        if (origin.empty()) return false;
        out.append(origin);
    }
    return out.size() - start <= 255;
}

bool parse_u32(std::string_view tok, unsigned max_digits, uint32_t* out) {
    if (tok.empty() || tok.size() > max_digits) return false;
    uint32_t v = 0;
    for (char c : tok) {
        if (!is_digit(c)) return false;
        v = v * 10 + static_cast<uint32_t>(c - '0');
    }
    *out = v;
    return true;
}

uint16_t simple_type(std::string_view tok) {
    if (iequals(tok, "A")) return rrtype::A;
    if (iequals(tok, "AAAA")) return rrtype::AAAA;
    if (iequals(tok, "NS")) return rrtype::NS;
    if (iequals(tok, "CNAME")) return rrtype::CNAME;
    if (iequals(tok, "PTR")) return rrtype::PTR;
    if (iequals(tok, "MX")) return rrtype::MX;
    if (iequals(tok, "TXT")) return rrtype::TXT;
    return 0;
}

bool parse_address(std::string_view tok, int family, std::string& out) {
    char buf[64];
    if (tok.size() >= sizeof buf) return false;
    tok.copy(buf, tok.size());
    buf[tok.size()] = 0;
    unsigned char addr[16];
    if (inet_pton(family, buf, addr) != 1) return false;
    out.append(reinterpret_cast<const char*>(addr), family == AF_INET ? 4 : 16);
    return true;
}

// TXT character-strings: "quoted" without escapes, quotes, parentheses or ';' inside, or bare words.
bool parse_txt(std::string_view line, size_t pos, std::string& out) {
    size_t strings = 0;
    for (;;) {
        while (pos < line.size() && is_space(line[pos])) pos++;
        if (pos == line.size() || line[pos] == ';') break;
        size_t start, end;
        if (line[pos] == '"') {
            start = ++pos;
            while (pos < line.size() && line[pos] != '"') {
                unsigned char c = static_cast<unsigned char>(line[pos]);
                if (c < 0x20 || c > 0x7e || c == '\\' || c == '(' || c == ')' || c == ';') return false;
                pos++;
            }
            if (pos == line.size()) return false; // unterminated: ldns reports it
            end = pos++;
        } else {
            start = pos;
            while (pos < line.size() && token_char(line[pos])) pos++;
            end = pos;
            if (start == end) return false;
        }
        if (pos < line.size() && !is_space(line[pos])) return false;
        if (end - start > 255) return false;
        out.push_back(static_cast<char>(end - start));
        out.append(line.substr(start, end - start));
        strings++;
    }
    return strings > 0 && out.size() <= 65535;
}

} // namespace

bool is_blank_line(std::string_view line) { return at_end(line, 0); }

SimpleLine parse_simple_line(std::string_view line, const SimpleParseContext& ctx, SimpleRecord* out) {
    size_t pos = 0;
    std::string_view tok;
    // A line of only spaces, tabs and a comment (whatever the comment holds).
    if (at_end(line, 0)) return SimpleLine::blank;
    if (line[0] == '$') return SimpleLine::not_simple;
    out->owner.clear();
    out->rdata.clear();
    if (is_space(line[0])) {
        if (ctx.prev_owner.empty()) return SimpleLine::not_simple;
        out->owner.assign(ctx.prev_owner);
    } else {
        if (next_token(line, &pos, &tok) != Tok::ok || !append_name(tok, ctx.origin, out->owner))
            return SimpleLine::not_simple;
    }
    // [ttl] [IN] type
    bool have_ttl = false, have_class = false;
    uint16_t type = 0;
    for (int i = 0; i < 3 && type == 0; i++) {
        if (next_token(line, &pos, &tok) != Tok::ok) return SimpleLine::not_simple;
        if (!have_ttl && !have_class && is_digit(tok[0])) {
            // ldns reads TTL units ("1h") and values past 2^31 its own way: those lines go to it.
            if (!parse_u32(tok, 9, &out->ttl)) return SimpleLine::not_simple;
            have_ttl = true;
        } else if (!have_class && iequals(tok, "IN")) {
            have_class = true;
        } else if ((type = simple_type(tok)) == 0) {
            return SimpleLine::not_simple;
        }
    }
    if (type == 0) return SimpleLine::not_simple;
    out->type = type;
    if (!have_ttl) out->ttl = ctx.default_ttl ? ctx.default_ttl : 3600;

    if (type == rrtype::TXT)
        return parse_txt(line, pos, out->rdata) ? SimpleLine::record : SimpleLine::not_simple;
    if (next_token(line, &pos, &tok) != Tok::ok) return SimpleLine::not_simple;
    bool ok = false;
    switch (type) {
    case rrtype::A: ok = parse_address(tok, AF_INET, out->rdata); break;
    case rrtype::AAAA: ok = parse_address(tok, AF_INET6, out->rdata); break;
    case rrtype::NS:
    case rrtype::CNAME:
    case rrtype::PTR: ok = append_name(tok, ctx.origin, out->rdata); break;
    case rrtype::MX: {
        uint32_t pref;
        if (!parse_u32(tok, 5, &pref) || pref > 65535) return SimpleLine::not_simple;
        out->rdata.push_back(static_cast<char>(pref >> 8));
        out->rdata.push_back(static_cast<char>(pref & 0xFF));
        ok = next_token(line, &pos, &tok) == Tok::ok && append_name(tok, ctx.origin, out->rdata);
        break;
    }
    default: break;
    }
    if (!ok || !at_end(line, pos)) return SimpleLine::not_simple;
    return SimpleLine::record;
}

} // namespace dns
