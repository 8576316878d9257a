// Actions: what a protocol asks the engine to do after an event. The engine makes `persist`
// durable (one group commit) before anything in `sends` leaves and before `timers` are armed:
// "log the decision, then send it" is this struct's contract, not a rule to remember.
//
// `lazy` records are appended right after `persist`, in order, but nothing waits for them: what a
// protocol can lose in a crash without changing any outcome (a vote, an acknowledgement, an
// attempt count, the terminal state after the decision) rides along with the next forced write
// instead of costing an fsync on the critical path. Only `persist` is a promise.
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
  TimePoint op_since{};  // Branch::op_since
};
struct AttemptRecorded {
  std::string id;
  int branch;
  Attempt attempt;
};
struct AttentionChanged {  // a branch's needs_attention flag, and its transaction's with it
  std::string id;
  int branch;
  bool branch_needs_attention;
  bool tx_needs_attention;
  TimePoint at;
};
struct OperatorActed {  // an operator's accepted abort or retry, for the timeline
  std::string id;
  TxEventKind action;  // kOperatorAbort or kOperatorRetry
  std::string reason;  // the operator's words (abort only)
  TimePoint at;
};
using LogRecord = std::variant<TxCreated, TxStateChanged, BranchChanged, AttemptRecorded,
                               AttentionChanged, OperatorActed>;

// The transaction events (Transaction::events) these records stand for.
TxEvent EventOf(const TxStateChanged& r);
TxEvent EventOf(const AttentionChanged& r);
TxEvent EventOf(const OperatorActed& r);

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
  std::vector<LogRecord> persist;  // durable before any send
  std::vector<LogRecord> lazy;     // appended after `persist`; nobody waits for it
  std::vector<SendCommand> sends;
  std::vector<TimerCommand> timers;
  bool terminal = false;  // the transaction is finished once `persist` is durable
  // Set when an operator action cannot be applied: why. Nothing else is set then.
  std::string rejected;

  bool empty() const {
    return persist.empty() && lazy.empty() && sends.empty() && timers.empty() && !terminal;
  }
  // Appends `more` after what is here (persist to persist, lazy to lazy, ...).
  void Append(Actions more);
};

}  // namespace txc::core
