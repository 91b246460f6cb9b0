#include "shared/process/cli.h"

#include <cstdio>
#include <cstring>

namespace shared {

namespace {
void usage(FILE* out, const CliSpec& spec) {
    std::fprintf(out,
                 "usage: %s [--config FILE] [--check]\n"
                 "%s\n\n"
                 "  -c, --config FILE  configuration file (default: %s)\n"
                 "  -t, --check        validate the config and every file it names, print each problem, exit 0/1\n"
                 "  -v, --version      print the version and exit\n"
                 "  -h, --help         print this help and exit\n\n"
                 "Signals: SIGTERM/SIGINT stop gracefully, SIGHUP reloads the config, SIGUSR1 reopens log files.\n",
                 spec.program, spec.summary, spec.default_config);
}
} // namespace

CliAction parse_cli(int argc, char** argv, const CliSpec& spec, CliOptions* out) {
    out->config_path = spec.default_config;
    for (int i = 1; i < argc; ++i) {
        const char* a = argv[i];
        if (!std::strcmp(a, "-h") || !std::strcmp(a, "--help")) {
            usage(stdout, spec);
            return CliAction::exit_ok;
        }
        if (!std::strcmp(a, "-v") || !std::strcmp(a, "--version")) {
            std::printf("%s %s\n", spec.program, MERIDIAN_VERSION);
            return CliAction::exit_ok;
        }
        if (!std::strcmp(a, "-t") || !std::strcmp(a, "--check")) {
            out->check = true;
            continue;
        }
        if (!std::strncmp(a, "--config=", 9)) {
            out->config_path = a + 9;
            continue;
        }
        if (!std::strcmp(a, "-c") || !std::strcmp(a, "--config")) {
            if (i + 1 >= argc) {
                std::fprintf(stderr, "%s: %s needs a file name\n", spec.program, a);
                usage(stderr, spec);
                return CliAction::exit_usage;
            }
            out->config_path = argv[++i];
            continue;
        }
        std::fprintf(stderr, "%s: unknown argument '%s'\n", spec.program, a);
        usage(stderr, spec);
        return CliAction::exit_usage;
    }
    return CliAction::run;
}

} // namespace shared
