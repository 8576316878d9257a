// Operator actions (abort, retry now) and the retry budget, for every protocol.
#include "core/operated_machine.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <memory>
#include <vector>

#include "core/saga.h"
#include "core/three_phase.h"
#include "core/two_phase.h"
#include "protocol_harness.h"

namespace txc::core {
namespace {

using testing::MakeTx;
using testing::ProtocolHarness;
using testing::ReplyFor;
using wire::Op;

RetryPolicy Policy() { return RetryPolicy{Duration(1000), Duration(100), Duration(1600)}; }

template <typename Protocol>
OperatedMachine Operated() {
  return OperatedMachine(std::make_unique<Protocol>(Policy()));
}

// Fails the current attempt of `op` on `branch` and fires the retry timer it arms; returns the
// attempt number that was re-sent.
int FailAndRetry(ProtocolHarness& h, int branch, Op op) {
  const int attempt = h.tx().branches[branch].op_attempt;
  h.Feed(ReplyFor(branch, op, AttemptResult::kError, attempt, "disk full"));
  auto retries = h.TimersFor(TimerKind::kRetry, branch);
  EXPECT_FALSE(retries.empty());
  if (retries.empty()) return attempt;
  h.Feed(TimerFired{TimerKind::kRetry, branch, retries.back().attempt, retries.back().op});
  return h.tx().branches[branch].op_attempt;
}

std::vector<AttentionChanged> AttentionRecords(const std::vector<LogRecord>& log) {
  std::vector<AttentionChanged> out;
  for (const auto& r : log) {
    if (auto* f = std::get_if<AttentionChanged>(&r)) out.push_back(*f);
  }
  return out;
}

void CommitBoth(ProtocolHarness& h) {
  h.Feed(Begin{});
  h.Feed(ReplyFor(0, Op::kPrepare, AttemptResult::kOk));
  h.Feed(ReplyFor(1, Op::kPrepare, AttemptResult::kOk));
  ASSERT_EQ(h.tx().state, TxState::kCommitting);
}

TEST(OperatorAbort, Aborts2pcBeforeTheDecisionAndLogsItBeforeAnyAbortLeaves) {
  auto m = Operated<TwoPhaseCommit>();
  ProtocolHarness h(m, MakeTx(2));
  h.Feed(Begin{});
  h.Feed(ReplyFor(0, Op::kPrepare, AttemptResult::kOk));  // branch 1 never answers
  h.Feed(OperatorAbort{"stuck since the outage"});
  EXPECT_EQ(h.tx().state, TxState::kAborting);
  EXPECT_EQ(h.tx().reason, "aborted by operator: stuck since the outage");
  EXPECT_TRUE(h.Logged(TxState::kAborting));  // the harness checks it was durable before sends
  EXPECT_EQ(h.CountSent(0, Op::kAbort), 1);
  EXPECT_EQ(h.CountSent(1, Op::kAbort), 1);
  h.Feed(ReplyFor(0, Op::kAbort, AttemptResult::kOk));
  h.Feed(ReplyFor(1, Op::kAbort, AttemptResult::kOk));
  EXPECT_EQ(h.tx().state, TxState::kAborted);
  EXPECT_TRUE(h.terminal());
}

TEST(OperatorAbort, IsRejectedOnceACommitDecisionIsLoggedAndChangesNothing) {
  auto m = Operated<TwoPhaseCommit>();
  ProtocolHarness h(m, MakeTx(2));
  CommitBoth(h);
  Transaction tx = h.tx();
  Actions a = m.On(tx, OperatorAbort{}, h.now());
  EXPECT_NE(a.rejected.find("committing"), std::string::npos) << a.rejected;
  EXPECT_TRUE(a.empty());
  EXPECT_EQ(tx.state, TxState::kCommitting);
}

TEST(OperatorAbort, OfAnAbortingTransactionIsANoOpNotAnError) {
  auto m = Operated<TwoPhaseCommit>();
  ProtocolHarness h(m, MakeTx(2));
  h.Feed(Begin{});
  h.Feed(ReplyFor(0, Op::kPrepare, AttemptResult::kRefused));
  ASSERT_EQ(h.tx().state, TxState::kAborting);
  Transaction tx = h.tx();
  Actions a = m.On(tx, OperatorAbort{"again"}, h.now());
  EXPECT_TRUE(a.rejected.empty());
  // Only the action itself is logged (someone asked twice); nothing is sent again.
  ASSERT_EQ(a.persist.size(), 1u);
  EXPECT_TRUE(std::holds_alternative<OperatorActed>(a.persist[0]));
  EXPECT_TRUE(a.lazy.empty() && a.sends.empty() && a.timers.empty());
  EXPECT_EQ(tx.reason, h.tx().reason);  // the first reason stands
}

TEST(OperatorAbort, Aborts3pcOnlyBeforePreCommit) {
  auto m = Operated<ThreePhaseCommit>();
  ProtocolHarness voting(m, MakeTx(2, Protocol::kThreePhase));
  voting.Feed(Begin{});
  voting.Feed(OperatorAbort{});
  EXPECT_EQ(voting.tx().state, TxState::kAborting);
  EXPECT_EQ(voting.CountSent(0, Op::kAbort), 1);

  ProtocolHarness precommitting(m, MakeTx(2, Protocol::kThreePhase));
  precommitting.Feed(Begin{});
  precommitting.Feed(ReplyFor(0, Op::kCanCommit, AttemptResult::kOk));
  precommitting.Feed(ReplyFor(1, Op::kCanCommit, AttemptResult::kOk));
  ASSERT_EQ(precommitting.tx().state, TxState::kPreCommitting);
  Transaction tx = precommitting.tx();
  Actions a = m.On(tx, OperatorAbort{}, precommitting.now());
  EXPECT_NE(a.rejected.find("pre-commit"), std::string::npos) << a.rejected;
  EXPECT_EQ(tx.state, TxState::kPreCommitting);
}

TEST(OperatorAbort, CompensatesARunningSagaAndIsRejectedOnceItCompleted) {
  auto m = Operated<Saga>();
  Transaction saga = MakeTx(3, Protocol::kSaga);
  saga.branches[1].after = {0};
  saga.branches[2].after = {1};
  ProtocolHarness h(m, saga);
  h.Feed(Begin{});
  h.Feed(ReplyFor(0, Op::kAction, AttemptResult::kOk));  // step 1 is now acting
  h.Feed(OperatorAbort{"customer cancelled"});
  EXPECT_EQ(h.tx().state, TxState::kCompensating);
  EXPECT_EQ(h.tx().branches[2].state, BranchState::kSkipped);
  // The step in flight may have acted: it is compensated first, then step 0.
  EXPECT_EQ(h.CountSent(1, Op::kCompensate), 1);
  h.Feed(ReplyFor(1, Op::kCompensate, AttemptResult::kOk));
  EXPECT_EQ(h.CountSent(0, Op::kCompensate), 1);
  h.Feed(ReplyFor(0, Op::kCompensate, AttemptResult::kOk));
  EXPECT_EQ(h.tx().state, TxState::kCompensated);

  ProtocolHarness done(m, MakeTx(1, Protocol::kSaga));
  done.Feed(Begin{});
  done.Feed(ReplyFor(0, Op::kAction, AttemptResult::kOk));
  ASSERT_EQ(done.tx().state, TxState::kCompleted);
  Transaction tx = done.tx();
  EXPECT_FALSE(m.On(tx, OperatorAbort{}, done.now()).rejected.empty());
}

TEST(OperatorRetry, ResendsABranchWaitingOutItsBackOffAndRestartsTheBackOff) {
  auto m = Operated<TwoPhaseCommit>();
  ProtocolHarness h(m, MakeTx(2));
  CommitBoth(h);
  h.Feed(ReplyFor(0, Op::kCommit, AttemptResult::kOk));
  for (int i = 0; i < 4; ++i) FailAndRetry(h, 1, Op::kCommit);  // back-off is at its cap now
  h.Feed(ReplyFor(1, Op::kCommit, AttemptResult::kError, 5, "disk full"));
  ASSERT_EQ(h.TimersFor(TimerKind::kRetry, 1).back().delay, Duration(1600));
  ASSERT_EQ(h.CountSent(1, Op::kCommit), 5);

  h.Feed(OperatorRetry{});
  EXPECT_EQ(h.CountSent(1, Op::kCommit), 6) << "sent now, not after the back-off";
  EXPECT_EQ(h.CountSent(0, Op::kCommit), 1) << "an acknowledged branch is left alone";
  EXPECT_EQ(h.tx().branches[1].op_attempt, 6);
  // The stale back-off timer of attempt 5 changes nothing when it fires.
  h.Feed(TimerFired{TimerKind::kRetry, 1, 5, Op::kCommit});
  EXPECT_EQ(h.CountSent(1, Op::kCommit), 6);
  // The next failure waits the base delay again.
  h.Feed(ReplyFor(1, Op::kCommit, AttemptResult::kError, 6, "disk full"));
  EXPECT_EQ(h.TimersFor(TimerKind::kRetry, 1).back().delay, Duration(100));
  h.Feed(OperatorRetry{});
  h.Feed(ReplyFor(1, Op::kCommit, AttemptResult::kOk, 7));
  EXPECT_EQ(h.tx().state, TxState::kCommitted);
}

TEST(OperatorActions, AreLoggedFirstAndOnlyWhenAccepted) {
  auto m = Operated<TwoPhaseCommit>();
  ProtocolHarness h(m, MakeTx(2));
  h.Feed(Begin{});
  h.Feed(OperatorRetry{});
  h.Feed(OperatorAbort{"wrong order"});
  h.CrashAndRecover(ProtocolHarness::Unforced::kLost);  // both were forced
  std::vector<OperatorActed> acted;
  size_t abort_at = 0, aborting_at = 0;
  for (size_t i = 0; i < h.log().size(); ++i) {
    if (auto* a = std::get_if<OperatorActed>(&h.log()[i])) {
      acted.push_back(*a);
      if (a->action == TxEventKind::kOperatorAbort) abort_at = i;
    }
    if (auto* s = std::get_if<TxStateChanged>(&h.log()[i]); s && s->state == TxState::kAborting) {
      aborting_at = i;
    }
  }
  ASSERT_EQ(acted.size(), 2u);
  EXPECT_EQ(acted[0].action, TxEventKind::kOperatorRetry);
  EXPECT_EQ(acted[1].reason, "wrong order");
  EXPECT_LT(abort_at, aborting_at) << "the action comes before what it caused";

  ProtocolHarness committing(m, MakeTx(2));
  CommitBoth(committing);
  Transaction c = committing.tx();
  Actions rejected = m.On(c, OperatorAbort{"too late"}, committing.now());
  EXPECT_FALSE(rejected.rejected.empty());
  EXPECT_TRUE(rejected.persist.empty() && rejected.lazy.empty())
      << "a refused action is not logged";
}

TEST(OperatorRetry, LeavesAMessageInFlightAloneAndIsRejectedWhenTerminal) {
  auto m = Operated<TwoPhaseCommit>();
  ProtocolHarness h(m, MakeTx(2));
  CommitBoth(h);
  h.Feed(OperatorRetry{});  // both commits are in flight: nothing to re-send
  EXPECT_EQ(h.CountSent(0, Op::kCommit), 1);
  EXPECT_EQ(h.CountSent(1, Op::kCommit), 1);
  h.Feed(ReplyFor(0, Op::kCommit, AttemptResult::kOk));
  h.Feed(ReplyFor(1, Op::kCommit, AttemptResult::kOk));
  Transaction tx = h.tx();
  Actions a = m.On(tx, OperatorRetry{}, h.now());
  EXPECT_NE(a.rejected.find("committed"), std::string::npos) << a.rejected;
}

TEST(RetryBudget, ABranchThatSpendsItsAttemptsIsFlaggedRetriedStillAndClearedWhenDone) {
  auto m = Operated<TwoPhaseCommit>();
  Transaction tx = MakeTx(2);
  tx.retry_budget = {3, Duration(0)};
  ProtocolHarness h(m, tx);
  CommitBoth(h);
  h.Feed(ReplyFor(0, Op::kCommit, AttemptResult::kOk));
  FailAndRetry(h, 1, Op::kCommit);
  FailAndRetry(h, 1, Op::kCommit);
  EXPECT_FALSE(h.tx().needs_attention) << "attempt 3 is in flight and may still succeed";
  const int third = h.tx().branches[1].op_attempt;
  ASSERT_EQ(third, 3);
  h.Feed(ReplyFor(1, Op::kCommit, AttemptResult::kError, third, "disk full"));
  EXPECT_TRUE(h.tx().needs_attention);
  EXPECT_TRUE(h.tx().branches[1].needs_attention);
  EXPECT_FALSE(h.tx().branches[0].needs_attention);
  // Flagged, not given up: the retry timer is armed and the flag sticks through the next send.
  const auto retry = h.TimersFor(TimerKind::kRetry, 1).back();
  h.Feed(TimerFired{TimerKind::kRetry, 1, retry.attempt, retry.op});
  EXPECT_EQ(h.CountSent(1, Op::kCommit), 4);
  EXPECT_TRUE(h.tx().needs_attention);

  h.Feed(ReplyFor(1, Op::kCommit, AttemptResult::kOk, 4));
  EXPECT_EQ(h.tx().state, TxState::kCommitted);
  EXPECT_FALSE(h.tx().needs_attention);
  EXPECT_FALSE(h.tx().branches[1].needs_attention);
  h.CrashAndRecover(ProtocolHarness::Unforced::kKept);  // the log saw both changes, in order
  const auto flags = AttentionRecords(h.log());
  ASSERT_EQ(flags.size(), 2u);
  EXPECT_TRUE(flags[0].branch_needs_attention && flags[0].tx_needs_attention);
  EXPECT_FALSE(flags[1].branch_needs_attention || flags[1].tx_needs_attention);
}

TEST(RetryBudget, ACompensationPastTheDeadlineIsFlagged) {
  auto m = Operated<Saga>();
  Transaction tx = MakeTx(2, Protocol::kSaga);
  tx.branches[1].after = {0};
  tx.retry_budget = {0, Duration(60000)};  // no attempt limit; one minute
  ProtocolHarness h(m, tx);
  h.Feed(Begin{});
  h.Feed(ReplyFor(0, Op::kAction, AttemptResult::kOk));
  h.Feed(ReplyFor(1, Op::kAction, AttemptResult::kRefused, 1, "out of stock"));
  ASSERT_EQ(h.tx().state, TxState::kCompensating);
  FailAndRetry(h, 0, Op::kCompensate);
  EXPECT_FALSE(h.tx().needs_attention);
  h.Advance(Duration(61000));
  FailAndRetry(h, 0, Op::kCompensate);
  EXPECT_TRUE(h.tx().needs_attention);
  EXPECT_TRUE(h.tx().branches[0].needs_attention);
  h.Feed(ReplyFor(0, Op::kCompensate, AttemptResult::kOk, h.tx().branches[0].op_attempt));
  EXPECT_EQ(h.tx().state, TxState::kCompensated);
  EXPECT_FALSE(h.tx().needs_attention);
}

TEST(RetryBudget, TheDeadlineCountsFromTheFirstSendOfTheDecidedOutcomeThroughACrash) {
  auto m = Operated<TwoPhaseCommit>();
  Transaction tx = MakeTx(2);
  tx.timeout = Duration(300000);
  tx.retry_budget = {0, Duration(60000)};
  ProtocolHarness h(m, tx);
  h.Feed(Begin{});
  h.Advance(Duration(90000));  // a slow phase one uses none of phase two's minute
  h.Feed(ReplyFor(0, Op::kPrepare, AttemptResult::kOk));
  h.Feed(ReplyFor(1, Op::kPrepare, AttemptResult::kOk));
  ASSERT_EQ(h.tx().state, TxState::kCommitting);
  h.Feed(ReplyFor(0, Op::kCommit, AttemptResult::kOk));
  FailAndRetry(h, 1, Op::kCommit);
  EXPECT_FALSE(h.tx().needs_attention) << "the commit was first sent a moment ago";

  h.Advance(Duration(30000));
  h.CrashAndRecover(ProtocolHarness::Unforced::kLost);  // the first send's time was forced
  h.Advance(Duration(20000));
  FailAndRetry(h, 1, Op::kCommit);
  EXPECT_FALSE(h.tx().needs_attention) << "50 s since the commit was first sent (140 since "
                                          "the start)";
  h.Advance(Duration(11000));
  FailAndRetry(h, 1, Op::kCommit);
  EXPECT_TRUE(h.tx().needs_attention) << "61 s since the commit was first sent";
}

TEST(RetryBudget, PhaseOneRetriesNeverFlag) {
  auto m = Operated<TwoPhaseCommit>();
  Transaction tx = MakeTx(1);
  tx.retry_budget = {1, Duration(1)};
  ProtocolHarness h(m, tx);
  h.Feed(Begin{});
  h.Advance(Duration(100));
  h.Feed(TimerFired{TimerKind::kReplyTimeout, 0, 1, Op::kPrepare});  // a lost prepare
  EXPECT_FALSE(h.tx().needs_attention) << "no decision yet: the deadline aborts, nobody waits";
}

TEST(RetryBudget, TheFlagSurvivesACrashAndIsClearedAfterRecovery) {
  auto m = Operated<TwoPhaseCommit>();
  Transaction tx = MakeTx(1);
  tx.retry_budget = {1, Duration(0)};
  ProtocolHarness h(m, tx);
  h.Feed(Begin{});
  h.Feed(ReplyFor(0, Op::kPrepare, AttemptResult::kOk));
  h.Feed(ReplyFor(0, Op::kCommit, AttemptResult::kError, 1, "disk full"));
  ASSERT_TRUE(h.tx().needs_attention);
  h.CrashAndRecover(ProtocolHarness::Unforced::kKept);
  EXPECT_TRUE(h.tx().needs_attention);
  EXPECT_EQ(h.CountSent(0, Op::kCommit), 2);  // recovery re-sends the commit
  h.Feed(ReplyFor(0, Op::kCommit, AttemptResult::kOk, 2));
  EXPECT_EQ(h.tx().state, TxState::kCommitted);
  EXPECT_FALSE(h.tx().needs_attention);
}

}  // namespace
}  // namespace txc::core
