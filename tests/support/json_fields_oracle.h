// Checks JsonFields against nlohmann::json::parse, the parser it stands in for: the same texts
// accepted, as objects or not, and every member read back as nlohmann reads it. Shared by the
// unit test (chosen cases) and the fuzz target (everything else).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "json_fields.h"

namespace txc::wire::test {

// Empty when JsonFields and nlohmann agree about `text`; otherwise what differs.
inline std::string JsonFieldsDisagreement(std::string_view text) {
  using nlohmann::json;
  JsonFields fields;
  const JsonFields::Parsed parsed = fields.Read(text);
  const json doc = json::parse(text, nullptr, /*allow_exceptions=*/false);
  const JsonFields::Parsed want = doc.is_discarded() ? JsonFields::Parsed::kInvalid
                                  : doc.is_object()  ? JsonFields::Parsed::kObject
                                                     : JsonFields::Parsed::kNotObject;
  if (parsed != want) {
    return "parsed as " + std::to_string(static_cast<int>(parsed)) + ", nlohmann " +
           std::to_string(static_cast<int>(want));
  }
  if (want != JsonFields::Parsed::kObject) return "";
  for (const auto& [key, value] : doc.items()) {
    const JsonFields::Member* m = fields.Find(key);
    if (m == nullptr) return "member '" + key + "' not found";
    if (value.is_string()) {
      if (m->kind != JsonFields::Kind::kString) return "member '" + key + "' is not a string";
      if (JsonFields::DecodeString(m->value) != value.get<std::string>()) {
        return "member '" + key + "' decodes differently";
      }
    } else if (value.is_number()) {
      if (m->kind != JsonFields::Kind::kNumber) return "member '" + key + "' is not a number";
      const std::optional<int64_t> got = JsonFields::AsInteger(m->value);
      const std::optional<int64_t> expected =
          value.is_number_integer() ? std::optional<int64_t>(value.get<int64_t>()) : std::nullopt;
      if (got != expected) return "member '" + key + "' has another integer value";
    } else {
      const json nested = json::parse(m->value, nullptr, /*allow_exceptions=*/false);
      if (nested != value) return "member '" + key + "' parses differently";
      if (value.is_array()) {
        const std::vector<JsonFields::Member> elements = JsonFields::Elements(m->value);
        if (elements.size() != value.size()) return "member '" + key + "' has other elements";
        for (size_t i = 0; i < elements.size(); ++i) {
          if (json::parse(elements[i].value, nullptr, false) != value[i]) {
            return "member '" + key + "' element " + std::to_string(i) + " differs";
          }
        }
      }
    }
  }
  return "";
}

}  // namespace txc::wire::test
