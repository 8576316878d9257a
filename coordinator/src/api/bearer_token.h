// The API's one credential, "Authorization: Bearer <token>" (--api-token), checked the same way
// over HTTP and over NATS.
#pragma once

#include <string_view>

namespace txc::api {

// Compared in time independent of where the strings differ, so the token cannot be guessed one
// character at a time from response times.
bool BearerTokenMatches(std::string_view header, std::string_view token);

}  // namespace txc::api
