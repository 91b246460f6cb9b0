// Least privilege: the `user`/`group` a daemon runs as once its sockets are bound. Started as root, a daemon binds
// its listeners (ports below 1024 need root or CAP_NET_BIND_SERVICE), then drops every supplementary group and
// switches group and user for good, the way nginx workers, NSD and Knot do. Files it opens again later (config and
// zones on SIGHUP, logs on SIGUSR1, certificates, databases) must then be readable by that user: --check tests each
// one as that user and names the file that is not.
#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

#include "shared/config/config.h"

namespace shared {

struct RunAs {
    std::string user;
    std::string group; // the user's primary group unless `group` is set
    uid_t uid = 0;
    gid_t gid = 0;
};

// Looks up `user` (and `group`, "" = the user's primary group). On failure returns false with *err saying which.
bool resolve_run_as(const std::string& user, const std::string& group, RunAs* out, std::string* err);

// setgroups(0) + setgid + setuid, for every thread of the process (glibc applies set*id to all threads), then
// checks that root cannot be regained. Returns false with *err on any failure (the caller must then exit).
bool drop_privileges(const RunAs& as, std::string* err);

// Creates each missing `write` file (a log) as `as` owns it, so the daemon can reopen it after the switch. Done
// as root before the first open; errors are left to that open.
void prepare_output_files(const RunAs& as, const std::vector<NamedFile>& files);

// Tests, as `as` (in a child process that switched to it; needs root) or as the current user when `as` is null,
// whether each file can be opened as the daemon will: read (a folder: read and search), or append (a missing one:
// created in its folder). Each failure becomes an error in `diags` at the file's key, naming the file and the user.
void check_named_files(const RunAs* as, const std::vector<NamedFile>& files, ConfigDiagnostics& diags);

} // namespace shared
