#include "core/operated_machine.h"

#include <algorithm>
#include <string>

namespace txc::core {
namespace {

bool BudgetSpent(const Transaction& tx, const Branch& b, TimePoint now) {
  const RetryBudget& budget = tx.retry_budget;
  // The latest send must have failed too: the last allowed attempt may still succeed.
  const bool attempts_spent =
      budget.max_attempts > 0 && b.op_attempt >= budget.max_attempts && !b.awaiting_reply;
  // Unknown (a branch logged before op_since existed): from the transaction's start.
  const TimePoint since = b.op_since == TimePoint{} ? tx.created_at : b.op_since;
  const bool too_late = budget.deadline.count() > 0 && now - since >= budget.deadline;
  return attempts_spent || too_late;
}

}  // namespace

// Brings every flag up to date; logs the branches whose flag changed.
void OperatedMachine::UpdateAttention(Transaction& tx, TimePoint now, Actions& out) const {
  std::vector<int> changed;
  for (Branch& b : tx.branches) {
    const bool flag = AppliesDecidedOutcome(b) && (b.needs_attention || BudgetSpent(tx, b, now));
    if (flag != b.needs_attention) {
      b.needs_attention = flag;
      changed.push_back(b.index);
    }
  }
  if (changed.empty()) return;
  tx.needs_attention = std::any_of(tx.branches.begin(), tx.branches.end(),
                                   [](const Branch& b) { return b.needs_attention; });
  for (int index : changed) {
    out.lazy.push_back(AttentionChanged{tx.id, index, tx.branches[index].needs_attention,
                                        tx.needs_attention, now});
  }
}

Actions OperatedMachine::On(Transaction& tx, const Event& event, TimePoint now) const {
  Actions out =
      std::holds_alternative<OperatorRetry>(event) ? RetryNow(tx, now) : inner_->On(tx, event, now);
  if (!out.rejected.empty()) return out;
  // First in the batch: the timeline shows the action before what it caused.
  if (const auto* abort = std::get_if<OperatorAbort>(&event)) {
    out.persist.insert(out.persist.begin(),
                       OperatorActed{tx.id, TxEventKind::kOperatorAbort, abort->reason, now});
  } else if (std::holds_alternative<OperatorRetry>(event)) {
    out.persist.insert(out.persist.begin(),
                       OperatorActed{tx.id, TxEventKind::kOperatorRetry, "", now});
  }
  UpdateAttention(tx, now, out);
  return out;
}

Actions OperatedMachine::RetryNow(Transaction& tx, TimePoint now) const {
  Actions out;
  if (IsTerminal(tx.state)) {
    out.rejected = std::string("transaction is ") + TxStateName(tx.state) + ": nothing to retry";
    return out;
  }
  for (Branch& b : tx.branches) {
    if (b.awaiting_reply) continue;
    const int attempt = b.op_attempt;
    const int backoff_from = b.backoff_from;
    out.Append(inner_->On(tx, TimerFired{TimerKind::kRetry, b.index, attempt, b.op}, now));
    // Sent again: the next back-off is the first one. Not sent (nothing was pending): unchanged.
    b.backoff_from = b.op_attempt != attempt ? attempt : backoff_from;
  }
  return out;
}

}  // namespace txc::core
