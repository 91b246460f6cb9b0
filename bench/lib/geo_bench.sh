bench_geo() { warn "not implemented yet"; }
