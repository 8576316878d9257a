#include "core/two_phase.h"

#include <algorithm>
#include <string>
#include <type_traits>

#include "core/branch_actions.h"

namespace txc::core {
namespace {

bool Awaiting(const Branch& b) {
  return b.state == BranchState::kPreparing || b.state == BranchState::kCommitting ||
         b.state == BranchState::kAborting;
}

}  // namespace

Actions TwoPhaseCommit::On(Transaction& tx, const Event& event, TimePoint now) const {
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

Actions TwoPhaseCommit::OnBegin(Transaction& tx, TimePoint now) const {
  Actions out;
  tx.state = TxState::kPreparing;
  tx.created_at = tx.updated_at = now;
  for (Branch& b : tx.branches) {
    b.state = BranchState::kPreparing;
    b.op = wire::Op::kPrepare;
    b.op_attempt = 1;
    b.op_since = now;
    b.attempts = 1;
    b.awaiting_reply = true;
    out.sends.push_back({b.index, wire::Op::kPrepare, 1});
    out.timers.push_back(
        {TimerKind::kReplyTimeout, b.index, 1, retry_.reply_timeout, wire::Op::kPrepare});
  }
  // The record carries attempt counts already, so no BranchChanged is needed for the first sends.
  // Lazy: a prepare may leave before the transaction is on disk. If the coordinator dies first,
  // it never heard of the transaction and a prepared participant that asks is told abort
  // (presumed abort); the client's 201 still waits for the record.
  out.lazy.insert(out.lazy.begin(), TxCreated{tx});
  out.timers.push_back({TimerKind::kDeadline, -1, 0, tx.timeout});
  return out;
}

Actions TwoPhaseCommit::OnRecover(Transaction& tx, TimePoint now) const {
  Actions out;
  switch (tx.state) {
    case TxState::kPreparing:
      Decide(tx, /*commit=*/false, "coordinator restarted before a decision (presumed abort)", now,
             out);
      break;
    case TxState::kCommitting:
    case TxState::kAborting: {
      const wire::Op op = tx.state == TxState::kCommitting ? wire::Op::kCommit : wire::Op::kAbort;
      for (Branch& b : tx.branches) {
        if (Awaiting(b)) SendPhaseTwo(tx, b, op, now, out);
      }
      FinishIfDone(tx, now, out);
      break;
    }
    default:  // terminal (or another protocol's state, which 2PC never enters)
      break;
  }
  return out;
}

Actions TwoPhaseCommit::OnReply(Transaction& tx, const Reply& r, TimePoint now) const {
  Actions out;
  if (r.branch < 0 || r.branch >= static_cast<int>(tx.branches.size())) return out;
  Branch& b = tx.branches[r.branch];
  // Replies to an op this branch is no longer waiting for (duplicates, late prepare votes after
  // the decision) change nothing.
  if (IsTerminal(tx.state) || !Awaiting(b) || r.op != b.op) return out;

  const bool success = r.result == AttemptResult::kOk ||
                       (r.op == wire::Op::kAbort && r.result == AttemptResult::kNoResponders) ||
                       (r.op == wire::Op::kPrepare && r.result == AttemptResult::kRefused);
  const bool current = r.attempt == b.op_attempt && b.awaiting_reply;
  // A failure of an attempt that was already superseded tells us nothing new.
  if (!success && !current) return out;

  RecordAttempt(tx, b, r.op, r.attempt, r.result, r.message, r.latency_us, now, out);
  if (current) b.awaiting_reply = false;

  if (r.op == wire::Op::kPrepare) {
    if (r.result == AttemptResult::kOk) {
      b.state = BranchState::kPrepared;
      out.lazy.push_back(BranchRecord(tx, b, now));
      const bool all_yes = std::all_of(tx.branches.begin(), tx.branches.end(), [](const Branch& x) {
        return x.state == BranchState::kPrepared;
      });
      if (all_yes) Decide(tx, /*commit=*/true, "", now, out);
      return out;
    }
    if (r.result == AttemptResult::kRefused) {
      b.state = BranchState::kRefused;
      out.lazy.push_back(BranchRecord(tx, b, now));
    }
    const char* what = r.result == AttemptResult::kRefused        ? "refused"
                       : r.result == AttemptResult::kNoResponders ? "has no responders"
                                                                  : "failed";
    std::string reason = Describe(b) + " " + what;
    if (!r.message.empty()) reason += ": " + r.message;
    Decide(tx, /*commit=*/false, std::move(reason), now, out);
    return out;
  }

  // Phase two.
  if (success) {
    b.state = r.op == wire::Op::kCommit ? BranchState::kCommitted : BranchState::kAborted;
    out.lazy.push_back(BranchRecord(tx, b, now));
    FinishIfDone(tx, now, out);
  } else {
    out.lazy.push_back(BranchRecord(tx, b, now));
    ScheduleRetry(b, retry_, out);
  }
  return out;
}

Actions TwoPhaseCommit::OnTimer(Transaction& tx, const TimerFired& t, TimePoint now) const {
  Actions out;
  if (IsTerminal(tx.state)) return out;
  if (t.kind == TimerKind::kDeadline) {
    if (tx.state != TxState::kPreparing) return out;
    std::string waiting;
    for (const Branch& b : tx.branches) {
      if (b.state == BranchState::kPreparing)
        waiting += (waiting.empty() ? "" : ", ") + Describe(b);
    }
    Decide(tx, /*commit=*/false,
           "prepare deadline of " + std::to_string(tx.timeout.count()) + " ms passed waiting for " +
               waiting,
           now, out);
    return out;
  }
  if (t.branch < 0 || t.branch >= static_cast<int>(tx.branches.size())) return out;
  Branch& b = tx.branches[t.branch];
  if (!Awaiting(b) || !IsCurrent(b, t)) return out;
  if (t.kind == TimerKind::kReplyTimeout) {
    OnReplyTimeout(tx, b, t, retry_, now, out);
  } else if (t.kind == TimerKind::kRetry && !b.awaiting_reply) {
    SendPhaseTwo(tx, b, b.op, now, out);
  }
  return out;
}

Actions TwoPhaseCommit::OnOperatorAbort(Transaction& tx, const OperatorAbort& abort,
                                        TimePoint now) const {
  Actions out;
  switch (tx.state) {
    case TxState::kPreparing:
      Decide(tx, /*commit=*/false, OperatorAbortReason(abort), now, out);
      return out;
    case TxState::kAborting:
    case TxState::kAborted:
      return out;  // aborting already: asking twice is not an error
    default:
      return RejectAbort(tx, "the commit decision is logged and must be applied");
  }
}

void TwoPhaseCommit::Decide(Transaction& tx, bool commit, std::string reason, TimePoint now,
                            Actions& out) const {
  tx.state = commit ? TxState::kCommitting : TxState::kAborting;
  tx.reason = std::move(reason);
  tx.updated_at = now;
  // The decision rides in the same batch as the phase-two sends, so it is durable before them.
  out.persist.push_back(StateRecord(tx, now));
  for (Branch& b : tx.branches) {
    if (!commit && b.state == BranchState::kRefused) continue;  // already rolled back
    SendPhaseTwo(tx, b, commit ? wire::Op::kCommit : wire::Op::kAbort, now, out);
  }
  FinishIfDone(tx, now, out);
}

void TwoPhaseCommit::SendPhaseTwo(Transaction& tx, Branch& b, wire::Op op, TimePoint now,
                                  Actions& out) const {
  // Also re-sends a lost prepare: the op then stays kPrepare.
  const BranchState state = op == wire::Op::kCommit  ? BranchState::kCommitting
                            : op == wire::Op::kAbort ? BranchState::kAborting
                                                     : BranchState::kPreparing;
  SendToBranch(tx, b, op, state, retry_, now, out);
}

void TwoPhaseCommit::FinishIfDone(Transaction& tx, TimePoint now, Actions& out) const {
  if (tx.state != TxState::kCommitting && tx.state != TxState::kAborting) return;
  if (std::any_of(tx.branches.begin(), tx.branches.end(), Awaiting)) return;
  tx.state = tx.state == TxState::kCommitting ? TxState::kCommitted : TxState::kAborted;
  tx.updated_at = now;
  // Lazy: the decision is on disk; if this is lost, recovery re-sends phase two and every
  // branch acknowledges again.
  out.lazy.push_back(StateRecord(tx, now));
  out.terminal = true;
}

}  // namespace txc::core
