// One-line diagnostics to stderr, prefixed with the participant name. The SDK has no logging
// dependency; a service that wants more can read the counters.
#pragma once

#include <cstdio>
#include <string_view>

namespace txc::sdk {

inline void LogLine(std::string_view participant, std::string_view message) {
  // One fprintf per line so concurrent threads do not interleave within a line.
  std::fprintf(stderr, "txc-participant[%.*s]: %.*s\n", static_cast<int>(participant.size()),
               participant.data(), static_cast<int>(message.size()), message.data());
}

}  // namespace txc::sdk
