// What the API refused as a repeated key before FirstDuplicateKey: nlohmann's parser with a
// callback keeping each open object's keys, the first key found already among them. Shared by
// the unit test (chosen and random documents) and the begin-request fuzz target (everything else).
// One difference, on purpose: the old check held its answer in a string and took an empty one
// for "none", so it let a repeated empty key through; this one (an optional) does not.
#pragma once

#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

namespace txc::api::test {

// For a text nlohmann::json::parse accepts.
inline std::optional<std::string> DuplicateKeyByCallback(std::string_view text) {
  using nlohmann::json;
  std::vector<std::set<std::string>> keys;
  std::optional<std::string> duplicate;
  const json doc = json::parse(
      text,
      [&](int, json::parse_event_t event, json& parsed) {
        if (event == json::parse_event_t::object_start) keys.emplace_back();
        if (event == json::parse_event_t::object_end && !keys.empty()) keys.pop_back();
        if (event == json::parse_event_t::key && !keys.empty() &&
            !keys.back().insert(parsed.get<std::string>()).second && !duplicate) {
          duplicate = parsed.get<std::string>();
        }
        return true;
      },
      /*allow_exceptions=*/false);
  if (doc.is_discarded()) return std::nullopt;
  return duplicate;
}

}  // namespace txc::api::test
