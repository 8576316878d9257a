#include "core/two_phase.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <vector>

#include "protocol_harness.h"

namespace txc::core {
namespace {

using testing::MakeTx;
using testing::ProtocolHarness;
using testing::ReplyFor;
using wire::Op;

RetryPolicy Policy() { return RetryPolicy{Duration(1000), Duration(100), Duration(1600)}; }

// The prepares need not wait for the transaction's record: if the coordinator dies before it is
// on disk, nobody can have been told commit, and presumed abort answers every participant.
TEST(TwoPhaseCommit, LogsTheWholeTransactionWithItsPreparesWithoutWaitingForIt) {
  TwoPhaseCommit proto(Policy());
  Transaction tx = MakeTx(2);
  Actions a = proto.On(tx, Begin{}, TimePoint{});
  EXPECT_TRUE(a.persist.empty());
  ASSERT_FALSE(a.lazy.empty());
  auto* created = std::get_if<TxCreated>(&a.lazy.front());
  ASSERT_NE(created, nullptr);
  EXPECT_EQ(created->tx.branches.size(), 2u);
  EXPECT_EQ(created->tx.branches[1].payload["n"], 1);
  ASSERT_EQ(a.sends.size(), 2u);
  EXPECT_EQ(a.sends[0].op, Op::kPrepare);
  EXPECT_EQ(a.sends[1].op, Op::kPrepare);
  // The phase-one deadline is armed with the transaction's timeout.
  EXPECT_TRUE(std::any_of(a.timers.begin(), a.timers.end(), [](const TimerCommand& t) {
    return t.kind == TimerKind::kDeadline && t.delay == Duration(5000);
  }));
}

TEST(TwoPhaseCommit, CommitsWhenAllVoteYesAndLogsTheDecisionFirst) {
  TwoPhaseCommit proto(Policy());
  ProtocolHarness h(proto, MakeTx(2));
  h.Feed(Begin{});
  h.Feed(ReplyFor(0, Op::kPrepare, AttemptResult::kOk));
  EXPECT_EQ(h.CountSent(0, Op::kCommit), 0) << "no commit before every vote is in";
  Transaction before = h.tx();
  Actions a = proto.On(before, ReplyFor(1, Op::kPrepare, AttemptResult::kOk), TimePoint{});
  // The batch that carries the commits carries the decision: the engine makes it durable first.
  EXPECT_TRUE(std::any_of(a.persist.begin(), a.persist.end(), [](const LogRecord& r) {
    auto* s = std::get_if<TxStateChanged>(&r);
    return s && s->state == TxState::kCommitting;
  }));
  EXPECT_EQ(a.sends.size(), 2u);

  h.Feed(ReplyFor(1, Op::kPrepare, AttemptResult::kOk));
  EXPECT_EQ(h.tx().state, TxState::kCommitting);
  h.Feed(ReplyFor(0, Op::kCommit, AttemptResult::kOk));
  EXPECT_FALSE(h.terminal());
  h.Feed(ReplyFor(1, Op::kCommit, AttemptResult::kOk));
  EXPECT_TRUE(h.terminal());
  EXPECT_EQ(h.tx().state, TxState::kCommitted);
  EXPECT_TRUE(h.Appended(TxState::kCommitted));
}

TEST(TwoPhaseCommit, AbortsWhenAnyParticipantVotesNo) {
  TwoPhaseCommit proto(Policy());
  ProtocolHarness h(proto, MakeTx(3));
  h.Feed(Begin{});
  h.Feed(ReplyFor(0, Op::kPrepare, AttemptResult::kOk));
  h.Feed(ReplyFor(1, Op::kPrepare, AttemptResult::kRefused, 1, "out of stock"));
  EXPECT_EQ(h.tx().state, TxState::kAborting);
  EXPECT_NE(h.tx().reason.find("out of stock"), std::string::npos);
  EXPECT_NE(h.tx().reason.find("branch 1 (p1) refused"), std::string::npos);
  EXPECT_EQ(h.CountSent(0, Op::kAbort), 1);
  EXPECT_EQ(h.CountSent(1, Op::kAbort), 0) << "a no voter has rolled back already";
  EXPECT_EQ(h.Rebuild().branches[1].state, BranchState::kRefused) << "the refusal is logged";
  EXPECT_EQ(h.CountSent(2, Op::kAbort), 1) << "an undecided voter may be prepared";
  // The late yes of branch 2 changes nothing.
  h.Feed(ReplyFor(2, Op::kPrepare, AttemptResult::kOk));
  EXPECT_EQ(h.tx().state, TxState::kAborting);
  h.Feed(ReplyFor(0, Op::kAbort, AttemptResult::kOk));
  h.Feed(ReplyFor(2, Op::kAbort, AttemptResult::kOk));
  EXPECT_EQ(h.tx().state, TxState::kAborted);
  EXPECT_TRUE(h.terminal());
}

TEST(TwoPhaseCommit, SingleRefusalIsTerminalAtOnce) {
  TwoPhaseCommit proto(Policy());
  ProtocolHarness h(proto, MakeTx(1));
  h.Feed(Begin{});
  h.Feed(ReplyFor(0, Op::kPrepare, AttemptResult::kRefused));
  EXPECT_EQ(h.tx().state, TxState::kAborted);
  EXPECT_TRUE(h.terminal());
}

TEST(TwoPhaseCommit, AbortsOnErrorAndOnNoResponders) {
  for (AttemptResult r : {AttemptResult::kError, AttemptResult::kNoResponders}) {
    TwoPhaseCommit proto(Policy());
    ProtocolHarness h(proto, MakeTx(2));
    h.Feed(Begin{});
    h.Feed(ReplyFor(1, Op::kPrepare, r, 1, "boom"));
    EXPECT_EQ(h.tx().state, TxState::kAborting) << AttemptResultName(r);
    EXPECT_EQ(h.CountSent(1, Op::kAbort), 1);
  }
}

TEST(TwoPhaseCommit, AbortsWhenThePrepareDeadlinePasses) {
  TwoPhaseCommit proto(Policy());
  ProtocolHarness h(proto, MakeTx(2));
  h.Feed(Begin{});
  h.Feed(ReplyFor(0, Op::kPrepare, AttemptResult::kOk));
  h.Feed(TimerFired{TimerKind::kDeadline, -1, 0});
  EXPECT_EQ(h.tx().state, TxState::kAborting);
  EXPECT_NE(h.tx().reason.find("branch 1 (p1)"), std::string::npos);
  // A deadline after the decision is ignored.
  TwoPhaseCommit p2(Policy());
  ProtocolHarness c(p2, MakeTx(1));
  c.Feed(Begin{});
  c.Feed(ReplyFor(0, Op::kPrepare, AttemptResult::kOk));
  c.Feed(TimerFired{TimerKind::kDeadline, -1, 0});
  EXPECT_EQ(c.tx().state, TxState::kCommitting);
}

TEST(TwoPhaseCommit, LostPrepareIsResentWithinTheDeadline) {
  TwoPhaseCommit proto(Policy());
  ProtocolHarness h(proto, MakeTx(1));
  h.Feed(Begin{});
  h.Feed(TimerFired{TimerKind::kReplyTimeout, 0, 1});
  EXPECT_EQ(h.CountSent(0, Op::kPrepare), 1) << "waits for the back-off first";
  h.Feed(TimerFired{TimerKind::kRetry, 0, 1});
  EXPECT_EQ(h.CountSent(0, Op::kPrepare), 2);
  EXPECT_EQ(h.sent().back().attempt, 2);
  ASSERT_EQ(h.tx().branches[0].history.size(), 1u);  // the lost attempt, as a timeout
  EXPECT_EQ(h.tx().branches[0].history[0].result, AttemptResult::kTimeout);
  // The late yes to attempt 1 still counts.
  h.Feed(ReplyFor(0, Op::kPrepare, AttemptResult::kOk, 1));
  EXPECT_EQ(h.tx().state, TxState::kCommitting);
}

TEST(TwoPhaseCommit, RetriesCommitWithCappedExponentialBackoffUntilAcknowledged) {
  TwoPhaseCommit proto(Policy());
  ProtocolHarness h(proto, MakeTx(1));
  h.Feed(Begin{});
  h.Feed(ReplyFor(0, Op::kPrepare, AttemptResult::kOk));
  std::vector<int64_t> delays;
  for (int attempt = 1; attempt <= 7; ++attempt) {
    if (attempt % 2) {
      h.Feed(ReplyFor(0, Op::kCommit, AttemptResult::kError, attempt, "db locked"));
    } else {
      h.Feed(TimerFired{TimerKind::kReplyTimeout, 0, attempt, Op::kCommit});
    }
    auto retries = h.TimersFor(TimerKind::kRetry, 0);
    ASSERT_FALSE(retries.empty());
    delays.push_back(retries.back().delay.count());
    h.Feed(TimerFired{TimerKind::kRetry, 0, attempt, Op::kCommit});
    EXPECT_EQ(h.CountSent(0, Op::kCommit), attempt + 1);
  }
  EXPECT_EQ(delays, (std::vector<int64_t>{100, 200, 400, 800, 1600, 1600, 1600}));
  EXPECT_EQ(h.tx().state, TxState::kCommitting) << "never gives up on a decided commit";
  EXPECT_NE(h.tx().branches[0].last_error.find("db locked"), std::string::npos);
  h.Feed(ReplyFor(0, Op::kCommit, AttemptResult::kOk, 8));
  EXPECT_EQ(h.tx().state, TxState::kCommitted);
}

TEST(TwoPhaseCommit, NoRespondersDoesNotAcknowledgeACommit) {
  TwoPhaseCommit proto(Policy());
  ProtocolHarness h(proto, MakeTx(1));
  h.Feed(Begin{});
  h.Feed(ReplyFor(0, Op::kPrepare, AttemptResult::kOk));
  h.Feed(ReplyFor(0, Op::kCommit, AttemptResult::kNoResponders));
  EXPECT_EQ(h.tx().state, TxState::kCommitting);
  EXPECT_EQ(h.TimersFor(TimerKind::kRetry, 0).size(), 1u);
}

TEST(TwoPhaseCommit, NoRespondersCompletesAnAbort) {
  TwoPhaseCommit proto(Policy());
  ProtocolHarness h(proto, MakeTx(2));
  h.Feed(Begin{});
  h.Feed(ReplyFor(0, Op::kPrepare, AttemptResult::kRefused));
  h.Feed(ReplyFor(1, Op::kAbort, AttemptResult::kNoResponders));
  EXPECT_EQ(h.tx().state, TxState::kAborted);
}

TEST(TwoPhaseCommit, StaleTimersAndDuplicateRepliesChangeNothing) {
  TwoPhaseCommit proto(Policy());
  ProtocolHarness h(proto, MakeTx(1));
  h.Feed(Begin{});
  h.Feed(ReplyFor(0, Op::kPrepare, AttemptResult::kOk));
  h.Feed(ReplyFor(0, Op::kPrepare, AttemptResult::kOk));
  h.Feed(ReplyFor(0, Op::kPrepare, AttemptResult::kRefused));
  EXPECT_EQ(h.CountSent(0, Op::kCommit), 1);
  EXPECT_EQ(h.CountSent(0, Op::kAbort), 0);
  size_t log_size = h.log().size();
  h.Feed(TimerFired{TimerKind::kReplyTimeout, 0, 7, Op::kCommit});
  h.Feed(TimerFired{TimerKind::kRetry, 0, 1,
                    Op::kCommit});  // no retry is due: attempt 1 is still awaited
  EXPECT_EQ(h.log().size(), log_size);
  EXPECT_EQ(h.CountSent(0, Op::kCommit), 1);
  // An error for attempt 1 arms one retry; the reply timeout for it then changes nothing.
  h.Feed(ReplyFor(0, Op::kCommit, AttemptResult::kError, 1));
  h.Feed(TimerFired{TimerKind::kReplyTimeout, 0, 1, Op::kCommit});
  EXPECT_EQ(h.TimersFor(TimerKind::kRetry, 0).size(), 1u);
  h.Feed(ReplyFor(0, Op::kCommit, AttemptResult::kOk, 1));
  h.Feed(ReplyFor(0, Op::kCommit, AttemptResult::kOk, 1));
  EXPECT_EQ(h.tx().state, TxState::kCommitted);
  h.Feed(TimerFired{TimerKind::kRetry, 0, 1, Op::kCommit});
  EXPECT_EQ(h.CountSent(0, Op::kCommit), 1);
}

// Regression: attempt numbers restart when the op changes, so a prepare's reply timeout
// (attempt 1) must not be taken for the commit's (attempt 1).
TEST(TwoPhaseCommit, APrepareTimerNeverCountsAgainstTheCommit) {
  TwoPhaseCommit proto(Policy());
  ProtocolHarness h(proto, MakeTx(1));
  h.Feed(Begin{});
  h.Feed(ReplyFor(0, Op::kPrepare, AttemptResult::kOk));
  const size_t log_size = h.log().size();
  h.Feed(TimerFired{TimerKind::kReplyTimeout, 0, 1, Op::kPrepare});
  EXPECT_EQ(h.log().size(), log_size);
  EXPECT_TRUE(h.TimersFor(TimerKind::kRetry, 0).empty());
  EXPECT_TRUE(h.tx().branches[0].awaiting_reply);
}

TEST(TwoPhaseCommit, RestartBeforeTheCreationIsOnDiskForgetsTheTransaction) {
  TwoPhaseCommit proto(Policy());
  ProtocolHarness h(proto, MakeTx(2));
  h.Feed(Begin{});
  h.Feed(ReplyFor(0, Op::kPrepare, AttemptResult::kOk));
  h.ClearSent();
  h.CrashAndRecover(ProtocolHarness::Unforced::kLost);
  EXPECT_FALSE(h.known());  // a prepared participant that asks hears abort (presumed abort)
  EXPECT_TRUE(h.sent().empty());
}

TEST(TwoPhaseCommit, RestartBeforeTheDecisionAborts) {
  TwoPhaseCommit proto(Policy());
  ProtocolHarness h(proto, MakeTx(2));
  h.Feed(Begin{});
  h.Feed(ReplyFor(0, Op::kPrepare, AttemptResult::kOk));
  h.CrashAndRecover(ProtocolHarness::Unforced::kKept);
  EXPECT_EQ(h.tx().state, TxState::kAborting);
  EXPECT_NE(h.tx().reason.find("presumed abort"), std::string::npos);
  EXPECT_EQ(h.CountSent(0, Op::kAbort), 1);
  EXPECT_EQ(h.CountSent(1, Op::kAbort), 1);
}

TEST(TwoPhaseCommit, RestartAfterTheDecisionResendsCommitOnlyToUnacknowledgedBranches) {
  TwoPhaseCommit proto(Policy());
  ProtocolHarness h(proto, MakeTx(3));
  h.Feed(Begin{});
  for (int i = 0; i < 3; ++i) h.Feed(ReplyFor(i, Op::kPrepare, AttemptResult::kOk));
  h.Feed(ReplyFor(1, Op::kCommit, AttemptResult::kOk));
  h.ClearSent();
  h.CrashAndRecover(ProtocolHarness::Unforced::kKept);
  EXPECT_EQ(h.tx().state, TxState::kCommitting);
  EXPECT_EQ(h.CountSent(0, Op::kCommit), 1);
  EXPECT_EQ(h.CountSent(1, Op::kCommit), 0);
  EXPECT_EQ(h.CountSent(2, Op::kCommit), 1);
  EXPECT_EQ(h.sent().front().attempt, 2) << "attempt numbers continue after a restart";
}

// An acknowledgement is logged lazily: lost in a crash, it is asked for again.
TEST(TwoPhaseCommit, RestartThatLostAnAcknowledgementResendsThatCommit) {
  TwoPhaseCommit proto(Policy());
  ProtocolHarness h(proto, MakeTx(2));
  h.Feed(Begin{});
  for (int i = 0; i < 2; ++i) h.Feed(ReplyFor(i, Op::kPrepare, AttemptResult::kOk));
  h.Feed(ReplyFor(1, Op::kCommit, AttemptResult::kOk));
  h.ClearSent();
  h.CrashAndRecover(ProtocolHarness::Unforced::kLost);
  EXPECT_EQ(h.tx().state, TxState::kCommitting);
  EXPECT_EQ(h.CountSent(0, Op::kCommit), 1);
  EXPECT_EQ(h.CountSent(1, Op::kCommit), 1);
}

// Every combination of votes for 1-3 branches, every order of their arrival, each vote
// delivered twice, and a crash-and-restart after every step (or none). Whatever happens: the
// outcome is commit exactly when every branch voted yes and the decision was logged before the
// crash, nothing is sent before its decision is durable, commit and abort are never both decided,
// and the transaction terminates once the acknowledgements arrive.
TEST(TwoPhaseCommit, ExhaustiveVotesOrdersDuplicatesAndCrashes) {
  const std::vector<AttemptResult> kVotes = {AttemptResult::kOk, AttemptResult::kRefused,
                                             AttemptResult::kError, AttemptResult::kNoResponders,
                                             AttemptResult::kTimeout};
  int runs = 0;
  for (int n = 1; n <= 3; ++n) {
    int combos = 1;
    for (int i = 0; i < n; ++i) combos *= static_cast<int>(kVotes.size());
    for (int c = 0; c < combos; ++c) {
      std::vector<AttemptResult> votes;
      for (int i = 0, x = c; i < n; ++i, x /= static_cast<int>(kVotes.size())) {
        votes.push_back(kVotes[x % kVotes.size()]);
      }
      std::vector<int> order(n);
      for (int i = 0; i < n; ++i) order[i] = i;
      do {
        const int steps = 2 * n + 1;  // Begin + each vote twice
        for (int crash_after = -1; crash_after < steps; ++crash_after) {
          for (auto unforced :
               {ProtocolHarness::Unforced::kLost, ProtocolHarness::Unforced::kKept}) {
            ++runs;
            TwoPhaseCommit proto(Policy());
            ProtocolHarness h(proto, MakeTx(n));
            int step = 0;
            auto maybe_crash = [&] {
              if (step++ == crash_after) h.CrashAndRecover(unforced);
            };
            h.Feed(Begin{});
            maybe_crash();
            for (int i : order) {
              for (int dup = 0; dup < 2; ++dup) {
                if (votes[i] == AttemptResult::kTimeout) {
                  h.Feed(TimerFired{TimerKind::kReplyTimeout, i, 1});
                } else {
                  h.Feed(ReplyFor(i, Op::kPrepare, votes[i]));
                }
                maybe_crash();
              }
            }
            const bool all_yes = std::all_of(votes.begin(), votes.end(),
                                             [](auto v) { return v == AttemptResult::kOk; });
            if (!h.known()) {
              // The crash came before anything was forced: forgotten, so presumed aborted.
              for (int i = 0; i < n; ++i) ASSERT_EQ(h.CountSent(i, Op::kCommit), 0);
              continue;
            }
            if (!h.Logged(TxState::kCommitting) && !h.Logged(TxState::kAborting)) {
              h.Feed(TimerFired{TimerKind::kDeadline, -1, 0});  // lost votes: the deadline fires
            }
            const bool committed = h.Logged(TxState::kCommitting);
            // A commit needs every yes, and a crash before the decision means abort.
            if (committed) {
              ASSERT_TRUE(all_yes);
            }
            if (all_yes && crash_after < 0) {
              ASSERT_TRUE(committed);
            }
            // Acknowledge phase two (twice each) until terminal.
            const Op phase_two = committed ? Op::kCommit : Op::kAbort;
            for (int round = 0; round < 3 && !IsTerminal(h.tx().state); ++round) {
              for (int i = 0; i < n; ++i) {
                const int attempt = h.tx().branches[i].op_attempt;
                h.Feed(ReplyFor(i, phase_two, AttemptResult::kOk, attempt));
                h.Feed(ReplyFor(i, phase_two, AttemptResult::kOk, attempt));
              }
            }
            ASSERT_TRUE(IsTerminal(h.tx().state)) << "n=" << n << " combo=" << c;
            ASSERT_EQ(h.tx().state, committed ? TxState::kCommitted : TxState::kAborted);
            for (int i = 0; i < n; ++i) {
              ASSERT_EQ(h.CountSent(i, committed ? Op::kAbort : Op::kCommit), 0);
            }
          }
        }
      } while (std::next_permutation(order.begin(), order.end()));
    }
  }
  EXPECT_GT(runs, 10000);
}

}  // namespace
}  // namespace txc::core
