#include "edge/access/signed_policy.h"

#include <arpa/inet.h>
#include <cmath>
#include <cstring>

#include "shared/json/json_value.h"

namespace edge {

namespace {

bool parse_address(std::string_view text, IpPrefix* out) {
    char buf[INET6_ADDRSTRLEN + 1];
    if (text.empty() || text.size() >= sizeof buf) return false;
    std::memcpy(buf, text.data(), text.size());
    buf[text.size()] = '\0';
    if (inet_pton(AF_INET, buf, out->addr) == 1) {
        out->v6 = false;
        return true;
    }
    if (inet_pton(AF_INET6, buf, out->addr) == 1) {
        out->v6 = true;
        return true;
    }
    return false;
}

bool epoch_of(const shared::JsonValue* cond, std::string_view name, std::optional<int64_t>* out, std::string* why) {
    const shared::JsonValue* c = cond->get(name);
    if (!c) return true;
    const shared::JsonValue* t = c->type == shared::JsonValue::Type::object ? c->get("AWS:EpochTime") : nullptr;
    if (!t || t->type != shared::JsonValue::Type::number || t->number < 0 || t->number > 1e15 ||
        std::floor(t->number) != t->number || c->members.size() != 1) {
        *why = std::string(name) + " must be {\"AWS:EpochTime\": <Unix seconds>}";
        return false;
    }
    *out = static_cast<int64_t>(t->number);
    return true;
}

} // namespace

bool parse_ip_prefix(std::string_view text, IpPrefix* out) {
    size_t slash = text.find('/');
    if (!parse_address(text.substr(0, slash), out)) return false;
    int max = out->v6 ? 128 : 32;
    if (slash == std::string_view::npos) {
        out->bits = max;
        return true;
    }
    std::string_view b = text.substr(slash + 1);
    if (b.empty() || b.size() > 3) return false;
    int bits = 0;
    for (char c : b) {
        if (c < '0' || c > '9') return false;
        bits = bits * 10 + (c - '0');
    }
    if (bits > max) return false;
    out->bits = bits;
    for (int i = bits; i < max; ++i)
        if (out->addr[i / 8] & (0x80 >> (i % 8))) return false;
    return true;
}

bool ip_in_prefix(const IpPrefix& p, std::string_view ip) {
    IpPrefix a;
    if (!parse_address(ip, &a)) return false;
    static const uint8_t kMapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    const uint8_t* bytes = a.addr;
    if (a.v6 && !p.v6) {
        if (std::memcmp(a.addr, kMapped, 12) != 0) return false;
        bytes = a.addr + 12;
    } else if (a.v6 != p.v6) {
        return false;
    }
    for (int i = 0; i < p.bits; ++i) {
        uint8_t m = static_cast<uint8_t>(0x80 >> (i % 8));
        if ((bytes[i / 8] & m) != (p.addr[i / 8] & m)) return false;
    }
    return true;
}

bool parse_signed_policy(std::string_view json, SignedPolicy* out, std::string* why) {
    using T = shared::JsonValue::Type;
    shared::JsonValue doc;
    std::string err;
    if (!shared::parse_json(json, &doc, &err)) {
        *why = "policy is not JSON (" + err + ")";
        return false;
    }
    const shared::JsonValue* st = doc.type == T::object ? doc.get("Statement") : nullptr;
    if (!st || st->type != T::array || st->items.size() != 1 || st->items[0].type != T::object ||
        doc.members.size() != 1) {
        *why = "policy must be {\"Statement\":[ one statement ]}";
        return false;
    }
    const shared::JsonValue& s = st->items[0];
    for (const shared::JsonMember& m : s.members) {
        if (m.key != "Resource" && m.key != "Condition") {
            *why = "unknown statement key \"" + m.key + "\"";
            return false;
        }
    }
    *out = SignedPolicy();
    if (const shared::JsonValue* r = s.get("Resource")) {
        if (r->type != T::string) {
            *why = "Resource must be a string";
            return false;
        }
        out->resource = r->string;
    }
    const shared::JsonValue* cond = s.get("Condition");
    if (!cond || cond->type != T::object) {
        *why = "policy has no Condition";
        return false;
    }
    for (const shared::JsonMember& m : cond->members) {
        if (m.key != "DateLessThan" && m.key != "DateGreaterThan" && m.key != "IpAddress") {
            *why = "unknown condition \"" + m.key + "\"";
            return false;
        }
    }
    std::optional<int64_t> less;
    if (!epoch_of(cond, "DateLessThan", &less, why) || !epoch_of(cond, "DateGreaterThan", &out->date_greater_than, why))
        return false;
    if (!less) {
        *why = "policy has no DateLessThan";
        return false;
    }
    out->date_less_than = *less;
    if (const shared::JsonValue* ip = cond->get("IpAddress")) {
        const shared::JsonValue* src = ip->type == T::object ? ip->get("AWS:SourceIp") : nullptr;
        IpPrefix p;
        if (!src || src->type != T::string || ip->members.size() != 1 || !parse_ip_prefix(src->string, &p)) {
            *why = "IpAddress must be {\"AWS:SourceIp\": \"<CIDR>\"}";
            return false;
        }
        out->source_ip = p;
    }
    return true;
}

std::string canned_policy(std::string_view url, int64_t expires) {
    std::string s = "{\"Statement\":[{\"Resource\":";
    s += shared::json_quote(url);
    s += ",\"Condition\":{\"DateLessThan\":{\"AWS:EpochTime\":";
    s += std::to_string(expires);
    s += "}}}]}";
    return s;
}

bool resource_matches(std::string_view pattern, std::string_view url) {
    // Iterative glob with one backtrack point: linear-ish, never exponential.
    size_t p = 0, u = 0, star = std::string_view::npos, mark = 0;
    while (u < url.size()) {
        if (p < pattern.size() && (pattern[p] == '?' || pattern[p] == url[u])) {
            ++p;
            ++u;
        } else if (p < pattern.size() && pattern[p] == '*') {
            star = p++;
            mark = u;
        } else if (star != std::string_view::npos) {
            p = star + 1;
            u = ++mark;
        } else {
            return false;
        }
    }
    while (p < pattern.size() && pattern[p] == '*')
        ++p;
    return p == pattern.size();
}

} // namespace edge
