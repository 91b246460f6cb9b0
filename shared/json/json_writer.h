// Builds a JSON document in one string (the admin consoles' stats): commas and nesting handled here so the callers
// write what they mean. Numbers that are not finite are written as null; strings are escaped so the document is
// valid JSON for any input bytes (bytes above 0x7F as \u00XX: the keys are URLs and names, not prose).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace shared {

class JsonWriter {
  public:
    JsonWriter& begin_object();
    JsonWriter& end_object();
    JsonWriter& begin_array();
    JsonWriter& end_array();
    JsonWriter& key(std::string_view k);
    JsonWriter& value(std::string_view s);
    JsonWriter& value(const char* s) { return value(std::string_view(s)); }
    JsonWriter& value(double d);
    JsonWriter& value(uint64_t n);
    JsonWriter& value(int64_t n);
    JsonWriter& value(int n) { return value(static_cast<int64_t>(n)); }
    JsonWriter& value(unsigned n) { return value(static_cast<uint64_t>(n)); }
    JsonWriter& value(bool b);
    JsonWriter& null();
    // key(k).value(v)
    template <typename T> JsonWriter& field(std::string_view k, const T& v) { return key(k).value(v); }
    JsonWriter& array(std::string_view k, const std::vector<double>& v);

    const std::string& str() const { return out_; }
    std::string take() { return std::move(out_); }

  private:
    void separate();
    void quote(std::string_view s);
    std::string out_;
    std::vector<bool> first_; // per open container: nothing written in it yet
    bool after_key_ = false;
};

} // namespace shared
