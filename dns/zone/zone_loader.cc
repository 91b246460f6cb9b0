#include "dns/zone/zone_loader.h"

#include <ldns/ldns.h>
#include <limits.h>
#include <stdlib.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <unordered_map>
#include <sstream>
#include <vector>

#include "dns/wire/dns_constants.h"
#include "dns/zone/simple_record_parser.h"

namespace dns {
namespace {

struct IncludeLine {
    std::string file;
    std::string origin; // "" = the current origin
    int line = 0;
};

std::string dir_of(const std::string& path) {
    auto slash = path.rfind('/');
    if (slash == std::string::npos) return ".";
    if (slash == 0) return "/";
    return path.substr(0, slash);
}

bool read_file(const std::string& path, std::string* out) {
    FILE* f = std::fopen(path.c_str(), "rb");
    if (!f) return false;
    char buf[1 << 16];
    size_t n;
    while ((n = std::fread(buf, 1, sizeof buf, f)) > 0) out->append(buf, n);
    bool ok = !std::ferror(f);
    int saved = errno;
    std::fclose(f);
    errno = saved;
    return ok;
}

// $INCLUDE directives in file order; ldns reports each one as LDNS_STATUS_SYNTAX_INCLUDE without its argument.
std::vector<IncludeLine> scan_includes(std::string_view text) {
    std::vector<IncludeLine> out;
    int line = 0;
    size_t pos = 0;
    while (pos <= text.size()) {
        size_t nl = text.find('\n', pos);
        std::string_view l = text.substr(pos, nl == std::string_view::npos ? std::string_view::npos : nl - pos);
        line++;
        if (l.size() >= 8 && strncasecmp(l.data(), "$INCLUDE", 8) == 0) {
            std::string rest(l.substr(8));
            auto semi = rest.find(';');
            if (semi != std::string::npos) rest.resize(semi);
            std::istringstream is(rest);
            IncludeLine inc;
            inc.line = line;
            is >> inc.file >> inc.origin;
            if (inc.file.size() >= 2 && inc.file.front() == '"' && inc.file.back() == '"')
                inc.file = inc.file.substr(1, inc.file.size() - 2);
            out.push_back(std::move(inc));
        }
        if (nl == std::string_view::npos) break;
        pos = nl + 1;
    }
    return out;
}

std::string rdf_wire(const ldns_rdf* rdf) {
    return std::string(reinterpret_cast<const char*>(ldns_rdf_data(rdf)), ldns_rdf_size(rdf));
}

// Walks past one uncompressed name inside rdata; returns the offset after it or 0 on error.
size_t skip_rdata_name(const uint8_t* p, size_t len, size_t pos) {
    while (pos < len) {
        uint8_t l = p[pos];
        if (l == 0) return pos + 1;
        if (l > 63) return 0;
        pos += 1 + l;
    }
    return 0;
}

std::string type_text(uint16_t type) {
    char* s = ldns_rr_type2str(static_cast<ldns_rr_type>(type));
    std::string r = s ? s : std::to_string(type);
    free(s);
    return r;
}

struct Where {
    std::string file;
    int line = 0;
};

class ZoneBuilder {
public:
    ZoneBuilder(const std::string& origin, shared::ConfigDiagnostics& diags, const ZoneLoadOptions& opts)
        : diags_(diags), opts_(opts) {
        zone_ = std::make_shared<Zone>();
        auto wire = name_from_text(origin);
        if (!wire) {
            ok_ = false;
            diags_.error_at("", 0, "zone name \"" + origin + "\" is not a valid domain name");
            return;
        }
        zone_->apex = *wire;
        zone_->apex_text = name_to_text(*wire);
    }

    bool parse_text(std::string text, const std::string& path, const std::string& root_dir, ldns_rdf* origin,
                    uint32_t ttl, unsigned depth) {
        // ldns reads the lines the fast path leaves to it through a stream over the same text.
        FILE* fp = fmemopen(text.data(), text.size(), "r");
        if (!fp) {
            error(path, 0, "cannot read zone text");
            return false;
        }
        if (depth == 0) zone_->reserve_nodes(static_cast<size_t>(std::count(text.begin(), text.end(), '\n')) / 2);
        bool r = parse_stream(fp, text, path, root_dir, origin, ttl, depth);
        fclose(fp);
        return r;
    }

