bench_scale() { warn "not implemented yet"; }
