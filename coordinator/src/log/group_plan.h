// GroupPlan: which statements one group commit can leave out without changing what it commits.
//
// A group holds many transactions' records (dozens under load), and a branch often changes state
// twice in one group (its vote, then the decision's send; its acknowledgement after the send).
// A BranchChanged rewrites every column it carries, and nothing between two of them reads those
// columns, so within one SQLite transaction only the last one of each branch needs its UPDATE;
// when the branch's row is inserted in the same group (TxCreated), that insert can carry the
// last state directly. Records are still applied in order; only redundant statements go.
#pragma once

#include <cstddef>
#include <vector>

#include "core/actions.h"

namespace txc::log {

struct GroupPlan {
  // Per record, in group order: true when applying it changes nothing the group's later records
  // do not overwrite (a BranchChanged superseded by a later one of the same branch, or folded
  // into its transaction's insert).
  std::vector<bool> skip;
  // Per record: for a TxCreated, the BranchChanged each of its branches' inserts takes its state
  // from (by branch index; nullptr: the record's own branch). Empty for other records.
  std::vector<std::vector<const core::BranchChanged*>> branch_state;
};

GroupPlan PlanGroup(const std::vector<const core::LogRecord*>& records);

}  // namespace txc::log
