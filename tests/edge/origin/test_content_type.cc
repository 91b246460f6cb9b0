#include <catch2/catch.hpp>

#include "edge/origin/content_type.h"

using edge::content_type_for;

TEST_CASE("Content-Type by extension", "[edge][origin][content_type]") {
    CHECK(content_type_for("/index.html") == "text/html; charset=utf-8");
    CHECK(content_type_for("/a/b.HTM") == "text/html; charset=utf-8");
    CHECK(content_type_for("/assets/app.3f9a.css") == "text/css; charset=utf-8");
    CHECK(content_type_for("/app.js") == "text/javascript; charset=utf-8");
    CHECK(content_type_for("/m.mjs") == "text/javascript; charset=utf-8");
    CHECK(content_type_for("/d.json") == "application/json");
    CHECK(content_type_for("/app.js.map") == "application/json");
    CHECK(content_type_for("/i.svg") == "image/svg+xml");
    CHECK(content_type_for("/i.png") == "image/png");
    CHECK(content_type_for("/i.jpg") == "image/jpeg");
    CHECK(content_type_for("/i.jpeg") == "image/jpeg");
    CHECK(content_type_for("/i.gif") == "image/gif");
    CHECK(content_type_for("/i.webp") == "image/webp");
    CHECK(content_type_for("/i.avif") == "image/avif");
    CHECK(content_type_for("/favicon.ico") == "image/x-icon");
    CHECK(content_type_for("/f.woff") == "font/woff");
    CHECK(content_type_for("/f.woff2") == "font/woff2");
    CHECK(content_type_for("/f.ttf") == "font/ttf");
    CHECK(content_type_for("/f.otf") == "font/otf");
    CHECK(content_type_for("/m.wasm") == "application/wasm");
    CHECK(content_type_for("/r.txt") == "text/plain; charset=utf-8");
    CHECK(content_type_for("/s.xml") == "application/xml");
    CHECK(content_type_for("/d.pdf") == "application/pdf");
    CHECK(content_type_for("/v.mp4") == "video/mp4");
    CHECK(content_type_for("/v.webm") == "video/webm");
    CHECK(content_type_for("/noext") == "application/octet-stream");
    CHECK(content_type_for("/dir.d/noext") == "application/octet-stream");
    CHECK(content_type_for("/.hidden") == "application/octet-stream");
    CHECK(content_type_for("/trailing.") == "application/octet-stream");
    CHECK(content_type_for("/x.unknownext") == "application/octet-stream");
    CHECK(content_type_for("") == "application/octet-stream");
}
