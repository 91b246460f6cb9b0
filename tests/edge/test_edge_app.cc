#include <catch2/catch.hpp>

#include <string>

#include "edge/edge_app.h"
#include "shared/metrics/metrics.h"

using namespace edge;

namespace {
// The "# TYPE name kind" line of `name` in a rendered exposition, or "".
std::string type_of(const std::string& text, const std::string& name) {
    const std::string tag = "# TYPE " + name + " ";
    size_t at = text.find(tag);
    if (at == std::string::npos) return "";
    at += tag.size();
    return text.substr(at, text.find('\n', at) - at);
}
} // namespace

TEST_CASE("EdgeApp metrics: totals are counters, levels are gauges (as served on /_meridian/metrics)",
          "[edge][app][metrics]") {
    EdgeApp app;
    shared::MetricsRegistry m(2);
    app.register_metrics(m);
    const std::string text = m.render();
    CHECK(type_of(text, "meridian_edge_cache_evictions_total") == "counter");
    CHECK(type_of(text, "meridian_edge_hit_for_miss_evictions_total") == "counter");
    CHECK(type_of(text, "meridian_edge_hit_for_miss_passes_total") == "counter");
    CHECK(type_of(text, "meridian_edge_collapse_uncollapsed_total") == "counter");
    CHECK(type_of(text, "meridian_edge_hit_for_miss_entries") == "gauge");
    CHECK(type_of(text, "meridian_edge_hit_for_miss_bytes") == "gauge");
    CHECK(type_of(text, "meridian_edge_collapse_bytes") == "gauge");
    CHECK(type_of(text, "meridian_edge_cache_bytes") == "gauge");
    // Prometheus convention, checked over every family: a name ending in _total is a counter.
    for (size_t at = text.find("# TYPE "); at != std::string::npos; at = text.find("# TYPE ", at + 1)) {
        size_t name_end = text.find(' ', at + 7);
        std::string name = text.substr(at + 7, name_end - at - 7);
        std::string kind = text.substr(name_end + 1, text.find('\n', name_end) - name_end - 1);
        if (name.size() > 6 && name.compare(name.size() - 6, 6, "_total") == 0) {
            INFO(name);
            CHECK(kind == "counter");
        }
    }
}
