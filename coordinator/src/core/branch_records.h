// Helpers that turn in-memory changes into log records, shared by every protocol.
#pragma once

#include "core/actions.h"

namespace txc::core {

inline BranchChanged BranchRecord(const Transaction& tx, const Branch& b, TimePoint now) {
  return BranchChanged{tx.id, b.index, b.state, b.op, b.op_attempt, b.attempts, b.last_error, now};
}

inline TxStateChanged StateRecord(const Transaction& tx, TimePoint now) {
  return TxStateChanged{tx.id, tx.state, tx.reason, now};
}

}  // namespace txc::core
