// A request to start a transaction, whichever way it came (POST /v1/transactions, or NATS on
// wire::kBeginSubject): its JSON body and what travels beside it (headers, ?wait), turned into a
// BeginCommand with the same validation and the same messages for both.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "api/request_parser.h"
#include "api/transaction_service.h"

namespace txc::api {

struct BeginRequest {
  std::string_view body;
  std::optional<std::string> idempotency_key;  // the Idempotency-Key header, if sent
  std::string traceparent;                     // the traceparent header, or ""
  std::string wait;                            // HTTP ?wait=, NATS Txc-Wait: "" when not sent
};

// `wait` (true, 1, decision, false, 0) holds the answer until the end (or the decision), at most
// max_wait and never more than 30 s past the transaction's own timeout. A malformed traceparent
// is ignored (the trace restarts here), as W3C Trace Context says.
Result<BeginCommand> ParseBeginCommand(const BeginRequest& request, const ParseLimits& limits,
                                       core::Duration max_wait);

}  // namespace txc::api
