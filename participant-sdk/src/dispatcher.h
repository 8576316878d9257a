// Dispatcher: the idempotency barrier. Applies one branch request to the branch's durable record
// as branch_transitions.h plans it, calling the service's handler inside the same local
// transaction at most once per state change, and says what to answer. Messages from the
// coordinator, from peers running the 3PC termination protocol, and decisions found by the
// in-doubt resolver all take this same path, so recovery is just a retry.
//
// A handler that refuses a decided step (commit, abort, pre_commit, do_commit, compensate), asks
// to retry, throws, or ends the transaction itself rolls everything back and yields `error`: the
// coordinator re-sends. Thread-safe: each call holds the store lock for its whole local
// transaction.
#pragma once

#include <atomic>
#include <cstdint>
#include <string>

#include "branch_store.h"
#include "branch_transitions.h"
#include "counters.h"
#include "txc/participant.h"
#include "txc/wire.h"

namespace txc::sdk {

struct Handlers {
  Handler prepare;     // 2PC vote; also 3PC can_commit without a can_commit handler. Empty: yes
  Handler commit;      // also 3PC do_commit without a do_commit handler. Empty: just record
  Handler abort;       // 2PC and 3PC. Empty: just record
  Handler can_commit;  // 3PC vote
  Handler pre_commit;  // empty: just record
  Handler do_commit;
  Handler action;      // saga; empty: actions are refused (this service takes no saga steps)
  Handler compensate;  // empty: just record
};

class Dispatcher {
 public:
  // `store` and `counters` must outlive the dispatcher.
  Dispatcher(std::string participant, BranchStore* store, Handlers handlers, CounterSet* counters);

  // Never throws. A request for another participant gets an `error` reply.
  wire::BranchReply Handle(const wire::BranchRequest& request);

  // What this participant holds of a transaction, for a peer's termination protocol. Never
  // changes anything. Errors: the database could not be read.
  Result<wire::PeerStateReply> PeerState(const wire::PeerStateQuery& query);

 private:
  // These run with the store lock held and an open transaction, which they commit or roll back.
  wire::BranchReply Vote(const wire::BranchRequest& request, const BranchStep& step,
                         wire::BranchReply reply);
  wire::BranchReply Apply(const wire::BranchRequest& request, const BranchRecord& record,
                          const BranchStep& step, wire::BranchReply reply);
  wire::BranchReply Record(const wire::BranchRequest& request, bool exists, const BranchStep& step,
                           wire::BranchReply reply);

  // The handler for `op`, with the documented fallbacks, and the counter of its calls.
  const Handler& HandlerFor(wire::Op op) const;
  std::atomic<uint64_t>* CallsFor(wire::Op op);

  // Runs a handler inside the open transaction; exceptions and a handler that ended the
  // transaction become Retry.
  HandlerResult Call(const Handler& handler, const wire::BranchRequest& request,
                     const nlohmann::json& payload);
  // Rolls back the open transaction and returns an `error` reply carrying `why`.
  wire::BranchReply Fail(wire::BranchReply reply, const std::string& why);

  const std::string participant_;
  BranchStore* const store_;
  const Handlers handlers_;
  CounterSet* const counters_;
};

}  // namespace txc::sdk
