// Dispatcher: the idempotency barrier. Applies one branch request (prepare / commit / abort) to
// the branch's durable record, calling the service's handler inside the same local transaction
// at most once per state change, and says what to answer. Messages from the coordinator and
// decisions found by the in-doubt resolver take this same path, so recovery is just a retry.
//
//   record    | prepare                  | commit                  | abort
//   ----------+--------------------------+-------------------------+---------------------------
//   none      | handler: ok -> prepared  | error (unknown branch)  | -> aborted, ok (null
//             |  refuse -> aborted,      |                         |    rollback, no handler)
//             |  refused; retry -> error |                         |
//   prepared  | ok (duplicate)           | handler: ok ->committed | handler: ok -> aborted
//   committed | ok (duplicate)           | ok (duplicate)          | error (violation, logged)
//   aborted   | refused (already aborted)| error (violation,logged)| ok (duplicate)
//
// A handler that refuses a commit/abort, asks to retry, throws, or ends the transaction itself
// rolls everything back and yields `error`: the coordinator re-sends. Thread-safe: each call
// holds the store lock for its whole local transaction.
#pragma once

#include <atomic>
#include <cstdint>
#include <string>

#include "branch_store.h"
#include "counters.h"
#include "txc/participant.h"
#include "txc/wire.h"

namespace txc::sdk {

struct Handlers {
  Handler prepare;  // empty: vote yes
  Handler commit;   // empty: just record
  Handler abort;    // empty: just record
};

class Dispatcher {
 public:
  // `store` and `counters` must outlive the dispatcher.
  Dispatcher(std::string participant, BranchStore* store, Handlers handlers, CounterSet* counters);

  // Never throws. Requests for another participant or for an op other than prepare/commit/abort
  // get an `error` reply.
  wire::BranchReply Handle(const wire::BranchRequest& request);

 private:
  // These run with the store lock held and may leave a transaction open only by throwing
  // (Handle then rolls back).
  wire::BranchReply Prepare(const wire::BranchRequest& request, wire::BranchReply reply);
  wire::BranchReply Finish(const wire::BranchRequest& request, wire::BranchReply reply);

  // Runs a handler inside the open transaction; exceptions and a handler that ended the
  // transaction become Retry.
  HandlerResult Call(const Handler& handler, const wire::BranchRequest& request,
                     std::atomic<uint64_t>* calls);
  // Rolls back the open transaction and returns an `error` reply carrying `why`.
  wire::BranchReply Fail(wire::BranchReply reply, const std::string& why);

  const std::string participant_;
  BranchStore* const store_;
  const Handlers handlers_;
  CounterSet* const counters_;
};

}  // namespace txc::sdk
