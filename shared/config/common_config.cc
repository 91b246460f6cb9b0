#include "shared/config/common_config.h"

#include <thread>

#include "shared/http/bearer_token.h"

namespace shared {

namespace {
std::vector<SocketAddress> parse_addresses(ConfigSection& sec, std::string_view key,
                                           const std::vector<std::string>& list) {
    std::vector<SocketAddress> out;
    for (const auto& s : list) {
        std::string err;
        auto a = parse_socket_address(s, &err);
        if (!a) {
            sec.error(key, "\"" + s + "\": " + err);
            continue;
        }
        out.push_back(*a);
    }
    return out;
}
} // namespace

CommonConfig parse_common_config(ConfigSection& root, const std::vector<std::string>& default_listen) {
    CommonConfig c;
    int64_t w = root.get_int("workers", 0, 0, 256);
    if (w == 0) {
        unsigned hc = std::thread::hardware_concurrency();
        w = hc ? hc : 1;
    }
    c.workers = static_cast<unsigned>(w);
    auto listen = root.get_string_list("listen", default_listen);
    if (listen.empty()) root.error("listen", "at least one address is required");
    c.listen = parse_addresses(root, "listen", listen);
    if (auto admin = root.table("admin")) {
        if (auto l = admin->opt_string("listen")) {
            auto v = parse_addresses(*admin, "listen", {*l});
            if (!v.empty()) c.admin_listen = v[0];
        }
        c.admin_token = read_token_file(*admin, "token_file");
        auto& al = c.admin_limits;
        al.request_timeout_ms = admin->get_duration_ms("request_timeout", al.request_timeout_ms);
        al.idle_timeout_ms = admin->get_duration_ms("idle_timeout", al.idle_timeout_ms);
        al.send_timeout_ms = admin->get_duration_ms("send_timeout", al.send_timeout_ms);
        al.max_connections =
            static_cast<size_t>(admin->get_int("max_connections", static_cast<int64_t>(al.max_connections), 1, 65536));
        for (auto [key, v] : {std::pair<const char*, uint64_t>{"request_timeout", al.request_timeout_ms},
                              {"idle_timeout", al.idle_timeout_ms},
                              {"send_timeout", al.send_timeout_ms}})
            if (v == 0) admin->error(key, "must be greater than 0");
        admin->finish();
    }
    if (auto lg = root.table("log")) {
        std::string lvl = lg->get_enum("level", "info", {"debug", "info", "warn", "error"});
        log::parse_level(lvl, &c.log_level);
        log::parse_format(lg->get_enum("format", "text", {"text", "json"}), &c.log_format);
        c.log_file = lg->get_output_path("file", "");
        if (c.log_file == "stderr") c.log_file.clear();
        lg->finish();
    }
    std::string group = root.get_string("group", "");
    if (auto user = root.opt_string("user")) {
        RunAs as;
        std::string err;
        if (user->empty())
            root.error("user", "must name a user (or leave the key out)");
        else if (resolve_run_as(*user, group, &as, &err))
            c.run_as = as;
        else
            root.error(err.rfind("no such group", 0) == 0 ? "group" : "user", err);
    } else if (!group.empty()) {
        root.error("group", "needs `user` (the group is switched to together with the user)");
    }
    c.allow_root = root.get_bool("allow_root", false);
    return c;
}

bool apply_log_config(const CommonConfig& c, std::string* err) {
    log::set_level(c.log_level);
    log::set_format(c.log_format);
    return log::set_file(c.log_file, err);
}

} // namespace shared
