// Keys both daemons share, with the same names and meaning (see conf/README.md, "Common keys"):
//   workers = 0                      # worker threads; 0 = number of cores
//   listen = ["127.0.0.1:8080"]      # string or array of "ip:port" / "[ipv6]:port"
//   [admin] listen = "127.0.0.1:9080"   # optional; absent = no admin listener
//           request_timeout, idle_timeout, send_timeout, max_connections (see admin_limits.h)
//           token_file = ""          # optional bearer token for every admin page but health (bearer_token.h)
//   [log] level = "info", file = "", format = "text"  # file "" = stderr; reopened on SIGUSR1; format text|json
//   user = "meridian", group = ""    # drop to them once the sockets are bound (shared/process/privileges.h)
//   allow_root = false               # started as root without `user`: refuse unless true
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "shared/config/config.h"
#include "shared/http/admin_limits.h"
#include "shared/log/log.h"
#include "shared/net/address.h"
#include "shared/process/privileges.h"

namespace shared {

struct CommonConfig {
    unsigned workers = 1;
    std::vector<SocketAddress> listen;
    std::optional<SocketAddress> admin_listen;
    AdminLimits admin_limits;
    std::string admin_token; // admin.token_file's content (a secret: never logged); "" = admin pages open
    log::Level log_level = log::Level::info;
    log::Format log_format = log::Format::text;
    std::string log_file;        // "" = stderr
    std::optional<RunAs> run_as; // `user` (and `group`), resolved
    bool allow_root = false;
};

// Reads workers, listen, [admin], [log] from the root section (marking them used). `default_listen` applies when
// `listen` is absent. Errors go to the section's diagnostics.
CommonConfig parse_common_config(ConfigSection& root, const std::vector<std::string>& default_listen);
// Applies log level and file (reports an unopenable file as an error in diags when given).
bool apply_log_config(const CommonConfig& c, std::string* err);

} // namespace shared
