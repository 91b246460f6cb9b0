// Command line shared by both daemons: --config FILE, --check, --version, --help.
#pragma once

#include <string>

namespace shared {

struct CliSpec {
    const char* program;        // "meridian-edge"
    const char* summary;        // one line for --help
    const char* default_config; // used when --config is absent
};

struct CliOptions {
    std::string config_path;
    bool check = false; // validate config and every file it names, print each error on its own line, exit 0/1
};

enum class CliAction { run, exit_ok, exit_usage };

// Prints --help/--version itself (exit_ok) and usage errors to stderr (exit_usage, exit code 2).
CliAction parse_cli(int argc, char** argv, const CliSpec& spec, CliOptions* out);

} // namespace shared
