// Pre-renders, at load time, the complete answer of every exact-match query a zone can get for a type it holds, so
// that the query path copies the question, appends prepared bytes and adds OPT (issue 4, item 6).
//
// The bytes come from the query engine itself: for each (name, type) we run answer_query on the query it stands
// for and keep the sections after the question. A compiled answer is therefore the engine's answer by construction
// (tests/dns/engine/test_answer_compiler.cc checks the two paths agree on every name and type of a zone); the engine
// still answers everything else itself: CNAMEs, wildcards, cuts, steered names, ANY, negative answers, and answers
// that do not fit the client's buffer (so TC and dropped additional records stay its business).
#pragma once

#include "dns/zone/zone_db.h"

namespace dns {

struct CompileStats {
    size_t compiled = 0; // RRsets with a pre-rendered answer
    size_t bytes = 0;    // memory of the zone's answer table
};

// Fills Zone::answers. Call after the zone's last change (steered names attached); the zone is then shared
// read-only.
CompileStats compile_answers(Zone& zone);

} // namespace dns
