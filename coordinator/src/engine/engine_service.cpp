#include "engine/engine_service.h"

#include <exception>
#include <future>
#include <memory>
#include <optional>

namespace txc::engine {
namespace {

// The engine's watcher for `wait`: it keeps the wait alive, as the engine may call it after the
// API thread has given up.
Engine::Watcher EndOf(const std::shared_ptr<TxWait>& wait) {
  return [wait](std::optional<core::Transaction> tx) { wait->Ended(std::move(tx)); };
}

}  // namespace

EngineService::EngineService(Engine& engine, log::TxLog& log, transport::Transport& transport,
                             core::Duration begin_timeout)
    : engine_(engine),
      log_(log),
      transport_(transport),
      begin_timeout_(begin_timeout),
      async_waits_([this](const std::string& id) { return Get(id); },
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
  // Between Shutdown() and the listener closing, nothing new is started.
  if (stopping_.load()) return Status::Unavailable("the coordinator is shutting down");
  core::Transaction draft = DraftOf(command);
  // Waiting for the end (or the decision) is registered with the start: one trip through the
  // engine, and no window in which a fast transaction could finish unwatched.
  const auto started = TxWait::Clock::now();
  auto wait = std::make_shared<TxWait>(/*want_end=*/command.wait.has_value());
  std::optional<WaitSet::Entry> entry;  // a shutdown cuts only waits for an end short
  Engine::Watcher on_terminal;
  if (command.wait) {
    entry.emplace(waits_, *wait);
    on_terminal = EndOf(wait);
  }
  engine_.Begin(
      std::move(draft), [wait](Result<BeginOutcome> outcome) { wait->Begun(std::move(outcome)); },
      std::move(on_terminal),
      command.wait_for_decision ? Engine::Until::kDecision : Engine::Until::kEnd);
  TxWait::Arrived arrived =
      wait->Wait(started + begin_timeout_, started + command.wait.value_or(core::Duration(0)));
  if (!arrived.begun) {
    return Status::Unavailable("the coordinator did not log the transaction in time");
  }
  if (!arrived.begun->ok()) return arrived.begun->status();
  api::BeginResult result{std::move((*arrived.begun)->tx), (*arrived.begun)->created};
  if (!command.wait) return result;
  if (arrived.end) {
    result.tx = std::move(*arrived.end);
    return result;
  }
  // Still running when the wait ran out, or finished before (a replay): the log has it.
  auto now = Get(result.tx.id);
  if (now.ok()) result.tx = std::move(*now);
  return result;
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
    if (command.wait) {
      on_end = [this, wait](std::optional<core::Transaction> tx) {
        async_waits_.Ended(wait, std::move(tx));
        engine_.FlushAfterRound();
      };
    }
    engine_.Begin(
        DraftOf(command),
        [this, wait](Result<BeginOutcome> outcome) {
          async_waits_.Begun(wait, std::move(outcome));
          engine_.FlushAfterRound();
        },
        std::move(on_end),
        command.wait_for_decision ? Engine::Until::kDecision : Engine::Until::kEnd);
  } catch (const std::exception& e) {  // e.g. bad_alloc: the wait owns the answer
    async_waits_.Begun(wait, Status::Internal(std::string("starting: ") + e.what()));
    (void)transport_.Flush();
  }
}

void EngineService::FinishStarts() {
  async_waits_.AwaitStarts(AsyncBeginWaits::Clock::now() + begin_timeout_);
}

Result<core::Transaction> EngineService::AwaitTerminal(const std::string& id,
                                                       core::Duration max_wait) {
  const auto started = TxWait::Clock::now();
  auto wait = std::make_shared<TxWait>(/*want_end=*/true);
  WaitSet::Entry entry(waits_, *wait);
  wait->Begun(BeginOutcome{});  // nothing to start: only the end is waited for
  engine_.Watch(id, EndOf(wait));
  TxWait::Arrived arrived = wait->Wait(started, started + max_wait);
  if (arrived.end) return std::move(*arrived.end);
  return Get(id);  // as it is now: still running, or not driven by the engine (finished, unknown)
}

Result<core::Transaction> EngineService::Get(const std::string& id) {
  auto found = log_.Find(id, /*with_history=*/true);
  if (found.ok() && found->has_value() && !core::IsTerminal((*found)->state)) {
    // Its last records may be queued behind the group commit (they are written lazily): a
    // client that was just told "committed" must not read "committing" now.
    auto synced = std::make_shared<std::promise<void>>();
    auto sync_future = synced->get_future();
    engine_.SyncLog([synced](Status) { synced->set_value(); });
    (void)sync_future.wait_for(begin_timeout_);
    found = log_.Find(id, /*with_history=*/true);
  }
  if (!found.ok()) return found.status();
  if (!found->has_value()) return Status::NotFound("no transaction with id '" + id + "'");
  return std::move(**found);
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
