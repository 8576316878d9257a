// GroupPlan: the statements a group commit leaves out are exactly those a later record of the
// same group overwrites.
#include "log/group_plan.h"

#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "log_test_util.h"

namespace txc::log::test {
namespace {

using core::BranchState;

core::LogRecord Change(const std::string& id, int branch, BranchState state, int64_t at) {
  return core::BranchChanged{id, branch, state, wire::Op::kPrepare, 1, 1, "", At(at)};
}

core::LogRecord AttemptOf(const std::string& id, int branch) {
  return core::AttemptRecorded{id, branch, core::Attempt{}};
}

GroupPlan Plan(const std::vector<core::LogRecord>& records) {
  std::vector<const core::LogRecord*> ptrs;
  for (const auto& r : records) ptrs.push_back(&r);
  return PlanGroup(ptrs);
}

TEST(GroupPlanTest, OnlyTheLastChangeOfEachBranchIsWritten) {
  const std::vector<core::LogRecord> records = {
      Change("a", 0, BranchState::kPrepared, 1),    // superseded by record 3
      Change("a", 1, BranchState::kPrepared, 2),    // the last of a/1
      AttemptOf("a", 0),                            // attempts are never left out
      Change("a", 0, BranchState::kCommitting, 3),  // the last of a/0
      Change("b", 0, BranchState::kPrepared, 4),    // another transaction's branch 0
      StateChanged("a", core::TxState::kCommitting),
  };
  const GroupPlan plan = Plan(records);
  EXPECT_EQ(plan.skip, (std::vector<bool>{true, false, false, false, false, false}));
  for (const auto& state : plan.branch_state) EXPECT_TRUE(state.empty());
}

TEST(GroupPlanTest, AnInsertInTheSameGroupTakesItsBranchesLastState) {
  const std::vector<core::LogRecord> records = {
      Created(MakeTx("a", 3)),
      Change("a", 0, BranchState::kPrepared, 1),
      Change("a", 0, BranchState::kCommitting, 2),
      Change("a", 2, BranchState::kRefused, 3),
      Change("b", 1, BranchState::kPrepared, 4),  // not created in this group: its UPDATE stays
  };
  const GroupPlan plan = Plan(records);
  EXPECT_EQ(plan.skip, (std::vector<bool>{false, true, true, true, false}));
  ASSERT_EQ(plan.branch_state[0].size(), 3u);
  EXPECT_EQ(plan.branch_state[0][0], &std::get<core::BranchChanged>(records[2]));
  EXPECT_EQ(plan.branch_state[0][1], nullptr);  // no change in the group: the record's own state
  EXPECT_EQ(plan.branch_state[0][2], &std::get<core::BranchChanged>(records[3]));
}

TEST(GroupPlanTest, AChangeBeforeItsInsertIsLeftForItsUpdateToReject) {
  const std::vector<core::LogRecord> records = {
      Change("a", 0, BranchState::kPrepared, 1),    // before the row exists: must fail the group
      Created(MakeTx("a", 1)),                      //
      Change("a", 0, BranchState::kCommitting, 2),  // folded into the insert
      Change("a", 7, BranchState::kPrepared, 3),    // no such branch: not folded anywhere
  };
  const GroupPlan plan = Plan(records);
  EXPECT_EQ(plan.skip, (std::vector<bool>{false, false, true, false}));
  ASSERT_EQ(plan.branch_state[1].size(), 1u);
  EXPECT_EQ(plan.branch_state[1][0], &std::get<core::BranchChanged>(records[2]));
}

}  // namespace
}  // namespace txc::log::test