    bool parse_file(const std::string& path, const std::string& root_dir, ldns_rdf* origin, uint32_t ttl,
                    unsigned depth, const std::string& from_file, int from_line) {
        std::string text;
        if (!read_file(path, &text)) {
            error(from_file.empty() ? path : from_file, from_line,
                  "cannot open zone file " + path + ": " + std::strerror(errno));
            return false;
        }
        return parse_text(std::move(text), path, root_dir, origin, ttl, depth);
    }

    ~ZoneBuilder() { ldns_buffer_free(rdata_buf_); }
    std::shared_ptr<Zone> finish(const std::string& path);
    bool ok() const { return ok_; }

private:
    bool parse_stream(FILE* fp, std::string_view text, const std::string& path, const std::string& root_dir,
                      ldns_rdf* origin_in, uint32_t ttl, unsigned depth);
    void add_rr(ldns_rr* rr, const std::string& path, int line);
    void add_record(std::string_view owner_wire, uint16_t type, uint16_t klass, uint32_t ttl, std::string_view rdata,
                    const std::string& path, int line);
    void error(const std::string& file, int line, const std::string& msg) {
        ok_ = false;
        if (++errors_ <= opts_.max_errors) diags_.error_at(file, line, msg);
    }
    void warn(const std::string& file, int line, const std::string& msg) { diags_.warning_at(file, line, msg); }

