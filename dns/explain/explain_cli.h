// meridian-dns explain: the answer a client gets from the configured zones and steering, and why.
//   meridian-dns explain [--config FILE] --client IP [--ecs PREFIX/LEN] [--json] NAME [TYPE]
// Loads the config as the daemon would (every edge taken as healthy: no checks run; the running daemon's
// GET /_meridian/explain uses its live health) and prints explanation_text() or, with --json, explanation_json().
#pragma once

namespace dns {

// True when argv[1] is "explain"; then *exit_code is what main returns (0, 1 on config errors, 2 on usage errors).
bool run_explain_command(int argc, char** argv, int* exit_code);

} // namespace dns
