// The 3PC termination rule: the documented cases, then every combination of states for three
// branches checked against the safety properties the rule exists for.
#include "termination_rule.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <optional>
#include <string>
#include <vector>

namespace txc::sdk {
namespace {

using PS = wire::PeerState;
using V = Termination::Verdict;
using View = std::optional<PS>;  // nullopt: did not answer

std::vector<PeerBranchView> Views(const std::vector<View>& states) {
  std::vector<PeerBranchView> out;
  for (size_t i = 0; i < states.size(); ++i) {
    out.push_back({static_cast<int>(i), "p" + std::to_string(i), states[i]});
  }
  return out;
}

V Verdict(const std::vector<View>& states, bool restarted = false) {
  return ConcludeTermination(Views(states), restarted).verdict;
}

TEST(TerminationRule, AnyCommittedCommitsAndAnyAbortedAborts) {
  EXPECT_EQ(Verdict({PS::kUncertain, PS::kCommitted, std::nullopt}), V::kCommit);
  EXPECT_EQ(Verdict({PS::kPreCommitted, PS::kAborted, std::nullopt}), V::kAbort);
  // A restarted participant adopts an outcome a peer reached.
  EXPECT_EQ(Verdict({PS::kUncertain, PS::kCommitted}, /*restarted=*/true), V::kCommit);
  EXPECT_EQ(Verdict({PS::kUncertain, PS::kAborted}, /*restarted=*/true), V::kAbort);
}

TEST(TerminationRule, APreCommittedBranchCommitsAfterPreCommittingTheUncertainOnes) {
  const Termination t =
      ConcludeTermination(Views({PS::kUncertain, PS::kPreCommitted, PS::kUncertain}), false);
  EXPECT_EQ(t.verdict, V::kPreCommitThenCommit);
  EXPECT_EQ(t.to_pre_commit, (std::vector<int>{0, 2}));
}

TEST(TerminationRule, AllUncertainAbortsUnlessThisParticipantRestartedInDoubt) {
  EXPECT_EQ(Verdict({PS::kUncertain, PS::kUncertain}), V::kAbort);
  EXPECT_EQ(Verdict({PS::kUncertain, PS::kNone}), V::kAbort);  // the other never voted
  EXPECT_EQ(Verdict({PS::kUncertain, PS::kUncertain}, /*restarted=*/true), V::kKeepAsking);
}

TEST(TerminationRule, KeepsAskingWhileAPeerThatCouldDecideIsSilent) {
  EXPECT_EQ(Verdict({PS::kUncertain, std::nullopt}), V::kKeepAsking);
  EXPECT_EQ(Verdict({PS::kPreCommitted, std::nullopt}), V::kKeepAsking);
}

TEST(TerminationRule, ImpossibleCombinationsDecideNothing) {
  EXPECT_EQ(Verdict({PS::kCommitted, PS::kAborted}), V::kKeepAsking);
  EXPECT_EQ(Verdict({PS::kPreCommitted, PS::kNone}), V::kKeepAsking);
}

// Every assignment of {silent, none, uncertain, precommitted, committed, aborted} to three
// branches, with and without a restart.
TEST(TerminationRule, NeverContradictsAnOutcomeAndNeverGuesses) {
  const std::vector<View> values = {std::nullopt,      PS::kNone,      PS::kUncertain,
                                    PS::kPreCommitted, PS::kCommitted, PS::kAborted};
  int checked = 0;
  for (const View& a : values) {
    for (const View& b : values) {
      for (const View& c : values) {
        for (bool restarted : {false, true}) {
          const std::vector<View> states = {a, b, c};
          const Termination t = ConcludeTermination(Views(states), restarted);
          auto count = [&](View v) { return std::count(states.begin(), states.end(), v); };
          const bool silent = count(std::nullopt) > 0;
          SCOPED_TRACE(testing::Message()
                       << "states " << (a ? wire::PeerStateName(*a) : "-") << ","
                       << (b ? wire::PeerStateName(*b) : "-") << ","
                       << (c ? wire::PeerStateName(*c) : "-") << " restarted=" << restarted);
          ++checked;
          if (count(PS::kCommitted) > 0) {
            EXPECT_NE(t.verdict, V::kAbort);
          }
          if (count(PS::kAborted) > 0) {
            EXPECT_NE(t.verdict, V::kCommit);
            EXPECT_NE(t.verdict, V::kPreCommitThenCommit);
          }
          // Committing without a committed branch needs a pre-committed one and every answer.
          if (t.verdict == V::kPreCommitThenCommit) {
            EXPECT_GT(count(PS::kPreCommitted), 0);
            EXPECT_FALSE(silent);
          }
          // Aborting without an aborted branch needs every answer and no sign of progress.
          if (t.verdict == V::kAbort && count(PS::kAborted) == 0) {
            EXPECT_FALSE(silent);
            EXPECT_FALSE(restarted);
            EXPECT_EQ(count(PS::kPreCommitted) + count(PS::kCommitted), 0);
          }
        }
      }
    }
  }
  EXPECT_EQ(checked, 6 * 6 * 6 * 2);
}

}  // namespace
}  // namespace txc::sdk
