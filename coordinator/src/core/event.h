// Events a protocol reacts to. They carry no I/O handles: the engine translates transport
// callbacks and timer firings into these.
#pragma once

#include <string>
#include <variant>

#include "core/actions.h"
#include "core/transaction.h"

namespace txc::core {

struct Begin {};    // a new transaction was accepted (not yet logged)
struct Recover {};  // the transaction was rebuilt from the log after a restart

struct Reply {
  int branch = 0;
  wire::Op op = wire::Op::kPrepare;
  int attempt = 1;
  AttemptResult result = AttemptResult::kOk;  // never kTimeout: timeouts are TimerFired
  std::string message;
  int64_t latency_us = 0;
};

struct TimerFired {
  TimerKind kind;
  int branch;
  int attempt;
  wire::Op op = wire::Op::kPrepare;  // with `attempt`: which message the timer was armed for
};

// Operator actions (POST /v1/transactions/{id}/abort, .../retry). A protocol that cannot apply
// one answers with Actions::rejected and leaves the transaction unchanged.
struct OperatorAbort {  // abort while no commit decision exists (a saga compensates)
  std::string reason;
};
struct OperatorRetry {};  // re-send every branch waiting for a retry now, back-off restarted

using Event = std::variant<Begin, Recover, Reply, TimerFired, OperatorAbort, OperatorRetry>;

// "abort" or "retry" for an operator action, as the API names it; "" for any other event.
inline const char* OperatorActionName(const Event& e) {
  if (std::holds_alternative<OperatorAbort>(e)) return "abort";
  if (std::holds_alternative<OperatorRetry>(e)) return "retry";
  return "";
}

}  // namespace txc::core
