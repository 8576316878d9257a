// Dispatcher: the idempotency barrier. Applies branch requests to the branches' durable records
// as branch_transitions.h plans them, calling the service's handler inside the same local
// transaction at most once per state change, and says what to answer. Messages from the
// coordinator, from peers running the 3PC termination protocol, and decisions found by the
// in-doubt resolver all take this same path, so recovery is just a retry.
//
// Group commit: HandleBatch applies many requests in ONE local transaction, each inside a
// savepoint of its own (a failed request is rolled back to it without touching the others), and
// commits once: one fsync for the whole batch. Replies are only valid once that commit is done,
// which is when HandleBatch returns. A later request in a batch sees what earlier ones wrote, so
// duplicates inside one batch are answered from the record like any other.
//
// A handler that refuses a decided step (commit, abort, pre_commit, do_commit, compensate), asks
// to retry or throws rolls its request back and yields `error`: the coordinator re-sends.
// Handlers cannot end the SDK's transaction: BEGIN, COMMIT, ROLLBACK and the SDK's own
// savepoints are denied to them (SQLite authorizer). Thread-safe: a batch holds the store lock
// from BEGIN to COMMIT.
#pragma once

#include <atomic>
#include <cstdint>
#include <string>
#include <vector>

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
  ~Dispatcher();

  // One reply per request, in order. Never throws. A request for another participant gets an
  // `error` reply.
  std::vector<wire::BranchReply> HandleBatch(const std::vector<wire::BranchRequest>& requests);
  // `only_from`: apply the request only if the branch is still in that state (else `error`,
  // nothing changes). The termination protocol concludes from peers' states read earlier; this
  // makes "nothing changed here since" part of the same local transaction as the change.
  wire::BranchReply Handle(const wire::BranchRequest& request,
                           std::optional<BranchState> only_from = std::nullopt);

  // What this participant holds of a transaction, for a peer's termination protocol. Never
  // changes anything. Errors: the database could not be read.
  Result<wire::PeerStateReply> PeerState(const wire::PeerStateQuery& query);

 private:
  struct Outcome {
    wire::BranchReply reply;
    bool keep = false;  // the request's writes stay in the batch's transaction
  };
  std::vector<wire::BranchReply> ApplyBatch(const std::vector<wire::BranchRequest>& requests,
                                            std::optional<BranchState> only_from);
  // Applies one request inside the open transaction (within its savepoint).
  Outcome Apply(const wire::BranchRequest& request, std::optional<BranchState> only_from);
  Outcome Vote(const wire::BranchRequest& request, const BranchStep& step, wire::BranchReply reply);
  Outcome Run(const wire::BranchRequest& request, const BranchRecord& record,
              const BranchStep& step, wire::BranchReply reply);
  Outcome Record(const wire::BranchRequest& request, bool exists, const BranchStep& step,
                 wire::BranchReply reply);

  // The handler for `op`, with the documented fallbacks, and the counter of its calls.
  const Handler& HandlerFor(wire::Op op) const;
  std::atomic<uint64_t>* CallsFor(wire::Op op);

  // Runs a handler inside the open transaction; exceptions become Retry.
  HandlerResult Call(const Handler& handler, const wire::BranchRequest& request,
                     const nlohmann::json& payload);

  // The SQLite authorizer that keeps handlers from ending the SDK's transaction.
  static int Authorize(void* self, int action, const char* arg1, const char* arg2, const char* db,
                       const char* trigger);

  const std::string participant_;
  BranchStore* const store_;
  const Handlers handlers_;
  CounterSet* const counters_;
  bool in_handler_ = false;  // guarded by the store lock; read by Authorize
};

}  // namespace txc::sdk
