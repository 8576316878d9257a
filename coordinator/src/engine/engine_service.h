// EngineService: the coordinator's TransactionService. Writes go through the engine (which owns
// live transactions); reads come from the log, which holds only durable state, so an answer
// never shows a decision that a crash could still undo.
#pragma once

#include <atomic>
#include <string>
#include <vector>

#include "api/transaction_service.h"
#include "engine/async_begin_waits.h"
#include "engine/engine.h"
#include "log/tx_log.h"
#include "transport/transport.h"

namespace txc::engine {

class EngineService final : public api::TransactionService {
 public:
  EngineService(Engine& engine, log::TxLog& log, transport::Transport& transport,
                core::Duration begin_timeout = core::Duration(10000));

  Result<api::BeginResult> Begin(const api::BeginCommand& command) override;
  void BeginAsync(const api::BeginCommand& command, BeginDone done) override;
  Result<core::Transaction> Get(const std::string& id) override;
  Result<log::TxPage> List(const log::TxFilter& filter) override;
  Result<core::Transaction> Abort(const std::string& id, const std::string& reason) override;
  Result<core::Transaction> Retry(const std::string& id) override;
  Status Ready() override;

  // Ends every wait for a terminal state at once (those callers get the transaction as it is),
  // so a shutdown need not wait out clients' ?wait=true. Later waits return at once too, and
  // Begin refuses (kUnavailable).
  void Shutdown() {
    stopping_.store(true);
    async_waits_.StopAll();
  }
  // Waits (at most the begin timeout) until every start handed to the engine is logged or
  // refused, so that stopping the engine next does not leave a client told "unavailable" about
  // a transaction that exists. Call after the last BeginAsync, before the engine stops.
  void FinishStarts();
  // Answers every start still waited for and stops the thread that answers from the log. Call
  // once the engine has stopped and before the log closes. Idempotent.
  void Stop() { async_waits_.Stop(); }
  // Clients (HTTP or NATS) waiting for a start's answer.
  size_t waiting() const { return async_waits_.open(); }

 private:
  Result<core::Transaction> Operate(const std::string& id, core::Event action);
  core::Transaction DraftOf(const api::BeginCommand& command) const;
  // Get for several: what the log has of each once it has synced (one sync, when any of them is
  // still running), in the order asked.
  std::vector<Result<core::Transaction>> ReadDurable(const std::vector<std::string>& ids);

  Engine& engine_;
  log::TxLog& log_;
  transport::Transport& transport_;
  core::Duration begin_timeout_;
  std::atomic<bool> stopping_{false};
  AsyncBeginWaits async_waits_;  // last: its thread reads the log through this service
};

}  // namespace txc::engine
