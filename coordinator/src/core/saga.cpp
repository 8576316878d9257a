#include "core/saga.h"

#include <algorithm>
#include <string>
#include <type_traits>

#include "core/branch_actions.h"

namespace txc::core {
namespace {

// Done, or possibly done: its effects must be undone if the saga compensates.
bool NeedsCompensation(const Branch& b) {
  return b.state == BranchState::kDone || b.state == BranchState::kActing;
}

bool Settled(const Branch& b) {
  return b.state == BranchState::kCompensated || b.state == BranchState::kSkipped ||
         b.state == BranchState::kFailed || b.state == BranchState::kWaiting;
}

bool DependsOn(const Branch& later, int earlier) {
  return std::find(later.after.begin(), later.after.end(), earlier) != later.after.end();
}

}  // namespace

Actions Saga::On(Transaction& tx, const Event& event, TimePoint now) const {
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

Actions Saga::OnBegin(Transaction& tx, TimePoint now) const {
  Actions out;
  tx.state = TxState::kRunning;
  tx.created_at = tx.updated_at = now;
  for (Branch& b : tx.branches) b.state = BranchState::kWaiting;
  // The whole saga is logged before anything runs; the first sends' records follow it.
  out.persist.push_back(TxCreated{tx});
  StartReadySteps(tx, now, out);
  out.timers.push_back({TimerKind::kDeadline, -1, 0, tx.timeout});
  return out;
}

Actions Saga::OnRecover(Transaction& tx, TimePoint now) const {
  Actions out;
  if (tx.state == TxState::kRunning) {
    for (Branch& b : tx.branches) {
      if (b.state == BranchState::kActing) {
        SendToBranch(tx, b, wire::Op::kAction, BranchState::kActing, retry_, now, out);
      }
    }
    StartReadySteps(tx, now, out);
    const Duration left =
        std::max(Duration(0), tx.timeout - (now - tx.created_at));  // may already have passed
    out.timers.push_back({TimerKind::kDeadline, -1, 0, left});
  } else if (tx.state == TxState::kCompensating) {
    for (Branch& b : tx.branches) {
      if (b.state == BranchState::kCompensating) {
        SendToBranch(tx, b, wire::Op::kCompensate, BranchState::kCompensating, retry_, now, out);
      }
    }
    AdvanceCompensation(tx, now, out);
  }
  return out;
}

Actions Saga::OnReply(Transaction& tx, const Reply& r, TimePoint now) const {
  Actions out;
  if (IsTerminal(tx.state)) return out;
  if (r.branch < 0 || r.branch >= static_cast<int>(tx.branches.size())) return out;
  Branch& b = tx.branches[r.branch];
  const bool current = r.attempt == b.op_attempt && b.awaiting_reply && r.op == b.op;

  if (r.op == wire::Op::kAction && b.state == BranchState::kActing) {
    const bool definitive = r.result == AttemptResult::kOk || r.result == AttemptResult::kRefused;
    if (!definitive && !current) return out;  // a superseded attempt's failure
    RecordAttempt(tx, b, r.op, r.attempt, r.result, r.message, r.latency_us, now, out);
    if (r.op == b.op && r.attempt == b.op_attempt) b.awaiting_reply = false;
    if (r.result == AttemptResult::kOk) {
      b.state = BranchState::kDone;
      out.persist.push_back(BranchRecord(tx, b, now));
      if (tx.state == TxState::kRunning) {
        if (std::all_of(tx.branches.begin(), tx.branches.end(),
                        [](const Branch& x) { return x.state == BranchState::kDone; })) {
          Finish(tx, TxState::kCompleted, now, out);
        } else {
          StartReadySteps(tx, now, out);
        }
      } else {
        AdvanceCompensation(tx, now, out);  // done now: compensated in its turn
      }
    } else if (r.result == AttemptResult::kRefused) {
      b.state = BranchState::kFailed;
      out.persist.push_back(BranchRecord(tx, b, now));
      if (tx.state == TxState::kRunning) {
        Compensate(tx, Describe(b) + " failed" + (r.message.empty() ? "" : ": " + r.message), now,
                   out);
      } else {
        AdvanceCompensation(tx, now, out);  // nothing of it to undo
      }
    } else if (tx.state == TxState::kRunning) {
      out.lazy.push_back(BranchRecord(tx, b, now));
      ScheduleRetry(b, retry_, out);  // transient: again, until the deadline
    }
    return out;
  }

  if (r.op == wire::Op::kCompensate && b.state == BranchState::kCompensating) {
    if (r.result != AttemptResult::kOk && !current) return out;
    RecordAttempt(tx, b, r.op, r.attempt, r.result, r.message, r.latency_us, now, out);
    if (current) b.awaiting_reply = false;
    if (r.result == AttemptResult::kOk) {
      b.state = BranchState::kCompensated;
      out.persist.push_back(BranchRecord(tx, b, now));
      AdvanceCompensation(tx, now, out);
    } else {
      // A compensation must eventually succeed: every failure, a refusal included, is retried.
      out.lazy.push_back(BranchRecord(tx, b, now));
      ScheduleRetry(b, retry_, out);
    }
  }
  return out;
}

Actions Saga::OnTimer(Transaction& tx, const TimerFired& t, TimePoint now) const {
  Actions out;
  if (IsTerminal(tx.state)) return out;
  if (t.kind == TimerKind::kDeadline) {
    if (tx.state != TxState::kRunning) return out;
    std::string pending;
    for (const Branch& b : tx.branches) {
      if (b.state != BranchState::kDone) pending += (pending.empty() ? "" : ", ") + Describe(b);
    }
    Compensate(tx,
               "saga deadline of " + std::to_string(tx.timeout.count()) +
                   " ms passed with steps not done: " + pending,
               now, out);
    return out;
  }
  if (t.branch < 0 || t.branch >= static_cast<int>(tx.branches.size())) return out;
  Branch& b = tx.branches[t.branch];
  const bool in_flight = (b.state == BranchState::kActing && tx.state == TxState::kRunning) ||
                         b.state == BranchState::kCompensating;
  if (!in_flight || !IsCurrent(b, t)) return out;
  if (t.kind == TimerKind::kReplyTimeout) {
    OnReplyTimeout(tx, b, t, retry_, now, out);
  } else if (t.kind == TimerKind::kRetry && !b.awaiting_reply) {
    SendToBranch(tx, b, b.op, b.state, retry_, now, out);
  }
  return out;
}

Actions Saga::OnOperatorAbort(Transaction& tx, const OperatorAbort& abort, TimePoint now) const {
  Actions out;
  switch (tx.state) {
    case TxState::kRunning:
      Compensate(tx, OperatorAbortReason(abort), now, out);
      return out;
    case TxState::kCompensating:
    case TxState::kCompensated:
      return out;  // compensating already: asking twice is not an error
    default:
      return RejectAbort(tx, "every step is done; nothing is left to abort");
  }
}

void Saga::StartReadySteps(Transaction& tx, TimePoint now, Actions& out) const {
  for (Branch& b : tx.branches) {
    if (b.state != BranchState::kWaiting) continue;
    const bool ready = std::all_of(b.after.begin(), b.after.end(), [&](int dep) {
      return tx.branches.at(dep).state == BranchState::kDone;
    });
    // Forced: once an action may have run, a crash must not forget that it needs compensating.
    if (ready) {
      SendToBranch(tx, b, wire::Op::kAction, BranchState::kActing, retry_, now, out,
                   Durability::kForced);
    }
  }
}

void Saga::Compensate(Transaction& tx, std::string reason, TimePoint now, Actions& out) const {
  tx.state = TxState::kCompensating;
  tx.reason = std::move(reason);
  tx.updated_at = now;
  out.persist.push_back(StateRecord(tx, now));  // in the batch of the first compensations
  for (Branch& b : tx.branches) {
    if (b.state == BranchState::kWaiting) {
      b.state = BranchState::kSkipped;
      out.persist.push_back(BranchRecord(tx, b, now));
    }
  }
  AdvanceCompensation(tx, now, out);
}

void Saga::AdvanceCompensation(Transaction& tx, TimePoint now, Actions& out) const {
  for (Branch& b : tx.branches) {
    if (!NeedsCompensation(b)) continue;
    const bool dependents_settled = std::all_of(
        tx.branches.begin(), tx.branches.end(),
        [&](const Branch& later) { return !DependsOn(later, b.index) || Settled(later); });
    if (dependents_settled) {
      SendToBranch(tx, b, wire::Op::kCompensate, BranchState::kCompensating, retry_, now, out);
    }
  }
  const bool all_settled = std::all_of(tx.branches.begin(), tx.branches.end(), Settled);
  if (all_settled) Finish(tx, TxState::kCompensated, now, out);
}

void Saga::Finish(Transaction& tx, TxState state, TimePoint now, Actions& out) const {
  tx.state = state;
  tx.updated_at = now;
  out.lazy.push_back(StateRecord(tx, now));  // every step's outcome is on disk already
  out.terminal = true;
}

}  // namespace txc::core
