// Three-phase commit (Skeen), coordinator side, with presumed abort.
//
//             all voted yes                 all acknowledged, or the
//  preparing ---------------> precommitting ----------------------------> committing -> committed
//      |                            |         pre-commit timeout (first run only)
//      | a no vote, an error,       | a participant refuses pre_commit (it aborted through the
//      | no responders, deadline    | termination protocol while we were down)
//      v                            v
//  aborting -----------------------------------------------------------------------> aborted
//
// Persisted before sent: TxCreated before can_commit (which carries every participant's name, so
// peers can find each other); TxStateChanged(precommitting) before the first pre_commit;
// TxStateChanged(committing) before the first do_commit; TxStateChanged(aborting) before abort.
//
// Timeouts (Skeen): waiting for votes -> abort; waiting for pre_commit acknowledgements -> commit
// (a silent participant learns the outcome when it recovers or asks). That second rule is only
// safe while participants could not have terminated without us. After a restart in
// precommitting they may have (all uncertain -> abort), so recovery re-sends pre_commit and waits
// for every answer with no timeout: all acknowledged -> commit, any refusal -> abort.
// A status query in preparing or precommitting is answered "pending". An operator may abort
// (OperatorAbort) only in preparing: once pre_commit has left, participants may commit alone.
#pragma once

#include "core/protocol.h"

namespace txc::core {

class ThreePhaseCommit final : public ProtocolMachine {
 public:
  explicit ThreePhaseCommit(RetryPolicy retry = {}) : retry_(retry) {}
  Actions On(Transaction& tx, const Event& event, TimePoint now) const override;
  bool AppliesDecidedOutcome(const Branch& b) const override {
    // pre_commit too: once logged it is re-sent until acknowledged after a restart.
    return b.state == BranchState::kPreCommitting || b.state == BranchState::kCommitting ||
           b.state == BranchState::kAborting;
  }

 private:
  Actions OnBegin(Transaction& tx, TimePoint now) const;
  Actions OnRecover(Transaction& tx, TimePoint now) const;
  Actions OnReply(Transaction& tx, const Reply& reply, TimePoint now) const;
  Actions OnTimer(Transaction& tx, const TimerFired& timer, TimePoint now) const;
  Actions OnOperatorAbort(Transaction& tx, const OperatorAbort& abort, TimePoint now) const;

  void OnVote(Transaction& tx, Branch& b, const Reply& r, TimePoint now, Actions& out) const;
  void OnPreCommitAck(Transaction& tx, Branch& b, const Reply& r, TimePoint now,
                      Actions& out) const;
  void EnterPhase(Transaction& tx, TxState state, std::string reason, TimePoint now,
                  Actions& out) const;
  void FinishIfDone(Transaction& tx, TimePoint now, Actions& out) const;

  RetryPolicy retry_;
};

}  // namespace txc::core
