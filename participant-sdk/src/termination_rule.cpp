#include "termination_rule.h"

#include <algorithm>

namespace txc::sdk {

Termination ConcludeTermination(const std::vector<PeerBranchView>& branches,
                                bool restarted_in_doubt) {
  using PS = wire::PeerState;
  using V = Termination::Verdict;
  auto any = [&](PS s) {
    return std::any_of(branches.begin(), branches.end(),
                       [s](const PeerBranchView& b) { return b.state == s; });
  };
  const bool committed = any(PS::kCommitted);
  const bool aborted = any(PS::kAborted);
  if (committed && aborted) {
    return {V::kKeepAsking, {}, "protocol violation: peers report both committed and aborted"};
  }
  if (committed) return {V::kCommit, {}, "a peer has committed"};
  if (aborted) return {V::kAbort, {}, "a peer has aborted"};
  for (const auto& b : branches) {
    if (!b.state) {
      return {V::kKeepAsking, {}, b.participant + " did not answer and nothing decisive is known"};
    }
  }
  if (any(PS::kPreCommitted)) {
    Termination t{V::kPreCommitThenCommit, {}, "a branch is pre-committed"};
    for (const auto& b : branches) {
      // The coordinator sends pre_commit only after every yes vote is recorded, so a branch
      // without a record beside a pre-committed one means lost data: decide nothing.
      if (b.state == PS::kNone) {
        return {V::kKeepAsking,
                {},
                "branch " + std::to_string(b.branch) + " (" + b.participant +
                    ") has no record although another branch is pre-committed"};
      }
      if (b.state == PS::kUncertain) t.to_pre_commit.push_back(b.branch);
    }
    return t;
  }
  if (restarted_in_doubt) {
    return {V::kKeepAsking,
            {},
            "every branch is uncertain, but this participant restarted in doubt and may have "
            "missed the outcome"};
  }
  return {V::kAbort, {}, "every branch is uncertain: nobody can have committed"};
}

}  // namespace txc::sdk
