#include "core/saga.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <vector>

#include "protocol_harness.h"

namespace txc::core {
namespace {

using testing::ProtocolHarness;
using testing::ReplyFor;
using wire::Op;

RetryPolicy Policy() { return RetryPolicy{Duration(1000), Duration(100), Duration(800)}; }

// A saga whose step i comes after the steps in deps[i].
Transaction MakeSaga(std::vector<std::vector<int>> deps, Duration timeout = Duration(10000)) {
  Transaction tx = testing::MakeTx(static_cast<int>(deps.size()), Protocol::kSaga);
  tx.timeout = timeout;
  for (size_t i = 0; i < deps.size(); ++i) tx.branches[i].after = deps[i];
  return tx;
}

Transaction Sequential(int n) {
  std::vector<std::vector<int>> deps(n);
  for (int i = 1; i < n; ++i) deps[i] = {i - 1};
  return MakeSaga(deps);
}

std::vector<int> SentOrder(const ProtocolHarness& h, Op op) {
  std::vector<int> order;
  for (const auto& s : h.sent()) {
    if (s.op == op) order.push_back(s.branch);
  }
  return order;
}

TEST(Saga, LogsTheWholeSagaBeforeTheFirstAction) {
  Saga saga(Policy());
  Transaction tx = Sequential(3);
  Actions a = saga.On(tx, Begin{}, TimePoint{});
  auto* created = std::get_if<TxCreated>(&a.persist.front());
  ASSERT_NE(created, nullptr);
  EXPECT_EQ(created->tx.branches.size(), 3u);
  EXPECT_EQ(created->tx.branches[2].after, std::vector<int>{1});
  ASSERT_EQ(a.sends.size(), 1u);
  EXPECT_EQ(a.sends[0].op, Op::kAction);
  EXPECT_EQ(a.sends[0].branch, 0);
}

TEST(Saga, RunsStepsInOrderAndCompletes) {
  Saga saga(Policy());
  ProtocolHarness h(saga, Sequential(3));
  h.Feed(Begin{});
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(SentOrder(h, Op::kAction).size(), static_cast<size_t>(i + 1));
    h.Feed(ReplyFor(i, Op::kAction, AttemptResult::kOk));
  }
  EXPECT_EQ(SentOrder(h, Op::kAction), (std::vector<int>{0, 1, 2}));
  EXPECT_EQ(h.tx().state, TxState::kCompleted);
  EXPECT_TRUE(h.terminal());
  EXPECT_TRUE(SentOrder(h, Op::kCompensate).empty());
}

TEST(Saga, IndependentStepsRunConcurrentlyAndJoin) {
  Saga saga(Policy());
  ProtocolHarness h(saga, MakeSaga({{}, {}, {0, 1}}));
  h.Feed(Begin{});
  EXPECT_EQ(SentOrder(h, Op::kAction), (std::vector<int>{0, 1}));
  h.Feed(ReplyFor(1, Op::kAction, AttemptResult::kOk));
  EXPECT_EQ(SentOrder(h, Op::kAction).size(), 2u) << "step 2 waits for step 0 too";
  h.Feed(ReplyFor(0, Op::kAction, AttemptResult::kOk));
  EXPECT_EQ(SentOrder(h, Op::kAction), (std::vector<int>{0, 1, 2}));
}

TEST(Saga, FailureAtTheFirstStepNeedsNoCompensation) {
  Saga saga(Policy());
  ProtocolHarness h(saga, Sequential(3));
  h.Feed(Begin{});
  h.Feed(ReplyFor(0, Op::kAction, AttemptResult::kRefused, 1, "card declined"));
  EXPECT_EQ(h.tx().state, TxState::kCompensated);
  EXPECT_NE(h.tx().reason.find("card declined"), std::string::npos);
  EXPECT_TRUE(SentOrder(h, Op::kCompensate).empty());
  EXPECT_EQ(h.tx().branches[1].state, BranchState::kSkipped);
}

TEST(Saga, FailureInTheMiddleCompensatesWhatRan) {
  Saga saga(Policy());
  ProtocolHarness h(saga, Sequential(3));
  h.Feed(Begin{});
  h.Feed(ReplyFor(0, Op::kAction, AttemptResult::kOk));
  h.Feed(ReplyFor(1, Op::kAction, AttemptResult::kRefused));
  EXPECT_EQ(h.tx().state, TxState::kCompensating);
  EXPECT_EQ(SentOrder(h, Op::kCompensate), std::vector<int>{0});
  h.Feed(ReplyFor(0, Op::kCompensate, AttemptResult::kOk));
  EXPECT_EQ(h.tx().state, TxState::kCompensated);
  EXPECT_EQ(SentOrder(h, Op::kAction), (std::vector<int>{0, 1}));
}

TEST(Saga, FailureAtTheLastStepCompensatesInReverseOrder) {
  Saga saga(Policy());
  ProtocolHarness h(saga, Sequential(3));
  h.Feed(Begin{});
  h.Feed(ReplyFor(0, Op::kAction, AttemptResult::kOk));
  h.Feed(ReplyFor(1, Op::kAction, AttemptResult::kOk));
  h.Feed(ReplyFor(2, Op::kAction, AttemptResult::kRefused));
  EXPECT_EQ(SentOrder(h, Op::kCompensate), std::vector<int>{1}) << "step 0 waits for step 1";
  h.Feed(ReplyFor(1, Op::kCompensate, AttemptResult::kOk));
  EXPECT_EQ(SentOrder(h, Op::kCompensate), (std::vector<int>{1, 0}));
  h.Feed(ReplyFor(0, Op::kCompensate, AttemptResult::kOk));
  EXPECT_EQ(h.tx().state, TxState::kCompensated);
}

TEST(Saga, ConcurrentStepsCompensateInReverseDependencyOrder) {
  // 0 -> {1, 2}; 1 done, 2 refused: compensate 1, then 0.
  Saga saga(Policy());
  ProtocolHarness h(saga, MakeSaga({{}, {0}, {0}}));
  h.Feed(Begin{});
  h.Feed(ReplyFor(0, Op::kAction, AttemptResult::kOk));
  h.Feed(ReplyFor(1, Op::kAction, AttemptResult::kOk));
  h.Feed(ReplyFor(2, Op::kAction, AttemptResult::kRefused));
  EXPECT_EQ(SentOrder(h, Op::kCompensate), std::vector<int>{1});
  h.Feed(ReplyFor(1, Op::kCompensate, AttemptResult::kOk));
  EXPECT_EQ(SentOrder(h, Op::kCompensate), (std::vector<int>{1, 0}));
}

TEST(Saga, AnInFlightStepIsCompensatedBecauseItMayHaveRun) {
  // 0 and 1 independent; 1 fails while 0 is still in flight.
  Saga saga(Policy());
  ProtocolHarness h(saga, MakeSaga({{}, {}}));
  h.Feed(Begin{});
  h.Feed(ReplyFor(1, Op::kAction, AttemptResult::kRefused));
  EXPECT_EQ(SentOrder(h, Op::kCompensate), std::vector<int>{0});
  // The late success of the action changes nothing; the compensation already covers it.
  h.Feed(ReplyFor(0, Op::kAction, AttemptResult::kOk));
  EXPECT_EQ(h.tx().branches[0].state, BranchState::kCompensating);
  h.Feed(ReplyFor(0, Op::kCompensate, AttemptResult::kOk));
  EXPECT_EQ(h.tx().state, TxState::kCompensated);
}

TEST(Saga, TransientActionFailuresAreRetriedUntilTheDeadlineThenCompensated) {
  Saga saga(Policy());
  ProtocolHarness h(saga, Sequential(2));
  h.Feed(Begin{});
  h.Feed(ReplyFor(0, Op::kAction, AttemptResult::kOk));
  h.Feed(ReplyFor(1, Op::kAction, AttemptResult::kError, 1, "db locked"));
  h.Feed(TimerFired{TimerKind::kRetry, 1, 1, Op::kAction});
  h.Feed(ReplyFor(1, Op::kAction, AttemptResult::kNoResponders, 2));
  h.Feed(TimerFired{TimerKind::kRetry, 1, 2, Op::kAction});
  h.Feed(TimerFired{TimerKind::kReplyTimeout, 1, 3, Op::kAction});
  h.Feed(TimerFired{TimerKind::kRetry, 1, 3, Op::kAction});
  EXPECT_EQ(SentOrder(h, Op::kAction), (std::vector<int>{0, 1, 1, 1, 1}));
  EXPECT_EQ(h.tx().state, TxState::kRunning);
  h.Feed(TimerFired{TimerKind::kDeadline, -1, 0});
  EXPECT_EQ(h.tx().state, TxState::kCompensating);
  EXPECT_NE(h.tx().reason.find("deadline"), std::string::npos);
  // Step 1 may have run (its last attempt is unanswered): compensated first, then step 0.
  EXPECT_EQ(SentOrder(h, Op::kCompensate), std::vector<int>{1});
  h.Feed(TimerFired{TimerKind::kRetry, 1, 4, Op::kAction});
  EXPECT_EQ(SentOrder(h, Op::kAction).size(), 5u) << "no action is re-sent once compensating";
}

TEST(Saga, CompensationsAreRetriedUntilTheySucceed) {
  Saga saga(Policy());
  ProtocolHarness h(saga, Sequential(2));
  h.Feed(Begin{});
  h.Feed(ReplyFor(0, Op::kAction, AttemptResult::kOk));
  h.Feed(ReplyFor(1, Op::kAction, AttemptResult::kRefused));
  for (int attempt = 1; attempt <= 6; ++attempt) {
    const AttemptResult r = attempt % 3 == 0   ? AttemptResult::kRefused
                            : attempt % 3 == 1 ? AttemptResult::kError
                                               : AttemptResult::kNoResponders;
    h.Feed(ReplyFor(0, Op::kCompensate, r, attempt));
    EXPECT_EQ(h.tx().state, TxState::kCompensating);
    h.Feed(TimerFired{TimerKind::kRetry, 0, attempt, Op::kCompensate});
  }
  EXPECT_EQ(SentOrder(h, Op::kCompensate).size(), 7u);
  EXPECT_EQ(h.TimersFor(TimerKind::kRetry, 0).back().delay, Duration(800)) << "capped";
  h.Feed(ReplyFor(0, Op::kCompensate, AttemptResult::kOk, 7));
  EXPECT_EQ(h.tx().state, TxState::kCompensated);
}

TEST(Saga, DuplicateAndStaleRepliesChangeNothing) {
  Saga saga(Policy());
  ProtocolHarness h(saga, Sequential(2));
  h.Feed(Begin{});
  h.Feed(ReplyFor(0, Op::kAction, AttemptResult::kOk));
  h.Feed(ReplyFor(0, Op::kAction, AttemptResult::kOk));
  h.Feed(ReplyFor(0, Op::kAction, AttemptResult::kRefused));
  h.Feed(ReplyFor(0, Op::kCompensate, AttemptResult::kOk));
  EXPECT_EQ(h.tx().state, TxState::kRunning);
  EXPECT_EQ(SentOrder(h, Op::kAction), (std::vector<int>{0, 1}));
  h.Feed(ReplyFor(1, Op::kAction, AttemptResult::kOk));
  h.Feed(ReplyFor(1, Op::kAction, AttemptResult::kRefused));
  EXPECT_EQ(h.tx().state, TxState::kCompleted);
}

// Sequential sagas of 1-3 steps failing at every step (or not at all), replies duplicated, and a
// crash-and-restart after every event: a saga completes exactly when no step failed, every step
// whose action was sent is compensated otherwise, and compensations run in reverse order.
TEST(Saga, ExhaustiveFailuresDuplicatesAndCrashes) {
  int runs = 0;
  for (int n = 1; n <= 3; ++n) {
    for (int fail_at = 0; fail_at <= n; ++fail_at) {  // fail_at == n: nothing fails
      for (int crash_after = -1; crash_after < 2 * n + 2; ++crash_after) {
        for (auto unforced : {ProtocolHarness::Unforced::kLost, ProtocolHarness::Unforced::kKept}) {
          ++runs;
          Saga saga(Policy());
          ProtocolHarness h(saga, Sequential(n));
          int step = 0;
          auto maybe_crash = [&] {
            if (step++ == crash_after) h.CrashAndRecover(unforced);
          };
          h.Feed(Begin{});
          maybe_crash();
          // Answer actions (twice each) as long as the saga runs.
          for (int round = 0; round < n + 2 && h.tx().state == TxState::kRunning; ++round) {
            for (int i = 0; i < n; ++i) {
              Branch& b = h.tx().branches[i];
              if (b.state != BranchState::kActing) continue;
              const auto result = i == fail_at ? AttemptResult::kRefused : AttemptResult::kOk;
              h.Feed(ReplyFor(i, Op::kAction, result, b.op_attempt));
              maybe_crash();
              h.Feed(ReplyFor(i, Op::kAction, result, h.tx().branches[i].op_attempt));
            }
          }
          for (int round = 0; round < n + 2 && !IsTerminal(h.tx().state); ++round) {
            for (int i = n - 1; i >= 0; --i) {
              if (h.tx().branches[i].state != BranchState::kCompensating) continue;
              h.Feed(
                  ReplyFor(i, Op::kCompensate, AttemptResult::kOk, h.tx().branches[i].op_attempt));
              maybe_crash();
            }
          }
          ASSERT_TRUE(IsTerminal(h.tx().state)) << "n=" << n << " fail_at=" << fail_at;
          ASSERT_EQ(h.tx().state, fail_at == n ? TxState::kCompleted : TxState::kCompensated);
          if (fail_at < n) {
            // Steps before the failure ran and are compensated, last first.
            std::vector<int> expected;
            for (int i = fail_at - 1; i >= 0; --i) expected.push_back(i);
            auto compensated = SentOrder(h, Op::kCompensate);
            compensated.erase(std::unique(compensated.begin(), compensated.end()),
                              compensated.end());
            ASSERT_EQ(compensated, expected) << "n=" << n << " fail_at=" << fail_at;
          }
        }
      }
    }
  }
  EXPECT_GT(runs, 100);
}

}  // namespace
}  // namespace txc::core
