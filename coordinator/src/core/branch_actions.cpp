#include "core/branch_actions.h"

namespace txc::core {

BranchChanged BranchRecord(const Transaction& tx, const Branch& b, TimePoint now) {
  return BranchChanged{tx.id,      b.index,      b.state, b.op,      b.op_attempt,
                       b.attempts, b.last_error, now,     b.op_since};
}

TxStateChanged StateRecord(const Transaction& tx, TimePoint now) {
  return TxStateChanged{tx.id, tx.state, tx.reason, now};
}

std::string Describe(const Branch& b) {
  return "branch " + std::to_string(b.index) + " (" + b.participant + ")";
}

std::string OperatorAbortReason(const OperatorAbort& abort) {
  return "aborted by operator" + (abort.reason.empty() ? "" : ": " + abort.reason);
}

Actions RejectAbort(const Transaction& tx, const std::string& why) {
  Actions out;
  out.rejected =
      std::string("cannot abort: the transaction is ") + TxStateName(tx.state) + " (" + why + ")";
  return out;
}

void SendToBranch(const Transaction& tx, Branch& b, wire::Op op, BranchState state,
                  const RetryPolicy& retry, TimePoint now, Actions& out, Durability durability) {
  if (b.op != op) {
    b.op = op;
    b.op_attempt = 0;
    b.backoff_from = 0;
  }
  if (b.op_attempt == 0) b.op_since = now;
  b.state = state;
  b.op_attempt += 1;
  b.attempts += 1;
  b.awaiting_reply = true;
  (durability == Durability::kForced ? out.persist : out.lazy).push_back(BranchRecord(tx, b, now));
  out.sends.push_back({b.index, op, b.op_attempt});
  out.timers.push_back({TimerKind::kReplyTimeout, b.index, b.op_attempt, retry.reply_timeout, op});
}

void RecordAttempt(const Transaction& tx, Branch& b, wire::Op op, int number, AttemptResult result,
                   const std::string& error, int64_t latency_us, TimePoint now, Actions& out) {
  if (result != AttemptResult::kOk) {
    b.last_error = std::string(wire::OpName(op)) + " attempt " + std::to_string(number) + ": " +
                   AttemptResultName(result) + (error.empty() ? "" : ": " + error);
  }
  const Attempt attempt{op, number, now, result, error, latency_us};
  out.lazy.push_back(AttemptRecorded{tx.id, b.index, attempt});
  // In memory too, so a finished transaction can be shown without reading the log back; a
  // branch retried for days keeps only its latest attempts here (the log keeps them all).
  b.history.push_back(attempt);
  if (b.history.size() > kHistoryInMemory) b.history.erase(b.history.begin());
}

bool IsCurrent(const Branch& b, const TimerFired& t) {
  return t.op == b.op && t.attempt == b.op_attempt;
}

void ScheduleRetry(const Branch& b, const RetryPolicy& retry, Actions& out) {
  out.timers.push_back({TimerKind::kRetry, b.index, b.op_attempt,
                        retry.BackoffBefore(b.op_attempt + 1 - b.backoff_from), b.op});
}

bool OnReplyTimeout(const Transaction& tx, Branch& b, const TimerFired& t, const RetryPolicy& retry,
                    TimePoint now, Actions& out) {
  if (!IsCurrent(b, t) || !b.awaiting_reply) return false;
  b.awaiting_reply = false;
  RecordAttempt(tx, b, b.op, b.op_attempt, AttemptResult::kTimeout,
                "no reply within " + std::to_string(retry.reply_timeout.count()) + " ms", 0, now,
                out);
  out.lazy.push_back(BranchRecord(tx, b, now));
  ScheduleRetry(b, retry, out);
  return true;
}

}  // namespace txc::core
