// Skeen's termination protocol for 3PC, the decision part: what a participant in doubt concludes
// from the states its peers report once the coordinator is known to be down. Pure; the
// InDoubtResolver gathers the states and carries the conclusion out.
//
//   any branch committed                      -> commit
//   any branch aborted                        -> abort
//   some participant did not answer           -> keep asking (never guess)
//   any branch precommitted, the rest uncertain -> pre_commit the uncertain ones, then commit
//   every branch uncertain or without record  -> abort, unless this participant restarted in
//                                                doubt: it never applies that rule alone
//
// Why the last exception: a participant that was down may have missed the pre_commit that the
// others acted on and the coordinator's commit that followed; only a peer or the coordinator can
// tell it so. model/ checks every rule (and shows what breaks without each).
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "txc/wire.h"

namespace txc::sdk {

struct PeerBranchView {
  int branch = 0;
  std::string participant;
  std::optional<wire::PeerState> state;  // nullopt: its participant did not answer
};

struct Termination {
  enum class Verdict { kCommit, kAbort, kPreCommitThenCommit, kKeepAsking };
  Verdict verdict = Verdict::kKeepAsking;
  std::vector<int> to_pre_commit;  // kPreCommitThenCommit: the uncertain branches
  std::string why;                 // for the participant's log
};

Termination ConcludeTermination(const std::vector<PeerBranchView>& branches,
                                bool restarted_in_doubt);

}  // namespace txc::sdk
