#include "dispatcher.h"

#include <exception>
#include <utility>

#include "log.h"

namespace txc::sdk {
namespace {

wire::BranchReply With(wire::BranchReply reply, wire::Outcome outcome, std::string message) {
  reply.outcome = outcome;
  reply.message = std::move(message);
  return reply;
}

std::string PayloadText(const nlohmann::json& payload) {
  // The parser only produced valid UTF-8, but never let dump() throw on a record path.
  return payload.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

std::string Where(const wire::BranchRequest& r) { return r.gid + "/" + std::to_string(r.branch); }

}  // namespace

Dispatcher::Dispatcher(std::string participant, BranchStore* store, Handlers handlers,
                       CounterSet* counters)
    : participant_(std::move(participant)),
      store_(store),
      handlers_(std::move(handlers)),
      counters_(counters) {}

wire::BranchReply Dispatcher::Handle(const wire::BranchRequest& request) {
  wire::BranchReply reply{request.gid, request.branch, request.op, wire::Outcome::kError, ""};
  if (request.participant != participant_) {
    counters_->bad_requests++;
    return With(
        reply, wire::Outcome::kError,
        "request for participant '" + request.participant + "' reached '" + participant_ + "'");
  }
  if (request.op != wire::Op::kPrepare && request.op != wire::Op::kCommit &&
      request.op != wire::Op::kAbort) {
    counters_->bad_requests++;
    return With(reply, wire::Outcome::kError,
                std::string("op '") + wire::OpName(request.op) +
                    "' is not supported by this participant (2pc only)");
  }
  auto lock = store_->Lock();
  try {
    return request.op == wire::Op::kPrepare ? Prepare(request, reply) : Finish(request, reply);
  } catch (const std::exception& e) {
    return Fail(reply, std::string("internal error: ") + e.what());
  } catch (...) {
    return Fail(reply, "internal error: unknown exception");
  }
}

wire::BranchReply Dispatcher::Prepare(const wire::BranchRequest& request, wire::BranchReply reply) {
  if (Status s = store_->Begin(); !s.ok()) return Fail(reply, s.ToString());
  auto found = store_->Find(request.gid, request.branch);
  if (!found.ok()) return Fail(reply, found.status().ToString());
  if (found->has_value()) {
    store_->Rollback();  // read-only so far
    if ((*found)->state == BranchState::kAborted) {
      return With(reply, wire::Outcome::kRefused, "already aborted");
    }
    return With(reply, wire::Outcome::kOk, "");  // duplicate of a yes vote
  }

  // The savepoint lets a refusal undo the handler's writes yet record 'aborted' in the same
  // transaction, so no other request can slip in between.
  if (Status s = store_->Savepoint(); !s.ok()) return Fail(reply, s.ToString());
  const HandlerResult verdict = handlers_.prepare
                                    ? Call(handlers_.prepare, request, &counters_->prepare_calls)
                                    : HandlerResult::Ok();
  if (verdict.outcome == wire::Outcome::kError) return Fail(reply, verdict.message);

  BranchRecord record{request.gid,
                      request.branch,
                      request.protocol,
                      BranchState::kPrepared,
                      PayloadText(request.payload),
                      WallClockMs()};
  Status s;
  if (verdict.outcome == wire::Outcome::kOk) {
    s = store_->ReleaseSavepoint();
  } else {
    record.state = BranchState::kAborted;  // a duplicate prepare must be refused again
    s = store_->RollbackToSavepoint();
  }
  if (s.ok()) s = store_->Insert(record);
  // synchronous=FULL: when COMMIT returns, the vote is on disk; only then do we answer.
  if (s.ok()) s = store_->Commit();
  if (!s.ok()) return Fail(reply, s.ToString());
  if (verdict.outcome == wire::Outcome::kOk) return With(reply, wire::Outcome::kOk, "");
  return With(reply, wire::Outcome::kRefused,
              verdict.message.empty() ? "refused by the prepare handler" : verdict.message);
}

wire::BranchReply Dispatcher::Finish(const wire::BranchRequest& request, wire::BranchReply reply) {
  const bool commit = request.op == wire::Op::kCommit;
  const BranchState target = commit ? BranchState::kCommitted : BranchState::kAborted;
  if (Status s = store_->Begin(); !s.ok()) return Fail(reply, s.ToString());
  auto found = store_->Find(request.gid, request.branch);
  if (!found.ok()) return Fail(reply, found.status().ToString());

  if (!found->has_value()) {
    if (commit) return Fail(reply, "unknown branch: no prepare was recorded for " + Where(request));
    // Null rollback: remember the abort so a prepare arriving late is refused.
    Status s = store_->Insert(BranchRecord{request.gid, request.branch, request.protocol,
                                           BranchState::kAborted, PayloadText(request.payload),
                                           WallClockMs()});
    if (s.ok()) s = store_->Commit();
    if (!s.ok()) return Fail(reply, s.ToString());
    return With(reply, wire::Outcome::kOk, "");
  }

  const BranchState state = (*found)->state;
  if (state == target) {
    store_->Rollback();
    return With(reply, wire::Outcome::kOk, "");  // duplicate
  }
  if (state != BranchState::kPrepared) {
    const std::string why = std::string("protocol violation: ") + wire::OpName(request.op) +
                            " for branch " + Where(request) + " which is already " +
                            BranchStateName(state);
    LogLine(participant_, why);
    return Fail(reply, why);
  }

  const Handler& handler = commit ? handlers_.commit : handlers_.abort;
  HandlerResult verdict = HandlerResult::Ok();
  if (handler) {
    verdict = Call(handler, request, commit ? &counters_->commit_calls : &counters_->abort_calls);
  }
  if (verdict.outcome == wire::Outcome::kRefused) {
    // A decided outcome cannot be refused; treat it as transient so the coordinator retries.
    LogLine(participant_, std::string(wire::OpName(request.op)) + " handler refused " +
                              Where(request) + " (" + verdict.message +
                              "); a decided outcome cannot be refused, will be retried");
    return Fail(reply, std::string(wire::OpName(request.op)) +
                           " handler refused (retry expected): " + verdict.message);
  }
  if (verdict.outcome == wire::Outcome::kError) return Fail(reply, verdict.message);

  Status s = store_->SetState(request.gid, request.branch, target);
  if (s.ok()) s = store_->Commit();
  if (!s.ok()) return Fail(reply, s.ToString());
  return With(reply, wire::Outcome::kOk, "");
}

HandlerResult Dispatcher::Call(const Handler& handler, const wire::BranchRequest& request,
                               std::atomic<uint64_t>* calls) {
  BranchContext ctx{request.gid, request.branch,  request.participant, request.protocol,
                    request.op,  request.attempt, request.payload,     store_->db()};
  (*calls)++;
  HandlerResult verdict;
  try {
    verdict = handler(ctx);
  } catch (const std::exception& e) {
    verdict =
        HandlerResult::Retry(std::string(wire::OpName(request.op)) + " handler threw: " + e.what());
  } catch (...) {
    verdict = HandlerResult::Retry(std::string(wire::OpName(request.op)) +
                                   " handler threw a non-standard exception");
  }
  if (!store_->InTransaction()) {
    // The handler committed or rolled back our transaction: its writes may already be durable
    // without a branch record, so nothing we could record now would be truthful.
    const std::string why = std::string(wire::OpName(request.op)) + " handler for " +
                            Where(request) + " ended the SDK's transaction";
    LogLine(participant_, why);
    return HandlerResult::Retry(why);
  }
  if (verdict.outcome == wire::Outcome::kError && verdict.message.empty()) {
    verdict.message = std::string(wire::OpName(request.op)) + " handler asked to retry";
  }
  return verdict;
}

wire::BranchReply Dispatcher::Fail(wire::BranchReply reply, const std::string& why) {
  store_->Rollback();
  return With(std::move(reply), wire::Outcome::kError, why);
}

}  // namespace txc::sdk
