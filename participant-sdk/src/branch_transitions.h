// The idempotency barrier's rules, as data: for a request `op` arriving at a branch whose record
// is in `state` (or has none), what the SDK does. Pure; the Dispatcher executes the step inside
// one local transaction. docs/protocol.md's participant tables are this function.
//
//   2PC/3PC   none            prepared        precommitted    committed     aborted
//   prepare,  vote            ok              ok              ok            refused
//   can_commit
//   pre_commit error          apply->precomm. ok              ok            refused
//   commit,   error           apply->commit.  apply->commit.  ok            error (violation)
//   do_commit
//   abort     record aborted  apply->aborted  apply->aborted  error (viol.) ok
//
//   saga      none                 done                 failed               compensated
//   action    vote (->done/failed) ok                   refused              refused (hanging)
//   compensate record compensated  apply->compensated   record compensated   ok
//             (null compensation)                       (nothing to undo)
//
// "vote": run the first-phase handler; ok -> `to`, a definitive no -> `refused_to` with the
// handler's writes undone, a transient failure -> nothing recorded, `error`. "apply": run the
// handler of a decided step; anything but ok -> `error` and nothing recorded (it is re-sent).
// A 2PC/3PC op on a saga record, or the reverse, is an `error`.
#pragma once

#include <optional>
#include <string>

#include "branch_store.h"
#include "txc/wire.h"

namespace txc::sdk {

struct BranchStep {
  enum class Kind {
    kReply,   // answer from the record; nothing changes
    kRecord,  // write `to` without calling a handler
    kVote,    // first-phase handler decides between `to` and `refused_to`
    kApply,   // the decided step's handler, then `to`
  };
  Kind kind = Kind::kReply;
  wire::Outcome reply = wire::Outcome::kOk;  // kReply only
  std::string message;                       // kReply: why, for refused/error
  bool violation = false;  // kReply: a message that cannot happen unless someone broke the rules
  BranchState to = BranchState::kAborted;
  BranchState refused_to = BranchState::kAborted;  // kVote only
};

BranchStep PlanStep(wire::Op op, std::optional<BranchState> state);

}  // namespace txc::sdk
