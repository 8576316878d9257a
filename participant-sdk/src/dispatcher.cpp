#include "dispatcher.h"

#include <exception>
#include <string_view>
#include <utility>

#include "log.h"

namespace txc::sdk {
namespace {

constexpr auto kRequestSavepoint = BranchStore::SavepointName::kRequest;

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
      counters_(counters) {
  auto lock = store_->Lock();
  sqlite3_set_authorizer(store_->db(), &Dispatcher::Authorize, this);
}

Dispatcher::~Dispatcher() {
  auto lock = store_->Lock();
  sqlite3_set_authorizer(store_->db(), nullptr, nullptr);
}

int Dispatcher::Authorize(void* self, int action, const char* arg1, const char* arg2, const char*,
                          const char*) {
  const auto* d = static_cast<const Dispatcher*>(self);
  if (!d->in_handler_) return SQLITE_OK;
  if (action == SQLITE_TRANSACTION) return SQLITE_DENY;  // BEGIN, COMMIT, ROLLBACK
  // RELEASE or ROLLBACK TO one of ours would end a request's or handler's scope under us.
  if (action == SQLITE_SAVEPOINT && arg2 != nullptr &&
      std::string_view(arg2).rfind("txc_", 0) == 0) {
    (void)arg1;
    return SQLITE_DENY;
  }
  return SQLITE_OK;
}

wire::BranchReply Dispatcher::Handle(const wire::BranchRequest& request,
                                     std::optional<BranchState> only_from) {
  return ApplyBatch({request}, only_from).front();
}

std::vector<wire::BranchReply> Dispatcher::HandleBatch(
    const std::vector<wire::BranchRequest>& requests) {
  return ApplyBatch(requests, std::nullopt);
}

std::vector<wire::BranchReply> Dispatcher::ApplyBatch(
    const std::vector<wire::BranchRequest>& requests, std::optional<BranchState> only_from) {
  std::vector<wire::BranchReply> replies;
  replies.reserve(requests.size());
  auto lock = store_->Lock();
  if (Status s = store_->Begin(); !s.ok()) {
    for (const auto& r : requests) {
      replies.push_back({r.gid, r.branch, r.op, wire::Outcome::kError, s.ToString()});
    }
    return replies;
  }
  bool wrote = false;
  for (const wire::BranchRequest& request : requests) {
    wire::BranchReply error{request.gid, request.branch, request.op, wire::Outcome::kError, ""};
    if (request.participant != participant_) {
      counters_->bad_requests++;
      replies.push_back(With(
          error, wire::Outcome::kError,
          "request for participant '" + request.participant + "' reached '" + participant_ + "'"));
      continue;
    }
    if (Status s = store_->Savepoint(kRequestSavepoint); !s.ok()) {
      replies.push_back(With(error, wire::Outcome::kError, s.ToString()));
      continue;
    }
    Outcome outcome;
    try {
      outcome = Apply(request, only_from);
    } catch (const std::exception& e) {
      outcome = {With(error, wire::Outcome::kError, std::string("internal error: ") + e.what())};
    } catch (...) {
      outcome = {With(error, wire::Outcome::kError, "internal error: unknown exception")};
    }
    Status s = outcome.keep ? store_->ReleaseSavepoint(kRequestSavepoint)
                            : store_->RollbackToSavepoint(kRequestSavepoint);
    if (!s.ok()) {
      // The transaction's state is unknown now: give up the whole batch.
      store_->Rollback();
      replies.push_back(std::move(outcome.reply));
      for (auto& r : replies) r = With(r, wire::Outcome::kError, s.ToString());
      while (replies.size() < requests.size()) {
        const auto& r = requests[replies.size()];
        replies.push_back({r.gid, r.branch, r.op, wire::Outcome::kError, s.ToString()});
      }
      return replies;
    }
    wrote = wrote || outcome.keep;
    replies.push_back(std::move(outcome.reply));
  }
  // synchronous=FULL: when COMMIT returns, every vote and effect of the batch is on disk; only
  // then may the replies leave.
  Status s = wrote ? store_->Commit() : (store_->Rollback(), Status::Ok());
  if (!s.ok()) {
    store_->Rollback();
    for (auto& r : replies) {
      if (r.outcome != wire::Outcome::kError) r = With(r, wire::Outcome::kError, s.ToString());
    }
  }
  return replies;
}

Dispatcher::Outcome Dispatcher::Apply(const wire::BranchRequest& request,
                                      std::optional<BranchState> only_from) {
  wire::BranchReply reply{request.gid, request.branch, request.op, wire::Outcome::kError, ""};
  auto found = store_->Find(request.gid, request.branch);
  if (!found.ok()) return {With(reply, wire::Outcome::kError, found.status().ToString())};
  const std::optional<BranchState> state =
      found->has_value() ? std::optional<BranchState>((*found)->state) : std::nullopt;
  if (only_from && state != only_from) {
    return {With(reply, wire::Outcome::kError,
                 std::string("the branch left ") + BranchStateName(*only_from) +
                     " since the decision was taken")};
  }
  const BranchStep step = PlanStep(request.op, state);
  switch (step.kind) {
    case BranchStep::Kind::kReply:
      if (step.violation) {
        LogLine(participant_, "protocol violation: " + step.message + " (" + Where(request) + ", " +
                                  wire::OpName(request.op) + " attempt " +
                                  std::to_string(request.attempt) + ")");
      }
      return {With(reply, step.reply, step.message)};
    case BranchStep::Kind::kRecord:
      return Record(request, state.has_value(), step, reply);
    case BranchStep::Kind::kVote:
      return Vote(request, step, reply);
    case BranchStep::Kind::kApply:
      return Run(request, **found, step, reply);
  }
  return {With(reply, wire::Outcome::kError, "internal error: unknown step")};
}

Dispatcher::Outcome Dispatcher::Vote(const wire::BranchRequest& request, const BranchStep& step,
                                     wire::BranchReply reply) {
  const Handler& handler = HandlerFor(request.op);
  // The inner savepoint lets a refusal undo the handler's writes yet record the refusal.
  if (Status s = store_->Savepoint(); !s.ok()) {
    return {With(reply, wire::Outcome::kError, s.ToString())};
  }
  HandlerResult verdict = HandlerResult::Ok();
  if (handler) {
    verdict = Call(handler, request, request.payload);
  } else if (request.op == wire::Op::kAction) {
    verdict = HandlerResult::Refuse("participant " + participant_ +
                                    " takes no saga steps (no action handler)");
  }
  if (verdict.outcome == wire::Outcome::kError) {
    return {With(reply, wire::Outcome::kError, verdict.message)};
  }
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
  if (!s.ok()) return {With(reply, wire::Outcome::kError, s.ToString())};
  if (verdict.outcome == wire::Outcome::kOk) return {With(reply, wire::Outcome::kOk, ""), true};
  return {With(reply, wire::Outcome::kRefused,
               verdict.message.empty()
                   ? std::string("refused by the ") + wire::OpName(request.op) + " handler"
                   : verdict.message),
          true};
}

Dispatcher::Outcome Dispatcher::Run(const wire::BranchRequest& request, const BranchRecord& record,
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
    return {With(reply, wire::Outcome::kError,
                 op + " handler refused (retry expected): " + verdict.message)};
  }
  if (verdict.outcome == wire::Outcome::kError) {
    return {With(reply, wire::Outcome::kError, verdict.message)};
  }
  if (Status s = store_->SetState(request.gid, request.branch, step.to); !s.ok()) {
    return {With(reply, wire::Outcome::kError, s.ToString())};
  }
  return {With(reply, wire::Outcome::kOk, ""), true};
}

Dispatcher::Outcome Dispatcher::Record(const wire::BranchRequest& request, bool exists,
                                       const BranchStep& step, wire::BranchReply reply) {
  Status s = exists ? store_->SetState(request.gid, request.branch, step.to)
                    : store_->Insert(BranchRecord{request.gid, request.branch, request.protocol,
                                                  step.to, PayloadText(request.payload),
                                                  WallClockMs(), request.participants});
  if (!s.ok()) return {With(reply, wire::Outcome::kError, s.ToString())};
  return {With(reply, wire::Outcome::kOk, ""), true};
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
                    payload,          store_->db(),   request.traceparent};
  (*CallsFor(request.op))++;
  const std::string op = wire::OpName(request.op);
  HandlerResult verdict;
  in_handler_ = true;
  try {
    verdict = handler(ctx);
  } catch (const std::exception& e) {
    verdict = HandlerResult::Retry(op + " handler threw: " + e.what());
  } catch (...) {
    verdict = HandlerResult::Retry(op + " handler threw a non-standard exception");
  }
  in_handler_ = false;
  if (verdict.outcome == wire::Outcome::kError && verdict.message.empty()) {
    verdict.message = op + " handler asked to retry";
  }
  return verdict;
}

}  // namespace txc::sdk
