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
  auto lock = store_->Lock();
  try {
    if (Status s = store_->Begin(); !s.ok()) return Fail(reply, s.ToString());
    auto found = store_->Find(request.gid, request.branch);
    if (!found.ok()) return Fail(reply, found.status().ToString());
    const std::optional<BranchState> state =
        found->has_value() ? std::optional<BranchState>((*found)->state) : std::nullopt;
    const BranchStep step = PlanStep(request.op, state);
    switch (step.kind) {
      case BranchStep::Kind::kReply:
        store_->Rollback();  // read-only
        if (step.violation) {
          LogLine(participant_, "protocol violation: " + step.message + " (" + Where(request) +
                                    ", " + wire::OpName(request.op) + " attempt " +
                                    std::to_string(request.attempt) + ")");
        }
        return With(reply, step.reply, step.message);
      case BranchStep::Kind::kRecord:
        return Record(request, state.has_value(), step, reply);
      case BranchStep::Kind::kVote:
        return Vote(request, step, reply);
      case BranchStep::Kind::kApply:
        return Apply(request, **found, step, reply);
    }
    return Fail(reply, "internal error: unknown step");
  } catch (const std::exception& e) {
    return Fail(reply, std::string("internal error: ") + e.what());
  } catch (...) {
    return Fail(reply, "internal error: unknown exception");
  }
}

wire::BranchReply Dispatcher::Vote(const wire::BranchRequest& request, const BranchStep& step,
                                   wire::BranchReply reply) {
  const Handler& handler = HandlerFor(request.op);
  // The savepoint lets a refusal undo the handler's writes yet record the refusal in the same
  // transaction, so no other request can slip in between.
  if (Status s = store_->Savepoint(); !s.ok()) return Fail(reply, s.ToString());
  HandlerResult verdict = HandlerResult::Ok();
  if (handler) {
    verdict = Call(handler, request, request.payload);
  } else if (request.op == wire::Op::kAction) {
    verdict = HandlerResult::Refuse("participant " + participant_ +
                                    " takes no saga steps (no action handler)");
  }
  if (verdict.outcome == wire::Outcome::kError) return Fail(reply, verdict.message);

  BranchRecord record{
      request.gid,   request.branch,      request.protocol, step.to, PayloadText(request.payload),
      WallClockMs(), request.participants};
  Status s;
  if (verdict.outcome == wire::Outcome::kOk) {
    s = store_->ReleaseSavepoint();
  } else {
    record.state = step.refused_to;  // a duplicate must be refused again
    s = store_->RollbackToSavepoint();
  }
  if (s.ok()) s = store_->Insert(record);
  // synchronous=FULL: when COMMIT returns, the vote is on disk; only then do we answer.
  if (s.ok()) s = store_->Commit();
  if (!s.ok()) return Fail(reply, s.ToString());
  if (verdict.outcome == wire::Outcome::kOk) return With(reply, wire::Outcome::kOk, "");
  return With(reply, wire::Outcome::kRefused,
              verdict.message.empty()
                  ? std::string("refused by the ") + wire::OpName(request.op) + " handler"
                  : verdict.message);
}

wire::BranchReply Dispatcher::Apply(const wire::BranchRequest& request, const BranchRecord& record,
                                    const BranchStep& step, wire::BranchReply reply) {
  const Handler& handler = HandlerFor(request.op);
  HandlerResult verdict = HandlerResult::Ok();
  if (handler) {
    // A peer's pre_commit (3PC termination) carries no payload: use the one stored with the vote.
    nlohmann::json payload = request.payload;
    if (payload.is_null()) {
      payload = nlohmann::json::parse(record.payload, nullptr, /*allow_exceptions=*/false);
      if (payload.is_discarded()) payload = nullptr;
    }
    verdict = Call(handler, request, payload);
  }
  const std::string op = wire::OpName(request.op);
  if (verdict.outcome == wire::Outcome::kRefused) {
    // A decided step cannot be refused; treat it as transient so the coordinator retries.
    LogLine(participant_, op + " handler refused " + Where(request) + " (" + verdict.message +
                              "); a decided outcome cannot be refused, will be retried");
    return Fail(reply, op + " handler refused (retry expected): " + verdict.message);
  }
  if (verdict.outcome == wire::Outcome::kError) return Fail(reply, verdict.message);

  Status s = store_->SetState(request.gid, request.branch, step.to);
  if (s.ok()) s = store_->Commit();
  if (!s.ok()) return Fail(reply, s.ToString());
  return With(reply, wire::Outcome::kOk, "");
}

