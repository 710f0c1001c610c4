// Minimal JSON output: escaping strings and building flat objects. Reading
// JSON is simdjson's job (controller mode); writing the few flat objects
// pushgate emits (log lines, summaries, request bodies) needs only this.
#ifndef PUSHGATE_UTIL_JSON_WRITER_H_
#define PUSHGATE_UTIL_JSON_WRITER_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace pushgate {

// Appends `s` as a quoted JSON string. Invalid UTF-8 bytes become U+FFFD so
// the output is always valid JSON whatever the input.
void AppendJsonString(std::string& out, std::string_view s);

// `values` as a JSON array of strings, in order.
std::string JsonStringArray(const std::vector<std::string>& values);

// Builds one JSON object: JsonObject().Add("a", "x").Add("n", 3).Finish().
class JsonObject {
 public:
  JsonObject& Add(std::string_view key, std::string_view value);
  JsonObject& Add(std::string_view key, const char* value) { return Add(key, std::string_view(value)); }
  JsonObject& Add(std::string_view key, int64_t value);
  // `json` is already a JSON value (a nested object built with JsonObject).
  JsonObject& AddRaw(std::string_view key, std::string_view json);
  std::string Finish();

 private:
  void Key(std::string_view key);
  std::string out_ = "{";
};

}  // namespace pushgate

#endif  // PUSHGATE_UTIL_JSON_WRITER_H_
