// The fixture of the edge's config tests: a temp folder with a bucket directory "site", into which a test writes
// edge.toml (and any file it refers to), loads it the way the daemon does and reads the diagnostics back with the
// folder cut off, so expected messages read "edge.toml:L:C: key: reason".
#pragma once

#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>
#include <optional>
#include <string>

#include "edge/config/edge_config.h"
#include "tests/support/temp_dir.h"

namespace edge::testing {

struct ConfigDir {
    test_support::TempDir tmp{"meridian-edgecfg"};
    std::filesystem::path dir{tmp.path};
    std::string file{(dir / "edge.toml").string()};
    shared::ConfigDiagnostics diags;

    ConfigDir() { std::filesystem::create_directories(dir / "site"); }

    void write(const std::string& name, const std::string& text) const { tmp.write(name, text); }
    // The example certificates and keys of conf/examples/tls, copied under "tls/".
    void copy_example_certs() const {
        std::filesystem::create_directories(dir / "tls");
        for (const char* n : {"example.test.crt", "example.test.key", "www.example.test.crt", "www.example.test.key"})
            std::filesystem::copy_file(std::filesystem::path(MERIDIAN_SRC) / "conf/examples/tls" / n, dir / "tls" / n);
    }
    std::optional<EdgeConfig> load(const std::string& text) {
        std::ofstream(file) << text;
        diags = shared::ConfigDiagnostics();
        return load_edge_config(file, diags);
    }
    std::string messages() const {
        std::string s = diags.to_string();
        std::string prefix = dir.string() + "/";
        for (size_t p; (p = s.find(prefix)) != std::string::npos;)
            s.erase(p, prefix.size());
        return s;
    }
};

} // namespace edge::testing
