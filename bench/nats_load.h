// NatsLoad: drives the coordinator's API over NATS (txc.coordinator.begin with Txc-Wait: true, or
// decision), as HttpLoad drives POST /v1/transactions: the same closed or open loop, from one
// connection, with the same explicit flushing as txc's own transport (nats_event_loop.h).
// Needs a coordinator started with --nats-api true.
#pragma once

#include <functional>
#include <string>

#include "load.h"

namespace txc::bench {

// `terminal_ok` decides whether an answer's body is a success (e.g. state "committed").
// options.host and options.port are not used.
LoadResult RunNatsLoad(const LoadOptions& options, const std::string& nats_url,
                       const std::function<bool(const std::string& body)>& terminal_ok);

}  // namespace txc::bench
