// Saga: a sequence (or DAG) of steps, each an action with a compensation on its participant.
//
//            every action done
//  running ------------------------------------------------------------------> completed
//     |
//     | an action refused, or the saga's deadline passed with an action not done
//     v                    every step that is done or may be done is compensated
//  compensating -------------------------------------------------------------> compensated
//
// Steps: waiting -> acting -> done | failed; then, when compensating:
// done/acting -> compensating -> compensated; waiting -> skipped; failed stays failed.
//
// Ordering: a step starts once every step in its `after` list is done (the API makes each step
// come after the previous one unless told otherwise), so independent steps run concurrently.
// Compensation runs in reverse dependency order: a step is compensated only once every step that
// came after it is compensated, skipped or failed — for a sequential saga, reverse completion
// order. An action still in flight (or timed out) when compensation starts may have taken
// effect, so it is compensated too; the SDK refuses the late action (no hanging effect).
//
// Retries: a transient failure (error, timeout, no responders) of an action is re-sent with
// capped back-off until the saga's deadline (created_at + timeout), which then counts as a
// failure. A compensation is re-sent until it succeeds, however long that takes.
//
// Persisted before sent: TxCreated (every step, payload, dependency and option) before the first
// action; each step's result before the steps that follow it are started; TxStateChanged
// (compensating) before the first compensation. An operator's abort (OperatorAbort) of a running
// saga compensates it, as a failed step would.
#pragma once

#include "core/protocol.h"

namespace txc::core {

class Saga final : public ProtocolMachine {
 public:
  explicit Saga(RetryPolicy retry = {}) : retry_(retry) {}
  Actions On(Transaction& tx, const Event& event, TimePoint now) const override;
  bool AppliesDecidedOutcome(const Branch& b) const override {
    return b.state == BranchState::kCompensating;
  }

 private:
  Actions OnBegin(Transaction& tx, TimePoint now) const;
  Actions OnRecover(Transaction& tx, TimePoint now) const;
  Actions OnReply(Transaction& tx, const Reply& reply, TimePoint now) const;
  Actions OnTimer(Transaction& tx, const TimerFired& timer, TimePoint now) const;
  Actions OnOperatorAbort(Transaction& tx, const OperatorAbort& abort, TimePoint now) const;

  void StartReadySteps(Transaction& tx, TimePoint now, Actions& out) const;
  void Compensate(Transaction& tx, std::string reason, TimePoint now, Actions& out) const;
  void AdvanceCompensation(Transaction& tx, TimePoint now, Actions& out) const;
  void Finish(Transaction& tx, TxState state, TimePoint now, Actions& out) const;

  RetryPolicy retry_;
};

}  // namespace txc::core
