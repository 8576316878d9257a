// Actions: what a protocol asks the engine to do after an event. The engine makes `persist`
// durable (one group commit) before anything in `sends` leaves and before `timers` are armed:
// "log the decision, then send it" is this struct's contract, not a rule to remember.
#pragma once

#include <string>
#include <variant>
#include <vector>

#include "core/transaction.h"

namespace txc::core {

// Log records. The log applies them in order; together they rebuild every Transaction.
struct TxCreated {  // the whole transaction, branches and payloads included
  Transaction tx;
};
struct TxStateChanged {  // a decision or a terminal state
  std::string id;
  TxState state;
  std::string reason;
  TimePoint at;
};
struct BranchChanged {
  std::string id;
  int branch;
  BranchState state;
  wire::Op op;
  int op_attempt;
  int attempts;
  std::string last_error;
  TimePoint at;
};
struct AttemptRecorded {
  std::string id;
  int branch;
  Attempt attempt;
};
using LogRecord = std::variant<TxCreated, TxStateChanged, BranchChanged, AttemptRecorded>;

struct SendCommand {
  int branch;
  wire::Op op;
  int attempt;
};

enum class TimerKind {
  kDeadline,      // the transaction's phase-one deadline
  kReplyTimeout,  // no reply to (branch, attempt) in time
  kRetry,         // back-off elapsed: send (branch) again
};
const char* TimerKindName(TimerKind k);

struct TimerCommand {
  TimerKind kind;
  int branch;   // -1 for transaction-wide timers
  int attempt;  // the (op, attempt) the timer belongs to; stale timers are ignored
  Duration delay;
  wire::Op op = wire::Op::kPrepare;
};

struct Actions {
  std::vector<LogRecord> persist;
  std::vector<SendCommand> sends;
  std::vector<TimerCommand> timers;
  bool terminal = false;  // the transaction is finished once `persist` is durable

  bool empty() const { return persist.empty() && sends.empty() && timers.empty() && !terminal; }
};

}  // namespace txc::core
