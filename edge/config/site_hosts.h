// Which site a request is for: the host names of every `[[site]]` (CloudFront's alternate domain names), compiled
// at config load into sorted tables, and the request's Host (or absolute-form authority) reduced to the same form.
//
// Matching rules (CloudFront's): case-insensitive; the port and one trailing dot of the request's host are ignored;
// an exact name wins over a wildcard; "*.example.com" matches exactly one more label ("a.example.com", not
// "example.com" nor "a.b.example.com"). IPv6 literals are compared as addresses ("[::1]" == "[0::1]").
//
// Thread: built by the config parser (main thread), immutable afterwards and read by every worker. find() makes no
// heap allocation.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

namespace edge {

// The longest host name a site may list or a request may match (RFC 1035 §2.3.4: 253 characters without the
// trailing dot); an IPv6 literal with brackets is shorter.
inline constexpr size_t kMaxSiteHostBytes = 253;

// Reduces a configured host name to the form the tables hold: lower-cased, one trailing dot removed, IPv6 literals
// ("[...]") in their canonical text. Accepts LDH labels (letters, digits, '-', '_'; 1-63 characters, no '-' at either
// end), an optional "*." wildcard as the whole first label, IPv4 addresses and bracketed IPv6 addresses; no port.
// False with *err for anything else.
bool normalize_site_host(std::string_view in, std::string* out, std::string* err);

// Reduces a request's authority (Host header value or absolute-form authority, with or without port) into `buf`:
// lower-cased, port and one trailing dot removed, IPv6 literal canonical. Returns the result (a view into `buf`), or
// an empty view when it cannot name a site (empty, too long, a malformed IPv6 literal). Allocation-free.
std::string_view normalize_request_host(std::string_view authority, char (&buf)[kMaxSiteHostBytes + 3]);

class SiteHosts {
  public:
    static constexpr size_t npos = static_cast<size_t>(-1);

    // `host` as normalize_site_host() returns it. Returns false when the very same name was added before (its
    // site in *other_site).
    bool add(std::string host, size_t site, size_t* other_site);
    // The site `default_site` (npos: none) answers for every host no name matches.
    void set_default(size_t site) { default_ = site; }
    size_t default_site() const { return default_; }
    // Sorts the tables; call once after the last add().
    void seal();

    // The site for the request authority `authority` (see normalize_request_host), or the default site, or npos.
    // Allocation-free.
    size_t find(std::string_view authority) const;
    // The same for an already normalized host.
    size_t find_normalized(std::string_view host) const;

    bool empty() const { return exact_.empty() && wildcard_.empty(); }

  private:
    using Entry = std::pair<std::string, size_t>;
    static size_t lookup(const std::vector<Entry>& table, std::string_view name);
    std::vector<Entry> exact_;                      // full names
    std::vector<Entry> wildcard_;                   // "*.example.com" stored as "example.com"
    std::unordered_map<std::string, size_t> added_; // while adding: every name as given → site (dropped by seal)
    size_t default_ = npos;
};

} // namespace edge
