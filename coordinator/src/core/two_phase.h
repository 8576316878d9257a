// Two-phase commit with presumed abort.
//
//            all branches voted yes                  every branch acknowledged commit
//  preparing ----------------------> committing ------------------------------------> committed
//      |
//      | a "no" vote, an error, no responders, or the phase-one deadline
//      v                 every branch that may be prepared acknowledged abort
//  aborting -----------------------------------------------------------------------> aborted
//
// What is made durable before what is sent (the engine enforces the order per Actions):
//  - TxCreated (the whole transaction) before the first prepare;
//  - TxStateChanged(committing) before the first commit: the commit decision is forced;
//  - TxStateChanged(aborting) before the first abort (presumed abort would allow it lazily, but it
//    rides in the same group commit and lets recovery skip already-finished branches).
// A restart in `preparing` aborts (no decision was logged: presumed abort). Commit is re-sent with
// capped back-off until acknowledged. Abort is re-sent until acknowledged too, except that "no
// responders" counts as done: nobody is subscribed, and a participant that restarts in doubt asks
// the coordinator, which answers abort. A "no" voter has already rolled back and gets no abort.
// An operator may abort (OperatorAbort) only in preparing: it is then the abort decision.
#pragma once

#include "core/protocol.h"

namespace txc::core {

class TwoPhaseCommit final : public ProtocolMachine {
 public:
  explicit TwoPhaseCommit(RetryPolicy retry = {}) : retry_(retry) {}
  Actions On(Transaction& tx, const Event& event, TimePoint now) const override;
  bool AppliesDecidedOutcome(const Branch& b) const override {
    return b.state == BranchState::kCommitting || b.state == BranchState::kAborting;
  }

 private:
  Actions OnBegin(Transaction& tx, TimePoint now) const;
  Actions OnRecover(Transaction& tx, TimePoint now) const;
  Actions OnReply(Transaction& tx, const Reply& reply, TimePoint now) const;
  Actions OnTimer(Transaction& tx, const TimerFired& timer, TimePoint now) const;
  Actions OnOperatorAbort(Transaction& tx, const OperatorAbort& abort, TimePoint now) const;

  void Decide(Transaction& tx, bool commit, std::string reason, TimePoint now, Actions& out) const;
  void SendPhaseTwo(Transaction& tx, Branch& b, wire::Op op, TimePoint now, Actions& out) const;
  void FinishIfDone(Transaction& tx, TimePoint now, Actions& out) const;

  RetryPolicy retry_;
};

}  // namespace txc::core
