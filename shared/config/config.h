// Typed, located access to a TOML config file (toml++), shared by both daemons.
//
// Errors never throw: every problem is collected as a ConfigError naming file:line:column and the key path,
// so `--check` can print them all at once. Reading a key marks it used; ConfigSection::finish() then reports
// every key nobody read as "unknown key". Only the loading thread touches these objects.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace toml {
inline namespace v3 {
class table;
class node;
} // namespace v3
} // namespace toml

namespace shared {

struct ConfigError {
    std::string file;
    int line = 0;
    int column = 0;
    std::string key;     // dotted path, e.g. "cache.max_bytes" or "origin[1].host"
    std::string message; // e.g. `expected a size like "512MiB", got "lots"`
    bool warning = false;
    // "edge.toml:12:3: cache.max_bytes: expected a size ..." (prefixed "warning: " for warnings)
    std::string to_string() const;
};

// A file the config names, which the daemon (re)opens later (on SIGHUP, SIGUSR1, or to read on demand): --check
// tests that the configured `user` can open it. `at` locates the key (its message is empty).
struct NamedFile {
    ConfigError at;
    std::string path;
    bool write = false; // opened for appending (logs); a missing file is created in its folder
};

// Collects errors and warnings from config and every file it names (zones, databases...).
class ConfigDiagnostics {
public:
    void named_file(NamedFile f) { files_.push_back(std::move(f)); }
    const std::vector<NamedFile>& named_files() const { return files_; }
    void error(ConfigError e);
    void warning(ConfigError e);
    // An error not tied to a TOML key (e.g. a zone file's own line): "file:line: message".
    void error_at(std::string file, int line, std::string message);
    void warning_at(std::string file, int line, std::string message);
    bool ok() const { return errors_ == 0; }
    size_t error_count() const { return errors_; }
    const std::vector<ConfigError>& all() const { return items_; }
    std::string to_string() const; // one line per item

private:
    std::vector<ConfigError> items_;
    std::vector<NamedFile> files_;
    size_t errors_ = 0;
};

// Grammar: a non-negative integer (bytes), or a string "<number><unit>" with optional space; number may have a
// fraction ("1.5GiB"); units B, KiB, MiB, GiB, TiB (powers of 1024), KB, MB, GB, TB (powers of 1000), K/M/G = KiB/MiB/GiB.
std::optional<uint64_t> parse_size(std::string_view s);
// Grammar: one or more "<integer><unit>" groups ("1m30s", "250ms"); units ms, s, m, h, d. A bare integer (TOML int)
// means seconds. Result in milliseconds.
std::optional<uint64_t> parse_duration_ms(std::string_view s);
// Expands ${NAME} and ${NAME:-default} from the environment; `$$` is a literal `$`. On an unset variable without a
// default, returns nullopt and sets *missing to its name.
std::optional<std::string> expand_env(std::string_view s, std::string* missing);

struct ConfigContext; // shared by a file's sections: path, dir, diagnostics

// A view of one TOML table. Cheap to copy.
class ConfigSection {
public:
    ConfigSection(std::shared_ptr<ConfigContext> ctx, const toml::table* table, std::string path);

    bool has(std::string_view key) const;
    // Strings have ${ENV} references expanded.
    std::string get_string(std::string_view key, std::string def);
    std::optional<std::string> opt_string(std::string_view key);
    std::string require_string(std::string_view key); // error if missing; returns ""
    // Integers may also be written as strings (so "${WORKERS:-2}" works).
    int64_t get_int(std::string_view key, int64_t def, int64_t min, int64_t max);
    double get_double(std::string_view key, double def, double min, double max);
    bool get_bool(std::string_view key, bool def);
    uint64_t get_size(std::string_view key, uint64_t def);
    uint64_t get_duration_ms(std::string_view key, uint64_t def);
    // A path relative to the config file's folder (absolute paths are kept); "" when missing and def is "".
    // The file is recorded as one the daemon reads later (see NamedFile).
    std::string get_path(std::string_view key, std::string def);
    // The same for a file the daemon appends to (a log).
    std::string get_output_path(std::string_view key, std::string def);
    // Records a path read some other way (e.g. one entry of a list) as a file the daemon reads later.
    void note_file(std::string_view key, const std::string& path, bool write = false);
    // One of `choices`; error listing them otherwise.
    std::string get_enum(std::string_view key, std::string def, const std::vector<std::string>& choices);
    // A string or an array of strings (a single string reads as a one-element list).
    std::vector<std::string> get_string_list(std::string_view key, std::vector<std::string> def);
    // An array of integers, each within [min, max].
    std::vector<int64_t> get_int_list(std::string_view key, std::vector<int64_t> def, int64_t min, int64_t max);
    std::optional<ConfigSection> table(std::string_view key);
    std::vector<ConfigSection> array_of_tables(std::string_view key);

    // Report a problem with a key of this section (at the key's location, or the section's if missing).
    void error(std::string_view key, std::string message);
    void warning(std::string_view key, std::string message);
    // Where `key` (or this section, when missing) is written: "file:line:column (key.path)", for a message that
    // names a second location (e.g. a value claimed twice).
    std::string where(std::string_view key) const;
    // Reports every key of this table that was never read as `unknown key` (sub-tables report their own).
    void finish();

    const std::string& path() const { return path_; }
    const std::string& config_dir() const;
    const std::string& config_file() const;
    ConfigDiagnostics& diagnostics();

private:
    const toml::node* lookup(std::string_view key);
    ConfigError make_error(std::string_view key, std::string message) const;
    std::string key_path(std::string_view key) const;
    std::shared_ptr<ConfigContext> ctx_;
    const toml::table* table_;
    std::string path_;
    std::shared_ptr<std::vector<std::string>> used_;
};

// A parsed file. Keeps the TOML document alive for its sections.
class ConfigFile {
public:
    // Parse errors land in `diags` (with line and column); returns nullopt then.
    static std::optional<ConfigFile> load(const std::string& path, ConfigDiagnostics& diags);
    static std::optional<ConfigFile> parse(std::string_view text, const std::string& path, ConfigDiagnostics& diags);
    ConfigSection root();

private:
    std::shared_ptr<ConfigContext> ctx_;
};

} // namespace shared
