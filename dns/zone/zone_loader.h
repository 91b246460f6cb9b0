// Reads RFC 1035 master files with ldns, record by record, and compiles them into a dns::Zone (dns/zone/zone_db.h).
// Lines holding one simple record (A, AAAA, NS, CNAME, PTR, MX, TXT without escapes: nearly all of a large zone)
// are read by our own parser instead (dns/zone/simple_record_parser.h); ldns reads everything else from the same
// position, so directives, multi-line records and every error are still ldns's.
//
// ldns 1.8 does not implement $INCLUDE, so the loader expands it itself: the file is pre-scanned for $INCLUDE lines,
// and each LDNS_STATUS_SYNTAX_INCLUDE from ldns_rr_new_frm_fp_l takes the next one. Included files must lie in the
// zone file's folder (or below it). Every problem is reported as "file:line: reason" in the diagnostics.
//
// Zone checks: exactly one SOA, at the apex; NS at the apex; a CNAME alone at its name (and only one); NS targets
// inside the zone without address records are warned about (missing glue); records outside the zone are ignored
// with a warning; records of a class other than IN are errors; one DNAME per name, and data below a DNAME is warned
// about (RFC 6672 §2.4). DNAME answers are synthesized by the engine (RFC 6672 §3).
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "dns/zone/zone_db.h"
#include "shared/config/config.h"

namespace dns {

struct ZoneLoadOptions {
    uint32_t default_ttl = 3600; // used until a $TTL line when records carry no TTL
    unsigned max_include_depth = 8;
    unsigned max_errors = 20; // stop reporting (and reading) after this many
    // Read the common one-line records with dns/zone/simple_record_parser.h instead of ldns (same result, several
    // times faster on large zones); off only to compare the two in tests.
    bool fast_path = true;
};

// Loads zone `origin` (presentation form, e.g. "example.test.") from `path`. Returns nullptr after reporting
// every error to `diags`; warnings do not fail the load.
std::shared_ptr<Zone> load_zone_file(const std::string& origin, const std::string& path,
                                     shared::ConfigDiagnostics& diags, const ZoneLoadOptions& opts = {});
// Same from text in memory (tests); `path` names it in messages and anchors $INCLUDE.
std::shared_ptr<Zone> load_zone_text(const std::string& origin, std::string_view text, const std::string& path,
                                     shared::ConfigDiagnostics& diags, const ZoneLoadOptions& opts = {});

} // namespace dns
