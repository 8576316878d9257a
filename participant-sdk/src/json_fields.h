// JsonFields: the top-level members of one JSON object, read without building a document.
//
// Every branch request a participant gets and every reply the coordinator gets is a small flat
// object; building it as an nlohmann tree (a map node and a string per member, a second walk to
// copy the values out) was ~15% of a participant's CPU and ~7% of the coordinator's. This
// reader validates the text once, in one pass, exactly as nlohmann::json::parse does (RFC 8259,
// UTF-8 checked, a leading byte-order mark skipped), and keeps each member's value as the text it
// was: strings are decoded, and nested values parsed, only when asked for.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace txc::wire {

class JsonFields {
 public:
  enum class Kind { kString, kNumber, kBool, kNull, kObject, kArray };
  enum class Parsed { kObject, kNotObject, kInvalid };

  struct Member {
    std::string key;  // decoded
    Kind kind;
    std::string_view value;  // the value's text as it stands (a string with its quotes, escaped)
  };

  // Reads `text`. kInvalid: not JSON; kNotObject: JSON, but not an object. Members are kept only
  // for kObject.
  // The caller bounds the nesting first (JsonNestedDeeperThan): validation recurses per level.
  Parsed Read(std::string_view text);

  // The member named `key`; of several with that name, the last (as nlohmann keeps it).
  const Member* Find(std::string_view key) const;

  // The elements of an array member's value (keys empty). Only for values Read accepted.
  static std::vector<Member> Elements(std::string_view array);

  // A string value (quotes included), unescaped. Only for values Read accepted.
  static std::string DecodeString(std::string_view quoted);

  // A number member's value as nlohmann::json sees it: nullopt unless it is an integer
  // (number_integer or number_unsigned), else its value as get<int64_t>() gives it.
  static std::optional<int64_t> AsInteger(std::string_view number);

 private:
  std::vector<Member> members_;
};

}  // namespace txc::wire
