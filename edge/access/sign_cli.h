// The signing command of meridian-edge, for applications and operators handing out private links:
//   meridian-edge sign --key KEY.pem --key-pair-id ID --url URL (--expires TIME | --policy FILE) [--cookie]
// prints the signed URL (or, with --cookie, the Set-Cookie lines of CloudFront's signed cookies). TIME is Unix
// seconds or a duration from now ("90s", "1h", "7d", "1h30m"). With --policy, FILE is a custom policy (JSON;
// whitespace outside strings is removed before signing, as CloudFront requires). Exit 0, or 2 on bad arguments.
#pragma once

namespace edge {

// True when argv[1] is "sign"; then *exit_code is what main returns.
bool run_sign_command(int argc, char** argv, int* exit_code);

} // namespace edge
