#include "api/bearer_token.h"

namespace txc::api {

bool BearerTokenMatches(std::string_view header, std::string_view token) {
  constexpr std::string_view kScheme = "Bearer ";
  if (header.size() != kScheme.size() + token.size()) return false;
  unsigned char diff = 0;
  for (size_t i = 0; i < header.size(); ++i) {
    const char expected = i < kScheme.size() ? kScheme[i] : token[i - kScheme.size()];
    diff |= static_cast<unsigned char>(header[i] ^ expected);
  }
  return diff == 0;
}

}  // namespace txc::api
