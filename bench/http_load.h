// HttpLoad: drives POST /v1/transactions?wait=true (or =decision) against the coordinator from one
// thread over many keep-alive connections (epoll, non-blocking), so the load generator costs a
// fraction of what it measures: no thread per in-flight request.
//
// Closed loop: `in_flight` connections each send the next transaction as soon as the previous
// one is answered. Open loop: transactions start at `rate` per second whatever the answers, up
// to `in_flight` at once (beyond that they are counted as not started, a sign of overload).
#pragma once

#include <functional>
#include <string>

#include "load.h"

namespace txc::bench {

// `terminal_ok` decides whether a response body is a success (e.g. state "committed").
LoadResult RunHttpLoad(const LoadOptions& options,
                       const std::function<bool(const std::string& body)>& terminal_ok);

}  // namespace txc::bench