    shared::ConfigDiagnostics& diags_;
    const ZoneLoadOptions& opts_;
    std::shared_ptr<Zone> zone_;
    std::unordered_map<std::string, Where> cname_at_; // owner of each CNAME → where it was (for messages)
    ldns_buffer* rdata_buf_ = ldns_buffer_new(512);
    std::string owner_; // the current record's owner, lower-cased (reused: no allocation per record)
    std::vector<std::pair<std::string, Where>> ns_targets_;
    std::vector<std::string> dname_owners_;
    bool ok_ = true;
    unsigned errors_ = 0;
    int soa_count_ = 0;
};

bool ZoneBuilder::parse_stream(FILE* fp, std::string_view text, const std::string& path,
                               const std::string& root_dir, ldns_rdf* origin_in, uint32_t ttl, unsigned depth) {
    std::vector<IncludeLine> includes = scan_includes(text);
    size_t next_include = 0;
    ldns_rdf* origin = ldns_rdf_clone(origin_in);
    ldns_rdf* prev = nullptr;
    // The fast path's view of ldns's state: the origin and the previous owner in wire form. A record read by the
    // fast path makes ldns's `prev` stale until the next line ldns reads.
    std::string origin_wire = rdf_wire(origin), prev_wire;
    bool prev_stale = false;
    SimpleRecord rec;
    size_t pos = 0;
    int line = 0; // lines before `pos`
    while (pos < text.size() && errors_ < opts_.max_errors) {
        size_t nl = text.find('\n', pos);
        size_t next = nl == std::string_view::npos ? text.size() : nl + 1;
        std::string_view this_line = text.substr(pos, next - pos - (nl == std::string_view::npos ? 0 : 1));
        // Blank lines are skipped here, so that a record ldns reads starts on the line after `line`.
        if (is_blank_line(this_line)) {
            line++;
            pos = next;
            continue;
        }
        if (opts_.fast_path) {
            SimpleParseContext ctx{origin_wire, prev_wire, ttl};
            SimpleLine k = parse_simple_line(this_line, ctx, &rec);
            if (k != SimpleLine::not_simple) {
                line++;
                pos = next;
                if (k == SimpleLine::record) {
                    add_record(rec.owner, rec.type, rrclass::IN, rec.ttl, rec.rdata, path, line);
                    prev_wire.assign(rec.owner);
                    prev_stale = true;
                }
                continue;
            }
        }
        if (prev_stale) {
            if (prev) ldns_rdf_deep_free(prev);
            prev = ldns_dname_new_frm_data(static_cast<uint16_t>(prev_wire.size()), prev_wire.data());
            prev_stale = false;
        }
        // ldns reads one entry (several lines when in parentheses) from here.
        if (std::fseek(fp, static_cast<long>(pos), SEEK_SET) != 0) {
            error(path, line + 1, "cannot read zone text");
            break;
        }
        ldns_rr* rr = nullptr;
        int before = line;
        int ldns_line = line;
        ldns_status s = ldns_rr_new_frm_fp_l(&rr, fp, &ttl, &origin, &prev, &ldns_line);
        long after = std::ftell(fp);
        size_t end = after > static_cast<long>(pos) ? std::min(static_cast<size_t>(after), text.size()) : next;
        line = before + static_cast<int>(std::count(text.begin() + static_cast<long>(pos),
                                                    text.begin() + static_cast<long>(end), '\n'));
        pos = end;
        origin_wire = origin ? rdf_wire(origin) : std::string();
        prev_wire = prev ? rdf_wire(prev) : std::string();
        int at = before + 1; // the record's first line (ldns reports the last one it read)
        if (s == LDNS_STATUS_OK) {
            add_rr(rr, path, at);
            ldns_rr_free(rr);
            continue;
        }
        if (s == LDNS_STATUS_SYNTAX_EMPTY || s == LDNS_STATUS_SYNTAX_TTL || s == LDNS_STATUS_SYNTAX_ORIGIN) continue;
        if (s == LDNS_STATUS_SYNTAX_INCLUDE) {
            if (next_include >= includes.size()) {
                error(path, line, "$INCLUDE could not be read");
                continue;
            }
            IncludeLine inc = includes[next_include++];
            if (inc.file.empty()) {
                error(path, inc.line, "$INCLUDE needs a file name");
                continue;
            }
            if (depth >= opts_.max_include_depth) {
                error(path, inc.line, "$INCLUDE nested too deeply (limit " + std::to_string(opts_.max_include_depth) + ")");
                continue;
            }
            std::string target = inc.file[0] == '/' ? inc.file : dir_of(path) + "/" + inc.file;
            char real[PATH_MAX];
            if (!realpath(target.c_str(), real)) {
                error(path, inc.line, "$INCLUDE " + inc.file + ": " + std::strerror(errno));
                continue;
            }
            std::string r(real);
            if (r.compare(0, root_dir.size() + 1, root_dir + "/") != 0) {
                error(path, inc.line, "$INCLUDE " + inc.file + ": outside the zone's folder " + root_dir);
                continue;
            }
            ldns_rdf* inc_origin = nullptr;
            if (!inc.origin.empty()) {
                std::string o = inc.origin;
                if (o.back() != '.') {
                    char* cur = ldns_rdf2str(origin);
                    o += ".";
                    o += cur ? cur : "";
                    free(cur);
                }
                if (ldns_str2rdf_dname(&inc_origin, o.c_str()) != LDNS_STATUS_OK) {
                    error(path, inc.line, "$INCLUDE origin \"" + inc.origin + "\" is not a valid name");
                    continue;
                }
            }
            parse_file(r, root_dir, inc_origin ? inc_origin : origin, ttl, depth + 1, path, inc.line);
            if (inc_origin) ldns_rdf_deep_free(inc_origin);
            continue;
        }
        error(path, ldns_line ? ldns_line : at, ldns_get_errorstr_by_id(s));
    }
    if (origin) ldns_rdf_deep_free(origin);
    if (prev) ldns_rdf_deep_free(prev);
    return ok_;
}

void ZoneBuilder::add_rr(ldns_rr* rr, const std::string& path, int line) {
    ldns_buffer* b = rdata_buf_;
    ldns_buffer_clear(b);
    if (ldns_rr_rdata2buffer_wire(b, rr) != LDNS_STATUS_OK || ldns_buffer_position(b) > 65535) {
        error(path, line, "cannot encode the record's data");
        return;
    }
    const ldns_rdf* owner = ldns_rr_owner(rr);
    add_record(std::string_view(reinterpret_cast<const char*>(ldns_rdf_data(owner)), ldns_rdf_size(owner)),
               ldns_rr_get_type(rr), ldns_rr_get_class(rr), ldns_rr_ttl(rr),
               std::string_view(reinterpret_cast<const char*>(ldns_buffer_begin(b)), ldns_buffer_position(b)), path,
               line);
}

void ZoneBuilder::add_record(std::string_view owner_wire, uint16_t type, uint16_t klass, uint32_t ttl,
                             std::string_view rdata, const std::string& path, int line) {
    // Label length bytes are at most 63, below 'A', so lowering every byte lowers just the letters.
    owner_.assign(owner_wire);
    for (char& c : owner_)
        if (c >= 'A' && c <= 'Z') c = static_cast<char>(c + 32);
    const std::string& owner = owner_;
    if (klass != rrclass::IN) {
        error(path, line, "record " + name_to_text(owner) + " is not of class IN");
        return;
    }
    if (!is_subdomain(owner, zone_->apex)) {
        warn(path, line, "record " + name_to_text(owner) + " is outside zone " + zone_->apex_text + ", ignored");
        return;
    }
    if (type == rrtype::OPT || type == rrtype::TSIG || type == rrtype::AXFR || type == rrtype::IXFR ||
        type == rrtype::ANY || type == rrtype::MAILA || type == rrtype::MAILB) {
        error(path, line, std::string("meta type ") + type_text(type) + " cannot appear in a zone");
        return;
    }
    if (rdata.size() > 65535) {
        error(path, line, "cannot encode the record's data");
        return;
    }
    if (type == rrtype::SOA && owner != zone_->apex) {
        error(path, line, "SOA at " + name_to_text(owner) + " is not at the zone apex " + zone_->apex_text);
        return;
    }
    if (type == rrtype::SOA && ++soa_count_ > 1) {
        error(path, line, "second SOA record at the apex");
        return;
    }
    Node& node = zone_->node(owner);
    if (type == rrtype::CNAME) cname_at_.try_emplace(owner, Where{path, line});
    RRset* set = nullptr;
    for (auto& s : node.rrsets)
        if (s.type == type) set = &s;
    if (!set) {
        node.rrsets.push_back(RRset{type, ttl, 0, {}, {}, 0});
        set = &node.rrsets.back();
    } else if (set->ttl != ttl) {
        // RFC 2181 §5.2: an RRset has one TTL; keep the smallest so no copy is cached too long.
        warn(path, line, "TTL of " + name_to_text(owner) + " " + type_text(type) +
                             " differs within the RRset; using the smallest");
        set->ttl = std::min(set->ttl, ttl);
    }
    // Duplicate records collapse (RFC 2181 §5).
    bool dup = false;
    set->for_each([&](const uint8_t* p, uint16_t len) {
        if (len == rdata.size() && std::memcmp(p, rdata.data(), len) == 0) dup = true;
    });
    if (dup) return;
    if ((type == rrtype::CNAME || type == rrtype::DNAME) && set->count >= 1) {
        error(path, line, std::string("more than one ") + (type == rrtype::CNAME ? "CNAME" : "DNAME") + " at " +
                              name_to_text(owner));
        return;
    }
    set->rdata += static_cast<char>(rdata.size() >> 8);
    set->rdata += static_cast<char>(rdata.size() & 0xFF);
    set->rdata += rdata;
    set->count++;
    zone_->record_count++;
    if (type == rrtype::NS) ns_targets_.emplace_back(to_lower(rdata), Where{path, line});
}

std::shared_ptr<Zone> ZoneBuilder::finish(const std::string& path) {
    Zone& z = *zone_;
    const Node* apex_node = z.find(z.apex);
    if (!apex_node || !apex_node->find(rrtype::SOA)) {
        error(path, 0, "zone " + z.apex_text + " has no SOA record at its apex");
        return nullptr;
    }
    if (!apex_node->find(rrtype::NS)) error(path, 0, "zone " + z.apex_text + " has no NS records at its apex");
    for (Node& node : z.node_list()) {
        const std::string& name = node.name;
        if (node.find(rrtype::CNAME) && node.rrsets.size() > 1) {
            const auto& w = cname_at_[name];
            error(w.file, w.line, "CNAME and other data at " + name_to_text(name) + " (RFC 1034 §3.6.2)");
        }
        if (name != z.apex && node.find(rrtype::NS)) node.delegation = true;
        if (node.find(rrtype::DNAME)) dname_owners_.push_back(name);
    }
    // RFC 6672 §2.4: nothing may live below a DNAME; such data could never be answered.
    for (const auto& d : dname_owners_)
        for (const Node& node : z.node_list())
            if (node.name != d && is_subdomain(node.name, d))
                warn(path, 0, "record " + name_to_text(node.name) + " lies below the DNAME at " + name_to_text(d) +
                                  " and is never answered (RFC 6672 §2.4)");
    if (!ok_) return nullptr;
    // Empty non-terminals: every ancestor up to the apex exists as a node.
    // Collected first: adding nodes while iterating could move the array under the loop.
    std::vector<std::string_view> missing;
    for (const Node& node : z.node_list()) {
        size_t pos = 0;
        std::string_view n(node.name);
        while (n.size() - pos > z.apex.size()) {
            pos += 1 + static_cast<uint8_t>(n[pos]);
            std::string_view anc = n.substr(pos);
            if (anc.size() <= z.apex.size()) break;
            if (z.find(anc)) break; // its own ancestors are handled with it
            missing.push_back(anc);
        }
    }
    std::vector<std::string> add(missing.begin(), missing.end()); // the views point into the nodes
    for (auto& a : add) z.node(a);
    for (const auto& [target, where] : ns_targets_) {
        if (!is_subdomain(target, z.apex)) continue;
        const Node* t = z.find(target);
        if (!t || (!t->find(rrtype::A) && !t->find(rrtype::AAAA)))
            warn(where.file, where.line, "NS target " + name_to_text(target) + " is inside the zone but has no A/AAAA (missing glue)");
    }
    z.apex_node = z.find(z.apex);
    z.soa = z.apex_node->find(rrtype::SOA);
    z.soa->for_each([&](const uint8_t* p, uint16_t len) {
        size_t pos = skip_rdata_name(p, len, 0);
        if (pos) pos = skip_rdata_name(p, len, pos);
        if (!pos || pos + 20 > len) return;
        auto rd32 = [&](size_t o) {
            return (uint32_t(p[o]) << 24) | (uint32_t(p[o + 1]) << 16) | (uint32_t(p[o + 2]) << 8) | p[o + 3];
        };
        z.serial = rd32(pos);
        z.negative_ttl = std::min(z.soa->ttl, rd32(pos + 16));
    });
    z.file = path;
    return zone_;
}

std::string real_dir(const std::string& path) {
    char real[PATH_MAX];
    std::string d = dir_of(path);
    if (realpath(d.c_str(), real)) return real;
    return d;
}

std::shared_ptr<Zone> load(const std::string& origin, const std::string* text, const std::string& path,
                           shared::ConfigDiagnostics& diags, const ZoneLoadOptions& opts) {
    ZoneBuilder b(origin, diags, opts);
    if (!b.ok()) return nullptr;
    ldns_rdf* o = nullptr;
    std::string abs = origin.empty() || origin.back() != '.' ? origin + "." : origin;
    if (ldns_str2rdf_dname(&o, abs.c_str()) != LDNS_STATUS_OK) {
        diags.error_at(path, 0, "zone name \"" + origin + "\" is not a valid domain name");
        return nullptr;
    }
    std::string root = real_dir(path);
    if (text) b.parse_text(*text, path, root, o, opts.default_ttl, 0);
    else b.parse_file(path, root, o, opts.default_ttl, 0, "", 0);
    ldns_rdf_deep_free(o);
    if (!b.ok()) return nullptr;
    return b.finish(path);
}

} // namespace

std::shared_ptr<Zone> load_zone_file(const std::string& origin, const std::string& path,
                                     shared::ConfigDiagnostics& diags, const ZoneLoadOptions& opts) {
    return load(origin, nullptr, path, diags, opts);
}

std::shared_ptr<Zone> load_zone_text(const std::string& origin, std::string_view text, const std::string& path,
                                     shared::ConfigDiagnostics& diags, const ZoneLoadOptions& opts) {
    std::string t(text);
    return load(origin, &t, path, diags, opts);
}

} // namespace dns