wire::BranchReply Dispatcher::Record(const wire::BranchRequest& request, bool exists,
                                     const BranchStep& step, wire::BranchReply reply) {
  Status s = exists ? store_->SetState(request.gid, request.branch, step.to)
                    : store_->Insert(BranchRecord{request.gid, request.branch, request.protocol,
                                                  step.to, PayloadText(request.payload),
                                                  WallClockMs(), request.participants});
  if (s.ok()) s = store_->Commit();
  if (!s.ok()) return Fail(reply, s.ToString());
  return With(reply, wire::Outcome::kOk, "");
}

Result<wire::PeerStateReply> Dispatcher::PeerState(const wire::PeerStateQuery& query) {
  auto lock = store_->Lock();
  auto records = store_->FindAll(query.gid);
  if (!records.ok()) return records.status();
  wire::PeerStateReply reply{query.gid, participant_, {}};
  for (const BranchRecord& r : *records) {
    reply.branches.push_back(wire::PeerBranchState{r.branch, PeerStateOf(r.state)});
  }
  return reply;
}

const Handler& Dispatcher::HandlerFor(wire::Op op) const {
  switch (op) {
    case wire::Op::kPrepare:
      return handlers_.prepare;
    case wire::Op::kCanCommit:
      return handlers_.can_commit ? handlers_.can_commit : handlers_.prepare;
    case wire::Op::kPreCommit:
      return handlers_.pre_commit;
    case wire::Op::kCommit:
      return handlers_.commit;
    case wire::Op::kDoCommit:
      return handlers_.do_commit ? handlers_.do_commit : handlers_.commit;
    case wire::Op::kAbort:
      return handlers_.abort;
    case wire::Op::kAction:
      return handlers_.action;
    case wire::Op::kCompensate:
      return handlers_.compensate;
  }
  return handlers_.prepare;
}

std::atomic<uint64_t>* Dispatcher::CallsFor(wire::Op op) {
  switch (op) {
    case wire::Op::kPrepare:
    case wire::Op::kCanCommit:
      return &counters_->prepare_calls;
    case wire::Op::kPreCommit:
      return &counters_->pre_commit_calls;
    case wire::Op::kCommit:
    case wire::Op::kDoCommit:
      return &counters_->commit_calls;
    case wire::Op::kAbort:
      return &counters_->abort_calls;
    case wire::Op::kAction:
      return &counters_->action_calls;
    case wire::Op::kCompensate:
      return &counters_->compensate_calls;
  }
  return &counters_->prepare_calls;
}

HandlerResult Dispatcher::Call(const Handler& handler, const wire::BranchRequest& request,
                               const nlohmann::json& payload) {
  BranchContext ctx{request.gid,      request.branch, request.participant,
                    request.protocol, request.op,     request.attempt,
                    payload,          store_->db()};
  (*CallsFor(request.op))++;
  const std::string op = wire::OpName(request.op);
  HandlerResult verdict;
  try {
    verdict = handler(ctx);
  } catch (const std::exception& e) {
    verdict = HandlerResult::Retry(op + " handler threw: " + e.what());
  } catch (...) {
    verdict = HandlerResult::Retry(op + " handler threw a non-standard exception");
  }
  if (!store_->InTransaction()) {
    // The handler committed or rolled back our transaction: its writes may already be durable
    // without a branch record, so nothing we could record now would be truthful.
    const std::string why = op + " handler for " + Where(request) + " ended the SDK's transaction";
    LogLine(participant_, why);
    return HandlerResult::Retry(why);
  }
  if (verdict.outcome == wire::Outcome::kError && verdict.message.empty()) {
    verdict.message = op + " handler asked to retry";
  }
  return verdict;
}

wire::BranchReply Dispatcher::Fail(wire::BranchReply reply, const std::string& why) {
  store_->Rollback();
  return With(std::move(reply), wire::Outcome::kError, why);
}

}  // namespace txc::sdk
