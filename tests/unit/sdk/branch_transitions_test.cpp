// The barrier's transition table against the participant tables of docs/protocol.md, cell by
// cell, plus the properties that make it a barrier.
#include "branch_transitions.h"

#include <gtest/gtest.h>

#include <optional>
#include <string>
#include <vector>

namespace txc::sdk {
namespace {

using wire::Op;
using wire::Outcome;
using Kind = BranchStep::Kind;
using S = BranchState;

const std::vector<std::optional<S>> kAllStates = {std::nullopt,  S::kPrepared,   S::kPreCommitted,
                                                  S::kCommitted, S::kAborted,    S::kDone,
                                                  S::kFailed,    S::kCompensated};
const std::vector<Op> kAllOps = {Op::kPrepare,   Op::kCommit,   Op::kAbort,  Op::kCanCommit,
                                 Op::kPreCommit, Op::kDoCommit, Op::kAction, Op::kCompensate};

// A compact rendering of a step, to compare with the documented table.
std::string Show(const BranchStep& s) {
  switch (s.kind) {
    case Kind::kReply:
      return std::string(wire::OutcomeName(s.reply)) + (s.violation ? "!" : "");
    case Kind::kRecord:
      return std::string("record ") + BranchStateName(s.to);
    case Kind::kApply:
      return std::string("apply ") + BranchStateName(s.to);
    case Kind::kVote:
      return std::string("vote ") + BranchStateName(s.to) + "/" + BranchStateName(s.refused_to);
  }
  return "?";
}

struct Row {
  Op op;
  // none, prepared, precommitted, committed, aborted
  std::vector<std::string> cells;
};

TEST(BranchTransitions, CommitProtocolsFollowTheDocumentedTable) {
  const std::vector<Row> table = {
      {Op::kPrepare, {"vote prepared/aborted", "ok", "ok", "ok", "refused"}},
      {Op::kCanCommit, {"vote prepared/aborted", "ok", "ok", "ok", "refused"}},
      {Op::kPreCommit, {"error", "apply precommitted", "ok", "ok", "refused"}},
      {Op::kCommit, {"error!", "apply committed", "apply committed", "ok", "error!"}},
      {Op::kDoCommit, {"error!", "apply committed", "apply committed", "ok", "error!"}},
      {Op::kAbort, {"record aborted", "apply aborted", "apply aborted", "error!", "ok"}},
  };
  const std::vector<std::optional<S>> states = {std::nullopt, S::kPrepared, S::kPreCommitted,
                                                S::kCommitted, S::kAborted};
  for (const Row& row : table) {
    for (size_t i = 0; i < states.size(); ++i) {
      EXPECT_EQ(Show(PlanStep(row.op, states[i])), row.cells[i])
          << wire::OpName(row.op) << " on " << (states[i] ? BranchStateName(*states[i]) : "none");
    }
  }
}

TEST(BranchTransitions, SagasFollowTheDocumentedTable) {
  const std::vector<Row> table = {
      // none, done, failed, compensated
      {Op::kAction, {"vote done/failed", "ok", "refused", "refused"}},
      {Op::kCompensate, {"record compensated", "apply compensated", "record compensated", "ok"}},
  };
  const std::vector<std::optional<S>> states = {std::nullopt, S::kDone, S::kFailed,
                                                S::kCompensated};
  for (const Row& row : table) {
    for (size_t i = 0; i < states.size(); ++i) {
      EXPECT_EQ(Show(PlanStep(row.op, states[i])), row.cells[i])
          << wire::OpName(row.op) << " on " << (states[i] ? BranchStateName(*states[i]) : "none");
    }
  }
}

TEST(BranchTransitions, HangingActionAfterCompensationIsRefusedWithAReason) {
  const BranchStep step = PlanStep(Op::kAction, S::kCompensated);
  EXPECT_EQ(step.reply, Outcome::kRefused);
  EXPECT_NE(step.message.find("after its compensation"), std::string::npos);
}

TEST(BranchTransitions, OpsOfAnotherProtocolAreViolations) {
  for (Op op : {Op::kPrepare, Op::kCommit, Op::kAbort, Op::kPreCommit}) {
    for (S saga : {S::kDone, S::kFailed, S::kCompensated}) {
      const BranchStep step = PlanStep(op, saga);
      EXPECT_EQ(Show(step), "error!") << wire::OpName(op) << " on " << BranchStateName(saga);
    }
  }
  for (Op op : {Op::kAction, Op::kCompensate}) {
    for (S s : {S::kPrepared, S::kPreCommitted, S::kCommitted, S::kAborted}) {
      EXPECT_EQ(Show(PlanStep(op, s)), "error!")
          << wire::OpName(op) << " on " << BranchStateName(s);
    }
  }
}

// The barrier's promises, over every cell: a handler runs only where the record can move, a
// settled outcome never flips, and only a missing record can be voted on.
TEST(BranchTransitions, SettledOutcomesNeverChangeAndVotesHappenOnce) {
  for (Op op : kAllOps) {
    for (const auto& state : kAllStates) {
      const BranchStep step = PlanStep(op, state);
      const std::string where =
          std::string(wire::OpName(op)) + " on " + (state ? BranchStateName(*state) : "none");
      if (step.kind == Kind::kVote) {
        EXPECT_FALSE(state.has_value()) << where;
      }
      if (!state || step.kind == Kind::kReply) continue;
      const bool settled =
          *state == S::kCommitted || *state == S::kAborted || *state == S::kCompensated;
      EXPECT_FALSE(settled) << where << " would change a settled record to "
                            << BranchStateName(step.to);
      EXPECT_FALSE(*state == S::kPreCommitted && step.to == S::kPrepared) << where;
    }
  }
}

}  // namespace
}  // namespace txc::sdk
