#include "txc/bool_setting.h"

#include <algorithm>
#include <cctype>
#include <string>

namespace txc {

Result<bool> ParseBoolSetting(std::string_view text, std::string_view name) {
  std::string lower(text);
  std::transform(lower.begin(), lower.end(), lower.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  if (lower == "true" || lower == "yes" || lower == "1") return true;
  if (lower == "false" || lower == "no" || lower == "0") return false;
  return Status::InvalidArgument(std::string(name) +
                                 " must be true or false (or yes/no, 1/0), got '" +
                                 std::string(text) + "'");
}

}  // namespace txc
