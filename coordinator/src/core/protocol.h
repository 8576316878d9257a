// The interface every commit protocol implements. Implementations are pure: no I/O, no clock,
// no threads. `now` is the event's wall time, used only to stamp records.
#pragma once

#include "core/actions.h"
#include "core/event.h"
#include "core/retry_policy.h"
#include "core/transaction.h"

namespace txc::core {

class ProtocolMachine {
 public:
  virtual ~ProtocolMachine() = default;
  // Applies `event` to `tx` (mutating it) and returns what must be logged, sent and scheduled.
  virtual Actions On(Transaction& tx, const Event& event, TimePoint now) const = 0;
  // The branch's message applies a decided outcome, so it must be retried until it succeeds
  // (what a retry budget watches: see RetryBudget).
  virtual bool AppliesDecidedOutcome(const Branch& b) const = 0;
};

}  // namespace txc::core
