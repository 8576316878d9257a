#include "core/three_phase.h"

#include <algorithm>
#include <string>
#include <type_traits>

#include "core/branch_actions.h"

namespace txc::core {
namespace {

bool Awaiting(const Branch& b) {
  return b.state == BranchState::kPreparing || b.state == BranchState::kPreCommitting ||
         b.state == BranchState::kCommitting || b.state == BranchState::kAborting;
}

// The op and branch state of each phase's message.
wire::Op OpFor(TxState s) {
  switch (s) {
    case TxState::kPreCommitting:
      return wire::Op::kPreCommit;
    case TxState::kCommitting:
      return wire::Op::kDoCommit;
    case TxState::kAborting:
      return wire::Op::kAbort;
    default:
      return wire::Op::kCanCommit;
  }
}

BranchState SendingState(wire::Op op) {
  switch (op) {
    case wire::Op::kPreCommit:
      return BranchState::kPreCommitting;
    case wire::Op::kDoCommit:
      return BranchState::kCommitting;
    case wire::Op::kAbort:
      return BranchState::kAborting;
    default:
      return BranchState::kPreparing;
  }
}

}  // namespace

Actions ThreePhaseCommit::On(Transaction& tx, const Event& event, TimePoint now) const {
  return std::visit(
      [&](const auto& e) -> Actions {
        using E = std::decay_t<decltype(e)>;
        if constexpr (std::is_same_v<E, Begin>) return OnBegin(tx, now);
        if constexpr (std::is_same_v<E, Recover>) return OnRecover(tx, now);
        if constexpr (std::is_same_v<E, Reply>) return OnReply(tx, e, now);
        if constexpr (std::is_same_v<E, TimerFired>) return OnTimer(tx, e, now);
        if constexpr (std::is_same_v<E, OperatorAbort>) return OnOperatorAbort(tx, e, now);
        if constexpr (std::is_same_v<E, OperatorRetry>) return Actions{};  // OperatedMachine's
      },
      event);
}

Actions ThreePhaseCommit::OnBegin(Transaction& tx, TimePoint now) const {
  Actions out;
  tx.state = TxState::kPreparing;
  tx.created_at = tx.updated_at = now;
  out.lazy.push_back(TxCreated{tx});  // presumed abort covers a crash before it is on disk
  for (Branch& b : tx.branches) {
    SendToBranch(tx, b, wire::Op::kCanCommit, BranchState::kPreparing, retry_, now, out);
  }
  out.timers.push_back({TimerKind::kDeadline, -1, 0, tx.timeout, wire::Op::kCanCommit});
  return out;
}

Actions ThreePhaseCommit::OnRecover(Transaction& tx, TimePoint now) const {
  Actions out;
  switch (tx.state) {
    case TxState::kPreparing:
      EnterPhase(tx, TxState::kAborting, "coordinator restarted before a decision (presumed abort)",
                 now, out);
      break;
    case TxState::kPreCommitting:
    case TxState::kCommitting:
    case TxState::kAborting:
      // No pre-commit deadline is armed: after a restart only every participant's answer decides.
      if (tx.state == TxState::kPreCommitting &&
          std::all_of(tx.branches.begin(), tx.branches.end(),
                      [](const Branch& b) { return b.state == BranchState::kPreCommitted; })) {
        EnterPhase(tx, TxState::kCommitting, "", now, out);  // every ack was in before the crash
        break;
      }
      for (Branch& b : tx.branches) {
        if (Awaiting(b)) SendToBranch(tx, b, OpFor(tx.state), b.state, retry_, now, out);
      }
      FinishIfDone(tx, now, out);
      break;
    default:
      break;
  }
  return out;
}

Actions ThreePhaseCommit::OnReply(Transaction& tx, const Reply& r, TimePoint now) const {
  Actions out;
  if (r.branch < 0 || r.branch >= static_cast<int>(tx.branches.size())) return out;
  Branch& b = tx.branches[r.branch];
  if (IsTerminal(tx.state) || !Awaiting(b) || r.op != b.op) return out;
  switch (r.op) {
    case wire::Op::kCanCommit:
      OnVote(tx, b, r, now, out);
      break;
    case wire::Op::kPreCommit:
      OnPreCommitAck(tx, b, r, now, out);
      break;
    default: {  // do_commit / abort: acknowledged, or re-sent until they are
      const bool done = r.result == AttemptResult::kOk ||
                        (r.op == wire::Op::kAbort && r.result == AttemptResult::kNoResponders);
      const bool current = r.attempt == b.op_attempt && b.awaiting_reply;
      if (!done && !current) break;
      RecordAttempt(tx, b, r.op, r.attempt, r.result, r.message, r.latency_us, now, out);
      if (current) b.awaiting_reply = false;
      if (done) {
        b.state = r.op == wire::Op::kAbort ? BranchState::kAborted : BranchState::kCommitted;
        out.lazy.push_back(BranchRecord(tx, b, now));
        FinishIfDone(tx, now, out);
      } else {
        out.lazy.push_back(BranchRecord(tx, b, now));
        ScheduleRetry(b, retry_, out);
      }
    }
  }
  return out;
}

void ThreePhaseCommit::OnVote(Transaction& tx, Branch& b, const Reply& r, TimePoint now,
                              Actions& out) const {
  const bool definitive = r.result == AttemptResult::kOk || r.result == AttemptResult::kRefused;
  const bool current = r.attempt == b.op_attempt && b.awaiting_reply;
  if (!definitive && !current) return;
  RecordAttempt(tx, b, r.op, r.attempt, r.result, r.message, r.latency_us, now, out);
  if (current) b.awaiting_reply = false;
  if (r.result == AttemptResult::kOk) {
    b.state = BranchState::kPrepared;
    out.lazy.push_back(BranchRecord(tx, b, now));
    if (std::all_of(tx.branches.begin(), tx.branches.end(),
                    [](const Branch& x) { return x.state == BranchState::kPrepared; })) {
      EnterPhase(tx, TxState::kPreCommitting, "", now, out);
      out.timers.push_back({TimerKind::kDeadline, -1, 0, tx.timeout, wire::Op::kPreCommit});
    }
    return;
  }
  if (r.result == AttemptResult::kRefused) {
    b.state = BranchState::kRefused;
    out.lazy.push_back(BranchRecord(tx, b, now));
  }
  const char* what = r.result == AttemptResult::kRefused        ? "refused"
                     : r.result == AttemptResult::kNoResponders ? "has no responders"
                                                                : "failed";
  EnterPhase(tx, TxState::kAborting,
             Describe(b) + " " + what + (r.message.empty() ? "" : ": " + r.message), now, out);
}

void ThreePhaseCommit::OnPreCommitAck(Transaction& tx, Branch& b, const Reply& r, TimePoint now,
                                      Actions& out) const {
  const bool definitive = r.result == AttemptResult::kOk || r.result == AttemptResult::kRefused;
  const bool current = r.attempt == b.op_attempt && b.awaiting_reply;
  if (!definitive && !current) return;
  RecordAttempt(tx, b, r.op, r.attempt, r.result, r.message, r.latency_us, now, out);
  if (current) b.awaiting_reply = false;
  if (r.result == AttemptResult::kOk) {
    b.state = BranchState::kPreCommitted;
    out.lazy.push_back(BranchRecord(tx, b, now));
    if (std::all_of(tx.branches.begin(), tx.branches.end(),
                    [](const Branch& x) { return x.state == BranchState::kPreCommitted; })) {
      EnterPhase(tx, TxState::kCommitting, "", now, out);
    }
  } else if (r.result == AttemptResult::kRefused) {
    // Only possible if the participants terminated with abort while they could not reach us.
    EnterPhase(tx, TxState::kAborting,
               Describe(b) + " refused pre_commit" + (r.message.empty() ? "" : ": " + r.message),
               now, out);
  } else {
    out.lazy.push_back(BranchRecord(tx, b, now));
    ScheduleRetry(b, retry_, out);
  }
}

Actions ThreePhaseCommit::OnTimer(Transaction& tx, const TimerFired& t, TimePoint now) const {
  Actions out;
  if (IsTerminal(tx.state)) return out;
  if (t.kind == TimerKind::kDeadline) {
    if (t.op == wire::Op::kCanCommit && tx.state == TxState::kPreparing) {
      EnterPhase(tx, TxState::kAborting,
                 "vote deadline of " + std::to_string(tx.timeout.count()) + " ms passed", now, out);
    } else if (t.op == wire::Op::kPreCommit && tx.state == TxState::kPreCommitting) {
      EnterPhase(tx, TxState::kCommitting,
                 "not every participant acknowledged pre_commit in time; committing (3PC)", now,
                 out);
    }
    return out;
  }
  if (t.branch < 0 || t.branch >= static_cast<int>(tx.branches.size())) return out;
  Branch& b = tx.branches[t.branch];
  if (!Awaiting(b) || !IsCurrent(b, t)) return out;
  if (t.kind == TimerKind::kReplyTimeout) {
    OnReplyTimeout(tx, b, t, retry_, now, out);
  } else if (t.kind == TimerKind::kRetry && !b.awaiting_reply) {
    SendToBranch(tx, b, b.op, b.state, retry_, now, out);
  }
  return out;
}

Actions ThreePhaseCommit::OnOperatorAbort(Transaction& tx, const OperatorAbort& abort,
                                          TimePoint now) const {
  Actions out;
  switch (tx.state) {
    case TxState::kPreparing:
      EnterPhase(tx, TxState::kAborting, OperatorAbortReason(abort), now, out);
      return out;
    case TxState::kAborting:
    case TxState::kAborted:
      return out;  // aborting already: asking twice is not an error
    case TxState::kPreCommitting:
      return RejectAbort(tx, "participants were told to pre-commit and may commit on their own");
    default:
      return RejectAbort(tx, "the commit decision is logged and must be applied");
  }
}

void ThreePhaseCommit::EnterPhase(Transaction& tx, TxState state, std::string reason, TimePoint now,
                                  Actions& out) const {
  tx.state = state;
  if (!reason.empty()) tx.reason = std::move(reason);
  tx.updated_at = now;
  out.persist.push_back(StateRecord(tx, now));  // durable before this phase's messages
  const wire::Op op = OpFor(state);
  for (Branch& b : tx.branches) {
    if (state == TxState::kAborting && b.state == BranchState::kRefused) continue;
    if (state == TxState::kCommitting && b.state == BranchState::kCommitted) continue;
    SendToBranch(tx, b, op, SendingState(op), retry_, now, out);
  }
  FinishIfDone(tx, now, out);
}

void ThreePhaseCommit::FinishIfDone(Transaction& tx, TimePoint now, Actions& out) const {
  if (tx.state != TxState::kCommitting && tx.state != TxState::kAborting) return;
  if (std::any_of(tx.branches.begin(), tx.branches.end(), Awaiting)) return;
  tx.state = tx.state == TxState::kCommitting ? TxState::kCommitted : TxState::kAborted;
  tx.updated_at = now;
  out.lazy.push_back(StateRecord(tx, now));  // the decision is on disk already
  out.terminal = true;
}

}  // namespace txc::core
