// Steps every protocol takes on a branch, each turned into Actions the same way: a send with its
// reply timeout, an attempt record, a retry after back-off, and the log records for them.
#pragma once

#include <string>

#include "core/actions.h"
#include "core/event.h"
#include "core/retry_policy.h"

namespace txc::core {

BranchChanged BranchRecord(const Transaction& tx, const Branch& b, TimePoint now);
TxStateChanged StateRecord(const Transaction& tx, TimePoint now);

// "branch 1 (inventory)", for reasons shown to people.
std::string Describe(const Branch& b);

// "aborted by operator: <their reason>", the transaction's reason after an OperatorAbort.
std::string OperatorAbortReason(const OperatorAbort& abort);
// Actions rejecting an operator's abort of `tx`, in its current state, because of `why`.
Actions RejectAbort(const Transaction& tx, const std::string& why);

// Whether a record must be durable before this event's messages leave (Actions::persist) or may
// follow lazily (Actions::lazy).
enum class Durability { kLazy, kForced };

// Sends `op` to `b` (attempt numbers restart when the op changes), moves it to `state`, logs the
// branch and arms the reply timeout. kForced when the branch's new state must be on disk before
// the message may have an effect (a saga's action: an action sent may have to be compensated).
void SendToBranch(const Transaction& tx, Branch& b, wire::Op op, BranchState state,
                  const RetryPolicy& retry, TimePoint now, Actions& out,
                  Durability durability = Durability::kLazy);

// Attempts kept in Branch::history in memory, newest last.
inline constexpr size_t kHistoryInMemory = 64;

// Logs (lazily) what became of one attempt, and keeps it in the branch's history; a failure also
// becomes the branch's last_error.
void RecordAttempt(const Transaction& tx, Branch& b, wire::Op op, int number, AttemptResult result,
                   const std::string& error, int64_t latency_us, TimePoint now, Actions& out);

// Arms the back-off timer that re-sends the branch's current op.
void ScheduleRetry(const Branch& b, const RetryPolicy& retry, Actions& out);

// The timer was armed for the branch's current op and attempt (not an older message's).
bool IsCurrent(const Branch& b, const TimerFired& t);

// A reply timeout for the attempt in flight: logs it (lazily) and schedules the re-send. Returns
// false (and does nothing) when the timer is stale.
bool OnReplyTimeout(const Transaction& tx, Branch& b, const TimerFired& t, const RetryPolicy& retry,
                    TimePoint now, Actions& out);

}  // namespace txc::core
