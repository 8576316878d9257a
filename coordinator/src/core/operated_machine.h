// OperatedMachine: what operators need, added around any protocol without touching its logic.
//
//  - OperatorRetry: every branch waiting out a back-off is sent again now, through the
//    protocol's own retry step (it is fed the retry timer of the branch's current attempt), and
//    its back-off restarts from the base delay. A branch with a message in flight keeps waiting
//    for that reply (or its timeout). Rejected once the transaction is terminal.
//  - The retry budget (Transaction::retry_budget): after every event, a branch applying a decided
//    outcome (as its protocol says: AppliesDecidedOutcome) whose message has failed
//    `max_attempts` times, or that is still at it `deadline` after that message was first sent,
//    is flagged needs_attention; it keeps its flag until it leaves that state. The transaction
//    needs attention while any branch does. Changes are logged lazily: a flag lost in a crash is
//    set again by the next failed retry after recovery.
// OperatorAbort means something different to each protocol and passes straight through.
// Every accepted operator action is logged (OperatorActed) with the records it causes.
#pragma once

#include <memory>

#include "core/protocol.h"

namespace txc::core {

class OperatedMachine final : public ProtocolMachine {
 public:
  explicit OperatedMachine(std::unique_ptr<ProtocolMachine> inner) : inner_(std::move(inner)) {}
  Actions On(Transaction& tx, const Event& event, TimePoint now) const override;
  bool AppliesDecidedOutcome(const Branch& b) const override {
    return inner_->AppliesDecidedOutcome(b);
  }

 private:
  Actions RetryNow(Transaction& tx, TimePoint now) const;
  void UpdateAttention(Transaction& tx, TimePoint now, Actions& out) const;

  std::unique_ptr<ProtocolMachine> inner_;
};

}  // namespace txc::core
