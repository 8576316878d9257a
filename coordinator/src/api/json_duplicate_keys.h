// FirstDuplicateKey: a key given twice in one object of a JSON text, found without building a
// document.
//
// A request with such a key would mean whatever the parser picks (nlohmann keeps the last), so
// the API refuses it. Found with nlohmann's per-token callback, it cost a std::function call per
// token and a set of copied keys per object on every start request.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace txc::api {

// For a text nlohmann::json::parse accepts (and only for one: the scan trusts its structure),
// the key whose second appearance in its object comes first in the text, decoded; nullopt if
// no object repeats a key. Linear in the text, plus a sort of each object's keys. The empty key
// counts like any other (the callback's check did not see `{"":1,"":2}`: it took an empty
// string for "none found").
std::optional<std::string> FirstDuplicateKey(std::string_view valid_json);

}  // namespace txc::api
