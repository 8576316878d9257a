// TransactionService: what the REST layer asks of the coordinator. The HTTP code parses a
// request into one of these calls and renders the result; it holds no transaction logic.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/transaction.h"
#include "log/tx_log.h"
#include "txc/status.h"

namespace txc::api {

struct BranchSpec {
  std::string participant;  // already validated with wire::IsValidParticipantName
  nlohmann::json payload;
  std::vector<int> after;  // saga: the steps this one runs after
};

struct BeginCommand {
  core::Protocol protocol = core::Protocol::kTwoPhase;
  std::vector<BranchSpec> branches;
  core::Duration timeout{5000};
  std::string idempotency_key;  // empty: none
  std::string request_hash;     // fingerprint of the request body (set when a key is given)
  std::string traceparent;      // a valid W3C traceparent header, or ""
  // The transaction's retry budget; each part left unset takes the coordinator's default.
  std::optional<int> retry_max_attempts;
  std::optional<core::Duration> retry_deadline;
  // Set: answer only once the transaction is terminal, or this much time has passed (then with
  // its state at that moment).
  std::optional<core::Duration> wait;
  // With `wait`: answer once the outcome is decided and durable (committing, aborting,
  // compensating, or terminal) instead of at the end.
  bool wait_for_decision = false;
};

struct BeginResult {
  core::Transaction tx;
  bool created = true;  // false: an earlier request with the same Idempotency-Key made `tx`
};

class TransactionService {
 public:
  virtual ~TransactionService() = default;
  // Starts a transaction; returns once it is durably logged, or with command.wait once it is
  // terminal (or decided). A known Idempotency-Key returns the earlier transaction (created=false),
  // or kAlreadyExists if the body differs.
  virtual Result<BeginResult> Begin(const BeginCommand& command) = 0;
  // Begin for callers that must not block (the NATS API): `done` runs exactly once with what
  // Begin would have returned, on one of the service's threads (or, for an answer known at
  // once, on the caller's). It must not block. What it publishes on the service's NATS
  // connection is flushed by the service after it returns.
  using BeginDone = std::function<void(Result<BeginResult>)>;
  virtual void BeginAsync(const BeginCommand& command, BeginDone done) = 0;
  // One transaction with every branch's history; kNotFound if unknown.
  virtual Result<core::Transaction> Get(const std::string& id) = 0;
  virtual Result<log::TxPage> List(const log::TxFilter& filter) = 0;
  // Operator actions; both return the transaction as the action left it, once that is durable.
  // Abort: aborts a transaction that has no commit decision yet (a running saga is compensated);
  // aborting one that is aborting or aborted already is not an error. Retry: re-sends now every
  // branch waiting out a back-off, restarting its back-off. kNotFound if unknown;
  // kFailedPrecondition (saying why) when the transaction's state does not allow it.
  virtual Result<core::Transaction> Abort(const std::string& id, const std::string& reason) = 0;
  virtual Result<core::Transaction> Retry(const std::string& id) = 0;
  // Ok when NATS is connected and the log is writable.
  virtual Status Ready() = 0;
};

}  // namespace txc::api
