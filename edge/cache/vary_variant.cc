#include "edge/cache/vary_variant.h"

#include <atomic>
#include <cstdio>
#include <random>

#include "shared/http/http_tokens.h"

namespace edge {

namespace {

bool token_char(char c) noexcept {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
}

constexpr std::string_view kMarkerPrefix = "X-Meridian-Vary: ";

} // namespace

bool vary_request_fields(const HeaderField* headers, size_t count, std::string* out) {
    out->clear();
    bool ok = true;
    size_t n = 0;
    for (size_t i = 0; i < count && ok; i++) {
        if (!shared::ascii_iequals(headers[i].name, "vary")) continue;
        shared::for_each_list_item(headers[i].value, [&](std::string_view item) {
            if (!ok || item.empty()) return;
            if (item == "*") {
                ok = false;
                return;
            }
            for (char c : item)
                if (!token_char(c)) ok = false;
            if (!ok || shared::ascii_iequals(item, "accept-encoding")) return;
            std::string lower(item);
            for (char& c : lower)
                if (c >= 'A' && c <= 'Z') c = static_cast<char>(c + 32);
            // Each name once: "Vary: Foo, foo" varies on one field.
            for (size_t pos = 0; pos <= out->size();) {
                size_t end = out->find(',', pos);
                if (end == std::string::npos) end = out->size();
                if (!out->empty() && std::string_view(*out).substr(pos, end - pos) == lower) return;
                pos = end + 1;
            }
            if (++n > kMaxVaryFields) {
                ok = false;
                return;
            }
            if (!out->empty()) out->push_back(',');
            out->append(lower);
        });
    }
    if (!ok) out->clear();
    return ok;
}

void append_vary_suffix(std::span<const HeaderField> request, std::string_view fields, uint64_t generation,
                        std::string* key) {
    char gen[20];
    int len = std::snprintf(gen, sizeof gen, "\nv%llx", static_cast<unsigned long long>(generation));
    key->append(gen, static_cast<size_t>(len));
    size_t pos = 0;
    while (pos < fields.size()) {
        size_t end = fields.find(',', pos);
        if (end == std::string_view::npos) end = fields.size();
        std::string_view name = fields.substr(pos, end - pos);
        pos = end + 1;
        key->push_back('\n');
        key->append(name);
        bool found = false;
        // Several lines of one field are one value joined with "," (RFC 9110 §5.3), as the origin would read them.
        for (const HeaderField& h : request) {
            if (!shared::ascii_iequals(h.name, name)) continue;
            key->push_back(found ? ',' : ':');
            key->append(shared::trim_ows(h.value));
            found = true;
        }
        if (!found) key->push_back('!');
    }
}

Ref<CachedObject> make_vary_marker(std::string_view key, std::string_view fields, uint64_t generation, uint64_t now_ms,
                                   uint64_t lifetime_ms) {
    std::string block(kMarkerPrefix);
    char gen[20];
    int len = std::snprintf(gen, sizeof gen, "%llx", static_cast<unsigned long long>(generation));
    block.append(gen, static_cast<size_t>(len));
    block.push_back(' ');
    block.append(fields);
    block.append("\r\n");
    Freshness f;
    f.store = true;
    f.lifetime_ms = lifetime_ms;
    f.age_origin_ms = now_ms;
    f.expires_at_ms = now_ms + lifetime_ms;
    return CachedObject::create_complete(key, kVaryMarkerStatus, block, ValidatorSpans{}, f, {});
}

bool read_vary_marker(const CachedObject& o, std::string_view* fields, uint64_t* generation) noexcept {
    if (!is_vary_marker(o)) return false;
    std::string_view b = o.stored_fields();
    if (!b.starts_with(kMarkerPrefix)) return false;
    b.remove_prefix(kMarkerPrefix.size());
    size_t sp = b.find(' ');
    size_t end = b.find("\r\n");
    if (sp == std::string_view::npos || end == std::string_view::npos || sp > end) return false;
    uint64_t g = 0;
    for (char c : b.substr(0, sp)) {
        int d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
        if (d < 0) return false;
        g = (g << 4) | static_cast<uint64_t>(d);
    }
    *generation = g;
    *fields = b.substr(sp + 1, end - sp - 1);
    return true;
}

uint64_t new_vary_generation() noexcept {
    static std::atomic<uint64_t> next{[] {
        std::random_device rd;
        return (static_cast<uint64_t>(rd()) << 32) ^ rd();
    }()};
    return next.fetch_add(0x9E3779B97F4A7C15ull, std::memory_order_relaxed);
}

} // namespace edge
