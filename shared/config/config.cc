// Config access over toml++. toml++ is compiled with exceptions here; they never leave this file.
#include "shared/config/config.h"

#include <toml++/toml.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <limits>

namespace shared {

struct ConfigContext {
    std::string file;
    std::string dir;
    ConfigDiagnostics* diags = nullptr;
    toml::table doc;
};

std::string ConfigError::to_string() const {
    std::string s;
    if (warning) s += "warning: ";
    s += file;
    if (line > 0) {
        s += ":" + std::to_string(line);
        if (column > 0) s += ":" + std::to_string(column);
    }
    s += ": ";
    if (!key.empty()) s += key + ": ";
    s += message;
    return s;
}

void ConfigDiagnostics::error(ConfigError e) {
    e.warning = false;
    items_.push_back(std::move(e));
    ++errors_;
}

void ConfigDiagnostics::warning(ConfigError e) {
    e.warning = true;
    items_.push_back(std::move(e));
}

void ConfigDiagnostics::error_at(std::string file, int line, std::string message) {
    error(ConfigError{std::move(file), line, 0, "", std::move(message), false});
}

void ConfigDiagnostics::warning_at(std::string file, int line, std::string message) {
    warning(ConfigError{std::move(file), line, 0, "", std::move(message), true});
}

std::string ConfigDiagnostics::to_string() const {
    std::string s;
    for (const auto& e : items_) s += e.to_string() + "\n";
    return s;
}

namespace {

std::string_view trim(std::string_view s) {
    while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
    while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
    return s;
}

const char* type_name(const toml::node& n) {
    switch (n.type()) {
    case toml::node_type::table: return "a table";
    case toml::node_type::array: return "an array";
    case toml::node_type::string: return "a string";
    case toml::node_type::integer: return "an integer";
    case toml::node_type::floating_point: return "a number";
    case toml::node_type::boolean: return "a boolean";
    case toml::node_type::date: return "a date";
    case toml::node_type::time: return "a time";
    case toml::node_type::date_time: return "a date-time";
    default: return "nothing";
    }
}

std::string quote(std::string_view s) { return "\"" + std::string(s) + "\""; }

std::string describe(const toml::node& n) {
    if (auto s = n.as_string()) return quote(s->get());
    if (auto i = n.as_integer()) return std::to_string(i->get());
    if (auto b = n.as_boolean()) return b->get() ? "true" : "false";
    if (auto f = n.as_floating_point()) return std::to_string(f->get());
    return type_name(n);
}

} // namespace

std::optional<uint64_t> parse_size(std::string_view s) {
    s = trim(s);
    if (s.empty()) return std::nullopt;
    size_t i = 0;
    uint64_t whole = 0;
    bool digits = false;
    while (i < s.size() && std::isdigit(static_cast<unsigned char>(s[i]))) {
        if (whole > (std::numeric_limits<uint64_t>::max() - 9) / 10) return std::nullopt;
        whole = whole * 10 + static_cast<uint64_t>(s[i] - '0');
        ++i;
        digits = true;
    }
    double frac = 0;
    if (i < s.size() && s[i] == '.') {
        ++i;
        double scale = 0.1;
        bool fdigits = false;
        while (i < s.size() && std::isdigit(static_cast<unsigned char>(s[i]))) {
            frac += (s[i] - '0') * scale;
            scale /= 10;
            ++i;
            fdigits = true;
        }
        if (!fdigits) return std::nullopt;
    }
    if (!digits) return std::nullopt;
    std::string_view unit = trim(s.substr(i));
    struct U {
        const char* name;
        uint64_t mult;
    };
    static const U units[] = {{"", 1},
                              {"B", 1},
                              {"K", 1ull << 10},
                              {"KiB", 1ull << 10},
                              {"KB", 1000ull},
                              {"M", 1ull << 20},
                              {"MiB", 1ull << 20},
                              {"MB", 1000000ull},
                              {"G", 1ull << 30},
                              {"GiB", 1ull << 30},
                              {"GB", 1000000000ull},
                              {"TiB", 1ull << 40},
                              {"TB", 1000000000000ull}};
    for (const auto& u : units) {
        if (unit == u.name) {
            if (u.mult == 1 && frac != 0) return std::nullopt; // fractional bytes
            if (whole > std::numeric_limits<uint64_t>::max() / u.mult) return std::nullopt;
            double total = static_cast<double>(whole) * static_cast<double>(u.mult) + frac * static_cast<double>(u.mult);
            if (total >= 1.8e19) return std::nullopt;
            return whole * u.mult + static_cast<uint64_t>(std::llround(frac * static_cast<double>(u.mult)));
        }
    }
    return std::nullopt;
}

std::optional<uint64_t> parse_duration_ms(std::string_view s) {
    s = trim(s);
    if (s.empty()) return std::nullopt;
    uint64_t total = 0;
    size_t i = 0;
    while (i < s.size()) {
        uint64_t n = 0;
        bool digits = false;
        while (i < s.size() && std::isdigit(static_cast<unsigned char>(s[i]))) {
            if (n > 1000000000000ull) return std::nullopt;
            n = n * 10 + static_cast<uint64_t>(s[i] - '0');
            ++i;
            digits = true;
        }
        if (!digits) return std::nullopt;
        size_t u0 = i;
        while (i < s.size() && std::isalpha(static_cast<unsigned char>(s[i]))) ++i;
        std::string_view unit = s.substr(u0, i - u0);
        uint64_t mult;
        if (unit == "ms")
            mult = 1;
        else if (unit == "s")
            mult = 1000;
        else if (unit == "m")
            mult = 60000;
        else if (unit == "h")
            mult = 3600000;
        else if (unit == "d")
            mult = 86400000;
        else
            return std::nullopt;
        total += n * mult;
        if (total > (1ull << 53)) return std::nullopt;
    }
    return total;
}

std::optional<std::string> expand_env(std::string_view s, std::string* missing) {
    std::string out;
    out.reserve(s.size());
    for (size_t i = 0; i < s.size(); ++i) {
        char c = s[i];
        if (c != '$') {
            out += c;
            continue;
        }
        if (i + 1 < s.size() && s[i + 1] == '$') {
            out += '$';
            ++i;
            continue;
        }
        if (i + 1 >= s.size() || s[i + 1] != '{') {
            out += c;
            continue;
        }
        size_t close = s.find('}', i + 2);
        if (close == std::string_view::npos) {
            out.append(s.substr(i));
            break;
        }
        std::string_view ref = s.substr(i + 2, close - i - 2);
        std::string_view name = ref, def;
        bool has_def = false;
        if (auto p = ref.find(":-"); p != std::string_view::npos) {
            name = ref.substr(0, p);
            def = ref.substr(p + 2);
            has_def = true;
        }
        std::string name_s(name);
        const char* v = name_s.empty() ? nullptr : std::getenv(name_s.c_str());
        if (v && (*v || !has_def)) {
            out += v;
        } else if (has_def) {
            out.append(def);
        } else {
            if (missing) *missing = name_s;
            return std::nullopt;
        }
        i = close;
    }
    return out;
}

// ---------------------------------------------------------------------------------------------------------------

ConfigSection::ConfigSection(std::shared_ptr<ConfigContext> ctx, const toml::table* table, std::string path)
    : ctx_(std::move(ctx)), table_(table), path_(std::move(path)),
      used_(std::make_shared<std::vector<std::string>>()) {}

const std::string& ConfigSection::config_dir() const { return ctx_->dir; }
const std::string& ConfigSection::config_file() const { return ctx_->file; }
ConfigDiagnostics& ConfigSection::diagnostics() { return *ctx_->diags; }

std::string ConfigSection::key_path(std::string_view key) const {
    if (path_.empty()) return std::string(key);
    if (key.empty()) return path_;
    return path_ + "." + std::string(key);
}

ConfigError ConfigSection::make_error(std::string_view key, std::string message) const {
    ConfigError e;
    e.file = ctx_->file;
    e.key = key_path(key);
    e.message = std::move(message);
    const toml::source_region* src = nullptr;
    if (table_) {
        if (!key.empty()) {
            if (auto n = table_->get(key)) src = &n->source();
        }
        if (!src) src = &table_->source();
    }
    if (src && src->begin.line > 0) {
        e.line = static_cast<int>(src->begin.line);
        e.column = static_cast<int>(src->begin.column);
    }
    return e;
}

void ConfigSection::error(std::string_view key, std::string message) { ctx_->diags->error(make_error(key, std::move(message))); }

std::string ConfigSection::where(std::string_view key) const {
    ConfigError e = make_error(key, "");
    std::string s = e.file;
    if (e.line > 0) {
        s += ":" + std::to_string(e.line);
        if (e.column > 0) s += ":" + std::to_string(e.column);
    }
    return s + " (" + e.key + ")";
}

void ConfigSection::warning(std::string_view key, std::string message) {
    ctx_->diags->warning(make_error(key, std::move(message)));
}

const toml::node* ConfigSection::lookup(std::string_view key) {
    if (std::find(used_->begin(), used_->end(), key) == used_->end()) used_->emplace_back(key);
    if (!table_) return nullptr;
    return table_->get(key);
}

bool ConfigSection::has(std::string_view key) const { return table_ && table_->contains(key); }

namespace {
// Reads a string node and expands env references; reports errors against the section.
std::optional<std::string> string_value(ConfigSection& sec, std::string_view key, const toml::node& n) {
    auto s = n.as_string();
    if (!s) {
        sec.error(key, std::string("expected a string, got ") + describe(n));
        return std::nullopt;
    }
    std::string missing;
    auto v = expand_env(s->get(), &missing);
    if (!v) {
        sec.error(key, "environment variable ${" + missing + "} is not set and has no default (write ${" + missing +
                           ":-value})");
        return std::nullopt;
    }
    return v;
}
} // namespace

std::string ConfigSection::get_string(std::string_view key, std::string def) {
    auto n = lookup(key);
    if (!n) return def;
    auto v = string_value(*this, key, *n);
    return v ? *v : def;
}

std::optional<std::string> ConfigSection::opt_string(std::string_view key) {
    auto n = lookup(key);
    if (!n) return std::nullopt;
    return string_value(*this, key, *n);
}

std::string ConfigSection::require_string(std::string_view key) {
    auto n = lookup(key);
    if (!n) {
        error(key, "required key is missing");
        return "";
    }
    auto v = string_value(*this, key, *n);
    return v ? *v : "";
}

int64_t ConfigSection::get_int(std::string_view key, int64_t def, int64_t min, int64_t max) {
    auto n = lookup(key);
    if (!n) return def;
    int64_t v;
    if (auto i = n->as_integer()) {
        v = i->get();
    } else if (n->is_string()) {
        auto s = string_value(*this, key, *n);
        if (!s) return def;
        std::string_view t = trim(*s);
        char* end = nullptr;
        std::string tmp(t);
        errno = 0;
        long long parsed = std::strtoll(tmp.c_str(), &end, 10);
        if (tmp.empty() || *end != '\0' || errno != 0) {
            error(key, "expected an integer, got " + quote(*s));
            return def;
        }
        v = parsed;
    } else {
        error(key, std::string("expected an integer, got ") + describe(*n));
        return def;
    }
    if (v < min || v > max) {
        error(key, "value " + std::to_string(v) + " is out of range [" + std::to_string(min) + ", " +
                       std::to_string(max) + "]");
        return def;
    }
    return v;
}

double ConfigSection::get_double(std::string_view key, double def, double min, double max) {
    auto n = lookup(key);
    if (!n) return def;
    double v;
    if (auto f = n->as_floating_point())
        v = f->get();
    else if (auto i = n->as_integer())
        v = static_cast<double>(i->get());
    else {
        error(key, std::string("expected a number, got ") + describe(*n));
        return def;
    }
    if (!(v >= min && v <= max)) {
        error(key, "value " + std::to_string(v) + " is out of range [" + std::to_string(min) + ", " +
                       std::to_string(max) + "]");
        return def;
    }
    return v;
}

bool ConfigSection::get_bool(std::string_view key, bool def) {
    auto n = lookup(key);
    if (!n) return def;
    if (auto b = n->as_boolean()) return b->get();
    if (n->is_string()) {
        auto s = string_value(*this, key, *n);
        if (s && (*s == "true" || *s == "false")) return *s == "true";
        if (s) error(key, "expected true or false, got " + quote(*s));
        return def;
    }
    error(key, std::string("expected true or false, got ") + describe(*n));
    return def;
}

uint64_t ConfigSection::get_size(std::string_view key, uint64_t def) {
    auto n = lookup(key);
    if (!n) return def;
    if (auto i = n->as_integer()) {
        if (i->get() < 0) {
            error(key, "expected a size like \"512MiB\", got " + std::to_string(i->get()));
            return def;
        }
        return static_cast<uint64_t>(i->get());
    }
    if (!n->is_string()) {
        error(key, std::string("expected a size like \"512MiB\", got ") + describe(*n));
        return def;
    }
    auto s = string_value(*this, key, *n);
    if (!s) return def;
    auto v = parse_size(*s);
    if (!v) {
        error(key, "expected a size like \"512MiB\", got " + quote(*s));
        return def;
    }
    return *v;
}

uint64_t ConfigSection::get_duration_ms(std::string_view key, uint64_t def) {
    auto n = lookup(key);
    if (!n) return def;
    if (auto i = n->as_integer()) {
        if (i->get() < 0 || i->get() > 100LL * 365 * 86400) {
            error(key, "expected a duration like \"30s\", got " + std::to_string(i->get()));
            return def;
        }
        return static_cast<uint64_t>(i->get()) * 1000;
    }
    if (!n->is_string()) {
        error(key, std::string("expected a duration like \"30s\", got ") + describe(*n));
        return def;
    }
    auto s = string_value(*this, key, *n);
    if (!s) return def;
    auto v = parse_duration_ms(*s);
    if (!v) {
        error(key, "expected a duration like \"30s\", got " + quote(*s));
        return def;
    }
    return *v;
}

std::string ConfigSection::get_path(std::string_view key, std::string def) {
    std::string p = get_string(key, std::move(def));
    if (!p.empty() && p[0] != '/' && !ctx_->dir.empty()) p = ctx_->dir + "/" + p;
    if (!p.empty()) note_file(key, p);
    return p;
}

std::string ConfigSection::get_output_path(std::string_view key, std::string def) {
    std::string p = get_string(key, std::move(def));
    if (p == "stderr" || p == "-") return p;
    if (!p.empty() && p[0] != '/' && !ctx_->dir.empty()) p = ctx_->dir + "/" + p;
    if (!p.empty()) note_file(key, p, true);
    return p;
}

void ConfigSection::note_file(std::string_view key, const std::string& path, bool write) {
    if (!ctx_->diags || path.empty()) return;
    ctx_->diags->named_file({make_error(key, ""), path, write});
}

std::string ConfigSection::get_enum(std::string_view key, std::string def, const std::vector<std::string>& choices) {
    auto n = lookup(key);
    if (!n) return def;
    auto s = string_value(*this, key, *n);
    if (!s) return def;
    for (const auto& c : choices)
        if (*s == c) return *s;
    std::string list;
    for (size_t i = 0; i < choices.size(); ++i) list += (i ? ", " : "") + quote(choices[i]);
    error(key, "expected one of " + list + ", got " + quote(*s));
    return def;
}

std::vector<int64_t> ConfigSection::get_int_list(std::string_view key, std::vector<int64_t> def, int64_t min,
                                                 int64_t max) {
    auto n = lookup(key);
    if (!n) return def;
    auto arr = n->as_array();
    if (!arr) {
        error(key, std::string("expected an array of integers, got ") + describe(*n));
        return def;
    }
    std::vector<int64_t> out;
    for (size_t i = 0; i < arr->size(); ++i) {
        const toml::node& el = *arr->get(i);
        auto v = el.value<int64_t>();
        if (!el.is_integer() || !v || *v < min || *v > max) {
            error(key, "element " + std::to_string(i) + ": expected an integer in [" + std::to_string(min) + ", " +
                           std::to_string(max) + "], got " + describe(el));
            continue;
        }
        out.push_back(*v);
    }
    return out;
}

std::vector<std::string> ConfigSection::get_string_list(std::string_view key, std::vector<std::string> def) {
    auto n = lookup(key);
    if (!n) return def;
    if (n->is_string()) {
        auto s = string_value(*this, key, *n);
        if (!s) return def;
        return {*s};
    }
    auto arr = n->as_array();
    if (!arr) {
        error(key, std::string("expected a string or an array of strings, got ") + describe(*n));
        return def;
    }
    std::vector<std::string> out;
    for (size_t i = 0; i < arr->size(); ++i) {
        const toml::node& el = *arr->get(i);
        if (!el.is_string()) {
            auto e = make_error(key, "element " + std::to_string(i) + ": expected a string, got " + describe(el));
            if (el.source().begin.line > 0) {
                e.line = static_cast<int>(el.source().begin.line);
                e.column = static_cast<int>(el.source().begin.column);
            }
            ctx_->diags->error(std::move(e));
            continue;
        }
        auto s = string_value(*this, key, el);
        if (s) out.push_back(*s);
    }
    return out;
}

std::optional<ConfigSection> ConfigSection::table(std::string_view key) {
    auto n = lookup(key);
    if (!n) return std::nullopt;
    auto t = n->as_table();
    if (!t) {
        error(key, std::string("expected a table, got ") + describe(*n));
        return std::nullopt;
    }
    return ConfigSection(ctx_, t, key_path(key));
}

std::vector<ConfigSection> ConfigSection::array_of_tables(std::string_view key) {
    std::vector<ConfigSection> out;
    auto n = lookup(key);
    if (!n) return out;
    auto arr = n->as_array();
    if (!arr) {
        error(key, std::string("expected an array of tables ([[") + std::string(key) + "]]), got " + describe(*n));
        return out;
    }
    for (size_t i = 0; i < arr->size(); ++i) {
        auto t = arr->get(i)->as_table();
        if (!t) {
            error(key, "element " + std::to_string(i) + ": expected a table");
            continue;
        }
        out.emplace_back(ctx_, t, key_path(key) + "[" + std::to_string(i) + "]");
    }
    return out;
}

void ConfigSection::finish() {
    if (!table_) return;
    for (const auto& [k, v] : *table_) {
        std::string_view key = k.str();
        if (std::find(used_->begin(), used_->end(), key) != used_->end()) continue;
        ConfigError e;
        e.file = ctx_->file;
        e.key = key_path(key);
        e.message = "unknown key";
        const auto& src = k.source().begin.line > 0 ? k.source() : v.source();
        e.line = static_cast<int>(src.begin.line);
        e.column = static_cast<int>(src.begin.column);
        ctx_->diags->error(std::move(e));
    }
}

// ---------------------------------------------------------------------------------------------------------------

std::optional<ConfigFile> ConfigFile::parse(std::string_view text, const std::string& path, ConfigDiagnostics& diags) {
    auto ctx = std::make_shared<ConfigContext>();
    ctx->file = path;
    auto slash = path.rfind('/');
    ctx->dir = slash == std::string::npos ? "." : path.substr(0, slash == 0 ? 1 : slash);
    ctx->diags = &diags;
    try {
        ctx->doc = toml::parse(text, path);
    } catch (const toml::parse_error& err) {
        ConfigError e;
        e.file = path;
        e.line = static_cast<int>(err.source().begin.line);
        e.column = static_cast<int>(err.source().begin.column);
        e.message = std::string(err.description());
        diags.error(std::move(e));
        return std::nullopt;
    }
    ConfigFile f;
    f.ctx_ = std::move(ctx);
    return f;
}

std::optional<ConfigFile> ConfigFile::load(const std::string& path, ConfigDiagnostics& diags) {
    FILE* fp = std::fopen(path.c_str(), "rb");
    if (!fp) {
        diags.error(ConfigError{path, 0, 0, "", std::string("cannot open: ") + std::strerror(errno), false});
        return std::nullopt;
    }
    std::string text;
    char buf[65536];
    size_t n;
    while ((n = std::fread(buf, 1, sizeof buf, fp)) > 0) text.append(buf, n);
    std::fclose(fp);
    return parse(text, path, diags);
}

ConfigSection ConfigFile::root() { return ConfigSection(ctx_, &ctx_->doc, ""); }

} // namespace shared
