#include "engine/engine_service.h"

#include <exception>
#include <future>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace txc::engine {

EngineService::EngineService(Engine& engine, log::TxLog& log, transport::Transport& transport,
                             core::Duration begin_timeout)
    : engine_(engine),
      log_(log),
      transport_(transport),
      begin_timeout_(begin_timeout),
      async_waits_([this](const std::vector<std::string>& ids) { return ReadDurable(ids); },
                   [this] { (void)transport_.Flush(); }) {}

core::Transaction EngineService::DraftOf(const api::BeginCommand& command) const {
  core::Transaction draft;
  draft.protocol = command.protocol;
  draft.timeout = command.timeout;
  draft.idempotency_key = command.idempotency_key;
  draft.request_hash = command.request_hash;
  draft.traceparent = command.traceparent;
  const core::RetryBudget& defaults = engine_.default_retry_budget();
  draft.retry_budget = {command.retry_max_attempts.value_or(defaults.max_attempts),
                        command.retry_deadline.value_or(defaults.deadline)};
  for (size_t i = 0; i < command.branches.size(); ++i) {
    core::Branch b;
    b.index = static_cast<int>(i);
    b.participant = command.branches[i].participant;
    b.payload = command.branches[i].payload;
    b.after = command.branches[i].after;
    draft.branches.push_back(std::move(b));
  }
  return draft;
}

Result<api::BeginResult> EngineService::Begin(const api::BeginCommand& command) {
  // BeginAsync's start, with the calling (HTTP) thread waiting for its one answer.
  auto answer = std::make_shared<std::promise<Result<api::BeginResult>>>();
  auto answered = answer->get_future();
  BeginAsync(command,
             [answer](Result<api::BeginResult> result) { answer->set_value(std::move(result)); });
  return answered.get();
}

void EngineService::BeginAsync(const api::BeginCommand& command, BeginDone done) {
  if (stopping_.load()) {
    done(Status::Unavailable("the coordinator is shutting down"));
    (void)transport_.Flush();
    return;
  }
  const auto started = AsyncBeginWaits::Clock::now();
  auto wait = async_waits_.Add(std::move(done), command.wait.has_value(), started + begin_timeout_,
                               started + command.wait.value_or(core::Duration(0)));
  if (!wait) {  // answered already (too many waiting, or stopped)
    (void)transport_.Flush();
    return;
  }
  try {
    // The engine's callbacks run on its thread: what they publish leaves with its round's flush.
    Engine::Watcher on_end;
    if (command.wait) on_end = async_waits_.EndWatcher(wait, [this] { engine_.FlushAfterRound(); });
    engine_.Begin(
        DraftOf(command),
        [this, wait](Result<BeginOutcome> outcome) {
          async_waits_.Begun(wait, std::move(outcome));
          engine_.FlushAfterRound();
        },
        std::move(on_end),
        command.wait_for_decision ? Engine::Until::kDecision : Engine::Until::kEnd, wait);
  } catch (const std::exception& e) {  // e.g. bad_alloc: the wait owns the answer
    async_waits_.Begun(wait, Status::Internal(std::string("starting: ") + e.what()));
    (void)transport_.Flush();
  }
}

void EngineService::FinishStarts() {
  async_waits_.AwaitStarts(AsyncBeginWaits::Clock::now() + begin_timeout_);
}

Result<core::Transaction> EngineService::Get(const std::string& id) {
  return std::move(ReadDurable({id}).front());
}

std::vector<Result<core::Transaction>> EngineService::ReadDurable(
    const std::vector<std::string>& ids) {
  std::vector<Result<std::optional<core::Transaction>>> found;
  bool running = false;
  for (const std::string& id : ids) {
    found.push_back(log_.Find(id, /*with_history=*/true));
    running = running || (found.back().ok() && found.back()->has_value() &&
                          !core::IsTerminal((*found.back())->state));
  }
  if (running) {
    // Their last records may be queued behind the group commit (they are written lazily): a
    // client that was just told "committed" must not read "committing" now. One sync for all.
    auto synced = std::make_shared<std::promise<void>>();
    auto sync_future = synced->get_future();
    engine_.SyncLog([synced](Status) { synced->set_value(); });
    (void)sync_future.wait_for(begin_timeout_);
    for (size_t i = 0; i < ids.size(); ++i) {
      if (found[i].ok() && found[i]->has_value() && !core::IsTerminal((*found[i])->state)) {
        found[i] = log_.Find(ids[i], /*with_history=*/true);
      }
    }
  }
  std::vector<Result<core::Transaction>> out;
  for (size_t i = 0; i < ids.size(); ++i) {
    if (!found[i].ok()) {
      out.push_back(found[i].status());
    } else if (!found[i]->has_value()) {
      out.push_back(Status::NotFound("no transaction with id '" + ids[i] + "'"));
    } else {
      out.push_back(std::move(**found[i]));
    }
  }
  return out;
}

Result<log::TxPage> EngineService::List(const log::TxFilter& filter) { return log_.List(filter); }

Result<core::Transaction> EngineService::Abort(const std::string& id, const std::string& reason) {
  return Operate(id, core::OperatorAbort{reason});
}

Result<core::Transaction> EngineService::Retry(const std::string& id) {
  return Operate(id, core::OperatorRetry{});
}

Result<core::Transaction> EngineService::Operate(const std::string& id, core::Event action) {
  auto promise = std::make_shared<std::promise<Result<core::Transaction>>>();
  auto future = promise->get_future();
  engine_.Operate(id, action,
                  [promise](Result<core::Transaction> tx) { promise->set_value(std::move(tx)); });
  if (future.wait_for(begin_timeout_) != std::future_status::ready) {
    return Status::Unavailable("the coordinator did not log the action in time");
  }
  Result<core::Transaction> done = future.get();
  if (done.ok() || done.status().code() != StatusCode::kNotFound) return done;
  // Not in progress: finished, or never known. Say which, as the protocol would have. A
  // transaction that just finished may still read "aborting" here (Get waits for the log, but
  // the engine may have let go of it first): aborting it again is the same no-op.
  TXC_ASSIGN_OR_RETURN(core::Transaction tx, Get(id));
  if (std::holds_alternative<core::OperatorAbort>(action) && core::IsAbortOutcome(tx.state)) {
    return tx;
  }
  return Status::FailedPrecondition(std::string("the transaction is ") +
                                    core::TxStateName(tx.state) + ": nothing to " +
                                    core::OperatorActionName(action));
}

Status EngineService::Ready() {
  if (Status h = engine_.Health(); !h.ok()) {
    return Status::Unavailable("transaction log not writable: " + h.message());
  }
  if (!transport_.Connected()) return Status::Unavailable("not connected to NATS");
  return Status::Ok();
}

}  // namespace txc::engine
