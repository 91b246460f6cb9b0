// The invalidation command of meridian-edge, for deploy scripts:
//   meridian-edge invalidate --admin HOST:PORT --token-file FILE [--host HOST] [--soft] [--tag TAG]... [PATH]...
// POSTs the invalidation to the admin API (invalidation_api.h), prints its JSON answer, and exits 0 once it was
// applied (201), 1 when it was refused, 2 on bad arguments or when the admin listener cannot be reached.
#pragma once

namespace edge {

// True when argv[1] is "invalidate"; then *exit_code is what main returns.
bool run_invalidate_command(int argc, char** argv, int* exit_code);

} // namespace edge
