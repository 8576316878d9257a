#include "branch_transitions.h"

namespace txc::sdk {
namespace {

using Kind = BranchStep::Kind;

BranchStep Reply(wire::Outcome outcome, std::string message = "", bool violation = false) {
  return BranchStep{Kind::kReply, outcome, std::move(message), violation};
}
BranchStep Record(BranchState to) { return BranchStep{Kind::kRecord, {}, "", false, to}; }
BranchStep Apply(BranchState to) { return BranchStep{Kind::kApply, {}, "", false, to}; }
BranchStep Vote(BranchState to, BranchState refused_to) {
  return BranchStep{Kind::kVote, {}, "", false, to, refused_to};
}

bool IsSagaState(BranchState s) {
  return s == BranchState::kDone || s == BranchState::kFailed || s == BranchState::kCompensated;
}

bool IsSagaOp(wire::Op op) { return op == wire::Op::kAction || op == wire::Op::kCompensate; }

BranchStep CommitProtocolStep(wire::Op op, std::optional<BranchState> state) {
  using S = BranchState;
  const std::string name = wire::OpName(op);
  switch (op) {
    case wire::Op::kPrepare:
    case wire::Op::kCanCommit:
      if (!state) return Vote(S::kPrepared, S::kAborted);
      if (*state == S::kAborted) return Reply(wire::Outcome::kRefused, "already aborted");
      return Reply(wire::Outcome::kOk);  // a duplicate of the yes vote
    case wire::Op::kPreCommit:
      if (!state) return Reply(wire::Outcome::kError, "pre_commit for a branch that never voted");
      if (*state == S::kPrepared) return Apply(S::kPreCommitted);
      if (*state == S::kAborted) return Reply(wire::Outcome::kRefused, "already aborted");
      return Reply(wire::Outcome::kOk);
    case wire::Op::kCommit:
    case wire::Op::kDoCommit:
      if (!state) {
        return Reply(wire::Outcome::kError, "unknown branch: no prepare was recorded", true);
      }
      if (*state == S::kCommitted) return Reply(wire::Outcome::kOk);
      if (*state == S::kAborted) {
        return Reply(wire::Outcome::kError, name + " for a branch that is already aborted", true);
      }
      return Apply(S::kCommitted);
    case wire::Op::kAbort:
      if (!state) return Record(S::kAborted);  // null rollback: a late prepare will be refused
      if (*state == S::kAborted) return Reply(wire::Outcome::kOk);
      if (*state == S::kCommitted) {
        return Reply(wire::Outcome::kError, "abort for a branch that is already committed", true);
      }
      return Apply(S::kAborted);
    default:
      return Reply(wire::Outcome::kError, "unexpected op " + name);
  }
}

BranchStep SagaStep(wire::Op op, std::optional<BranchState> state) {
  using S = BranchState;
  if (op == wire::Op::kAction) {
    if (!state) return Vote(S::kDone, S::kFailed);
    if (*state == S::kDone) return Reply(wire::Outcome::kOk);
    if (*state == S::kFailed) return Reply(wire::Outcome::kRefused, "the action already failed");
    return Reply(wire::Outcome::kRefused,
                 "already compensated: an action that arrives after its compensation has no "
                 "effect");
  }
  if (!state) return Record(S::kCompensated);  // null compensation: the action never ran here
  if (*state == S::kDone) return Apply(S::kCompensated);
  if (*state == S::kFailed) return Record(S::kCompensated);  // nothing took effect
  return Reply(wire::Outcome::kOk);
}

}  // namespace

BranchStep PlanStep(wire::Op op, std::optional<BranchState> state) {
  if (state && IsSagaState(*state) != IsSagaOp(op)) {
    return Reply(wire::Outcome::kError,
                 std::string(wire::OpName(op)) + " for a branch recorded as " +
                     BranchStateName(*state) + " (another protocol)",
                 true);
  }
  return IsSagaOp(op) ? SagaStep(op, state) : CommitProtocolStep(op, state);
}

}  // namespace txc::sdk
