#include "core/three_phase.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <vector>

#include "protocol_harness.h"

namespace txc::core {
namespace {

using testing::ProtocolHarness;
using testing::ReplyFor;
using wire::Op;

RetryPolicy Policy() { return RetryPolicy{Duration(1000), Duration(100), Duration(1600)}; }
Transaction Tx(int n) { return testing::MakeTx(n, Protocol::kThreePhase); }

void AllVoteYes(ProtocolHarness& h, int n) {
  for (int i = 0; i < n; ++i) h.Feed(ReplyFor(i, Op::kCanCommit, AttemptResult::kOk));
}

TEST(ThreePhaseCommit, CommitsThroughCanCommitPreCommitDoCommit) {
  ThreePhaseCommit proto(Policy());
  ProtocolHarness h(proto, Tx(2));
  h.Feed(Begin{});
  EXPECT_EQ(h.CountSent(0, Op::kCanCommit), 1);
  h.Feed(ReplyFor(0, Op::kCanCommit, AttemptResult::kOk));
  EXPECT_EQ(h.CountSent(0, Op::kPreCommit), 0);
  h.Feed(ReplyFor(1, Op::kCanCommit, AttemptResult::kOk));
  EXPECT_EQ(h.tx().state, TxState::kPreCommitting);
  EXPECT_EQ(h.CountSent(0, Op::kPreCommit), 1);
  EXPECT_EQ(h.CountSent(1, Op::kPreCommit), 1);
  h.Feed(ReplyFor(0, Op::kPreCommit, AttemptResult::kOk));
  EXPECT_EQ(h.CountSent(0, Op::kDoCommit), 0) << "do_commit waits for every acknowledgement";
  h.Feed(ReplyFor(1, Op::kPreCommit, AttemptResult::kOk));
  EXPECT_EQ(h.tx().state, TxState::kCommitting);
  h.Feed(ReplyFor(0, Op::kDoCommit, AttemptResult::kOk));
  h.Feed(ReplyFor(1, Op::kDoCommit, AttemptResult::kOk));
  EXPECT_EQ(h.tx().state, TxState::kCommitted);
  EXPECT_TRUE(h.terminal());
}

TEST(ThreePhaseCommit, AbortsOnANoVoteOrTheVoteDeadline) {
  ThreePhaseCommit proto(Policy());
  ProtocolHarness h(proto, Tx(2));
  h.Feed(Begin{});
  h.Feed(ReplyFor(1, Op::kCanCommit, AttemptResult::kRefused, 1, "no"));
  EXPECT_EQ(h.tx().state, TxState::kAborting);
  EXPECT_EQ(h.CountSent(0, Op::kAbort), 1);
  EXPECT_EQ(h.CountSent(1, Op::kAbort), 0);

  ThreePhaseCommit p2(Policy());
  ProtocolHarness d(p2, Tx(2));
  d.Feed(Begin{});
  d.Feed(ReplyFor(0, Op::kCanCommit, AttemptResult::kOk));
  d.Feed(TimerFired{TimerKind::kDeadline, -1, 0, Op::kCanCommit});
  EXPECT_EQ(d.tx().state, TxState::kAborting);
}

// Precommitting is not yet a decision (what ?wait=decision waits for): a refused pre_commit (the
// participants terminated with abort while we were unreachable) still ends in an abort.
TEST(ThreePhaseCommit, PreCommittingIsNotYetADecision) {
  ThreePhaseCommit proto(Policy());
  ProtocolHarness h(proto, Tx(2));
  h.Feed(Begin{});
  AllVoteYes(h, 2);
  ASSERT_EQ(h.tx().state, TxState::kPreCommitting);
  EXPECT_FALSE(IsDecided(h.tx().state));
  h.Feed(ReplyFor(0, Op::kPreCommit, AttemptResult::kRefused, 1, "terminated: abort"));
  EXPECT_EQ(h.tx().state, TxState::kAborting);
  EXPECT_TRUE(IsDecided(h.tx().state));
}

TEST(ThreePhaseCommit, CommitsWhenPreCommitAcknowledgementsTimeOut) {
  ThreePhaseCommit proto(Policy());
  ProtocolHarness h(proto, Tx(2));
  h.Feed(Begin{});
  AllVoteYes(h, 2);
  h.Feed(ReplyFor(0, Op::kPreCommit, AttemptResult::kOk));
  // The vote deadline armed at the start means nothing any more.
  h.Feed(TimerFired{TimerKind::kDeadline, -1, 0, Op::kCanCommit});
  EXPECT_EQ(h.tx().state, TxState::kPreCommitting);
  h.Feed(TimerFired{TimerKind::kDeadline, -1, 0, Op::kPreCommit});
  EXPECT_EQ(h.tx().state, TxState::kCommitting);
  EXPECT_EQ(h.CountSent(1, Op::kDoCommit), 1) << "the silent participant is told too";
  EXPECT_EQ(h.CountSent(0, Op::kAbort) + h.CountSent(1, Op::kAbort), 0);
}

TEST(ThreePhaseCommit, RestartBeforeAnyDecisionAborts) {
  ThreePhaseCommit proto(Policy());
  ProtocolHarness h(proto, Tx(2));
  h.Feed(Begin{});
  h.Feed(ReplyFor(0, Op::kCanCommit, AttemptResult::kOk));
  h.CrashAndRecover(ProtocolHarness::Unforced::kKept);
  EXPECT_EQ(h.tx().state, TxState::kAborting);
}

TEST(ThreePhaseCommit, RestartInPreCommitWaitsForEveryAnswerWithoutTheTimeoutRule) {
  ThreePhaseCommit proto(Policy());
  ProtocolHarness h(proto, Tx(3));
  h.Feed(Begin{});
  AllVoteYes(h, 3);
  h.Feed(ReplyFor(0, Op::kPreCommit, AttemptResult::kOk));
  h.ClearSent();
  h.CrashAndRecover(ProtocolHarness::Unforced::kKept);
  EXPECT_EQ(h.tx().state, TxState::kPreCommitting);
  EXPECT_EQ(h.CountSent(0, Op::kPreCommit), 0);
  EXPECT_EQ(h.CountSent(1, Op::kPreCommit), 1);
  EXPECT_EQ(h.CountSent(2, Op::kPreCommit), 1);
  EXPECT_TRUE(h.TimersFor(TimerKind::kDeadline, -1).empty())
      << "after a restart the pre-commit timeout must not commit";
  // A participant that terminated with abort while we were down refuses: everyone aborts.
  h.Feed(ReplyFor(1, Op::kPreCommit, AttemptResult::kRefused, 2, "already aborted"));
  EXPECT_EQ(h.tx().state, TxState::kAborting);
  EXPECT_EQ(h.CountSent(0, Op::kAbort), 1);
}

TEST(ThreePhaseCommit, RestartAfterEveryAcknowledgementCommits) {
  ThreePhaseCommit proto(Policy());
  ProtocolHarness h(proto, Tx(2));
  h.Feed(Begin{});
  AllVoteYes(h, 2);
  // Crash in the middle of the batch that moves to committing: both acks durable, no decision.
  h.Feed(ReplyFor(0, Op::kPreCommit, AttemptResult::kOk));
  Transaction t = h.tx();
  Actions a = proto.On(t, ReplyFor(1, Op::kPreCommit, AttemptResult::kOk), TimePoint{});
  ASSERT_TRUE(std::any_of(a.persist.begin(), a.persist.end(), [](const LogRecord& r) {
    auto* s = std::get_if<TxStateChanged>(&r);
    return s && s->state == TxState::kCommitting;
  }));
  h.Feed(ReplyFor(1, Op::kPreCommit, AttemptResult::kOk));
  h.CrashAndRecover(ProtocolHarness::Unforced::kKept);
  EXPECT_EQ(h.tx().state, TxState::kCommitting);
  EXPECT_EQ(h.CountSent(0, Op::kDoCommit), 2);
}

TEST(ThreePhaseCommit, DoCommitIsRetriedUntilAcknowledged) {
  ThreePhaseCommit proto(Policy());
  ProtocolHarness h(proto, Tx(1));
  h.Feed(Begin{});
  AllVoteYes(h, 1);
  h.Feed(ReplyFor(0, Op::kPreCommit, AttemptResult::kOk));
  h.Feed(ReplyFor(0, Op::kDoCommit, AttemptResult::kNoResponders));
  h.Feed(TimerFired{TimerKind::kRetry, 0, 1, Op::kDoCommit});
  h.Feed(TimerFired{TimerKind::kReplyTimeout, 0, 2, Op::kDoCommit});
  h.Feed(TimerFired{TimerKind::kRetry, 0, 2, Op::kDoCommit});
  EXPECT_EQ(h.CountSent(0, Op::kDoCommit), 3);
  EXPECT_EQ(h.tx().state, TxState::kCommitting);
  h.Feed(ReplyFor(0, Op::kDoCommit, AttemptResult::kOk, 3));
  EXPECT_EQ(h.tx().state, TxState::kCommitted);
}

// Every vote combination for 1-3 participants, pre-commit acknowledgements present or lost,
// and a crash after any step: commit only if every vote was yes, never both outcomes, nothing
// sent before its phase is logged, and every run terminates.
TEST(ThreePhaseCommit, ExhaustiveVotesAcksAndCrashes) {
  const std::vector<AttemptResult> kVotes = {AttemptResult::kOk, AttemptResult::kRefused,
                                             AttemptResult::kError, AttemptResult::kTimeout};
  int runs = 0;
  for (int n = 1; n <= 3; ++n) {
    int combos = 1;
    for (int i = 0; i < n; ++i) combos *= static_cast<int>(kVotes.size());
    for (int c = 0; c < combos; ++c) {
      std::vector<AttemptResult> votes;
      for (int i = 0, x = c; i < n; ++i, x /= static_cast<int>(kVotes.size())) {
        votes.push_back(kVotes[x % kVotes.size()]);
      }
      for (int lost_ack = -1; lost_ack < n; ++lost_ack) {
        for (int crash_after = -1; crash_after < 2 * n + 2; ++crash_after) {
          for (auto unforced :
               {ProtocolHarness::Unforced::kLost, ProtocolHarness::Unforced::kKept}) {
            ++runs;
            ThreePhaseCommit proto(Policy());
            ProtocolHarness h(proto, Tx(n));
            int step = 0;
            auto maybe_crash = [&] {
              if (step++ == crash_after) h.CrashAndRecover(unforced);
            };
            h.Feed(Begin{});
            maybe_crash();
            for (int i = 0; i < n && h.tx().state == TxState::kPreparing; ++i) {
              if (votes[i] == AttemptResult::kTimeout) {
                h.Feed(TimerFired{TimerKind::kReplyTimeout, i, 1, Op::kCanCommit});
              } else {
                h.Feed(ReplyFor(i, Op::kCanCommit, votes[i]));
              }
              maybe_crash();
            }
            if (h.tx().state == TxState::kPreparing) {
              h.Feed(TimerFired{TimerKind::kDeadline, -1, 0, Op::kCanCommit});
            }
            for (int i = 0; i < n && h.tx().state == TxState::kPreCommitting; ++i) {
              if (i == lost_ack) continue;
              h.Feed(
                  ReplyFor(i, Op::kPreCommit, AttemptResult::kOk, h.tx().branches[i].op_attempt));
              maybe_crash();
            }
            if (h.tx().state == TxState::kPreCommitting) {
              // First run: the pre-commit timeout commits. After a restart: the answer comes late.
              h.Feed(TimerFired{TimerKind::kDeadline, -1, 0, Op::kPreCommit});
              if (h.tx().state == TxState::kPreCommitting) {
                for (int i = 0; i < n; ++i) {
                  h.Feed(ReplyFor(i, Op::kPreCommit, AttemptResult::kOk,
                                  h.tx().branches[i].op_attempt));
                }
              }
            }
            const bool committed = h.Logged(TxState::kCommitting);
            const bool all_yes = std::all_of(votes.begin(), votes.end(),
                                             [](auto v) { return v == AttemptResult::kOk; });
            if (committed) {
              ASSERT_TRUE(all_yes);
            }
            if (!h.known()) {  // forgotten before anything was forced: presumed aborted
              for (int i = 0; i < n; ++i) ASSERT_EQ(h.CountSent(i, Op::kDoCommit), 0);
              continue;
            }
            const Op last = committed ? Op::kDoCommit : Op::kAbort;
            for (int round = 0; round < 3 && !IsTerminal(h.tx().state); ++round) {
              for (int i = 0; i < n; ++i) {
                h.Feed(ReplyFor(i, last, AttemptResult::kOk, h.tx().branches[i].op_attempt));
              }
            }
            ASSERT_TRUE(IsTerminal(h.tx().state)) << "n=" << n << " combo=" << c;
            ASSERT_EQ(h.tx().state, committed ? TxState::kCommitted : TxState::kAborted);
            for (int i = 0; i < n; ++i) {
              ASSERT_EQ(h.CountSent(i, committed ? Op::kAbort : Op::kDoCommit), 0);
            }
          }
        }
      }
    }
  }
  EXPECT_GT(runs, 5000);
}

}  // namespace
}  // namespace txc::core
