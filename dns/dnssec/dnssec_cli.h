// The DNSSEC sub-commands of meridian-dns, for operators:
//   meridian-dns keygen [--algorithm ecdsap256sha256|ed25519] [--dir DIR] [--ksk|--zsk] ZONE
//       writes a KSK and a ZSK (or only the one asked for) in BIND's file format and prints the DS for the parent;
//   meridian-dns ds [--digest 2|4] [--ttl N] KEYFILE...
//       prints the DS record (SHA-256, or SHA-384) of each key, to hand to the parent zone's operator.
#pragma once

namespace dns {

// True when argv[1] names one of these sub-commands; then *exit_code is what main returns.
bool run_dnssec_command(int argc, char** argv, int* exit_code);

} // namespace dns
