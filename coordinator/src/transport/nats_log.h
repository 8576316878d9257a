// What every nats.c callback of the transport needs: one "nats" line in the coordinator's log,
// a guard that stops exceptions at the C boundary, and nats.c's statuses as ours. Internal to
// txc_transport.
#pragma once

#include <array>
#include <cstdarg>
#include <cstdio>
#include <exception>

#include <nats/nats.h>

#include <string>

#include "applog/applog.h"
#include "txc/status.h"

namespace txc::transport {

// One "nats" event in the coordinator's log, with a printf-formatted message (cut at 511 bytes).
__attribute__((format(printf, 2, 3))) inline void Log(applog::Level level, const char* format,
                                                      ...) {
  if (!applog::Enabled(level)) return;
  std::array<char, 512> line{};
  va_list args;
  va_start(args, format);
  std::vsnprintf(line.data(), line.size(), format, args);
  va_end(args);
  applog::Write(level, "nats", {{"message", line.data()}});
}

// Runs a nats.c callback body; nothing may unwind through C.
template <typename F>
void CatchAll(const char* what, F&& body) noexcept {
  try {
    body();
  } catch (const std::exception& e) {
    Log(applog::Level::kError, "%s threw: %s", what, e.what());
  } catch (...) {
    Log(applog::Level::kError, "%s threw a non-standard exception", what);
  }
}

// nats.c's status as ours, saying `what` failed: bad input kInvalidArgument, no memory
// kResourceExhausted, a timeout kDeadlineExceeded, anything else (closed, I/O) kUnavailable.
Status FromNats(natsStatus s, const std::string& what);

}  // namespace txc::transport
