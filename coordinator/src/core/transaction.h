// Transaction: plain data describing one distributed transaction, rebuilt from the log after a
// restart. Protocol objects (two_phase.h, ...) hold the logic; this file holds only state.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "txc/wire.h"

namespace txc::core {

// Wall-clock time in milliseconds; used for records shown to people and for absolute deadlines.
// Timers are relative durations (see actions.h) so the engine can run them on a steady clock.
using TimePoint = std::chrono::time_point<std::chrono::system_clock, std::chrono::milliseconds>;
using Duration = std::chrono::milliseconds;

int64_t ToMillis(TimePoint t);
TimePoint FromMillis(int64_t ms);
// "2026-11-23T10:58:10.628Z" (UTC, milliseconds).
std::string ToIso8601(TimePoint t);

enum class Protocol { kTwoPhase, kThreePhase, kSaga };
const char* ProtocolName(Protocol p);  // "2pc", "3pc", "saga"
std::optional<Protocol> ParseProtocol(std::string_view name);

// Every protocol's states share one enum so the log and the API stay protocol-agnostic; each
// protocol file documents which subset it uses.
enum class TxState {
  kPreparing,      // 2PC/3PC: collecting votes (no decision yet)
  kPreCommitting,  // 3PC: PRECOMMIT durably logged; waiting for acknowledgements
  kCommitting,     // decision COMMIT durably logged; the last phase is in progress
  kAborting,       // decision ABORT logged; rollback in progress
  kCommitted,      // terminal
  kAborted,        // terminal
  kRunning,        // saga: running actions
  kCompensating,   // saga: a step failed; compensating (logged before the first compensation)
  kCompleted,      // saga terminal: every action done
  kCompensated,    // saga terminal: every needed compensation done
};
const char* TxStateName(TxState s);
std::optional<TxState> ParseTxState(std::string_view name);
bool IsTerminal(TxState s);
// The outcome is abort: decided (aborting, compensating) or applied (aborted, compensated).
bool IsAbortOutcome(TxState s);
// The outcome can no longer change: a decision (committing, aborting; a saga compensating) or
// the end. 3PC's precommitting is not one: a refused pre_commit still aborts.
bool IsDecided(TxState s);

enum class BranchState {
  kPreparing,      // prepare / can_commit sent, no vote yet
  kPrepared,       // voted yes
  kRefused,        // voted no (has rolled back locally; needs no abort)
  kCommitting,     // commit / do_commit sent, not acknowledged
  kCommitted,      // commit acknowledged
  kAborting,       // abort sent, not acknowledged
  kAborted,        // abort acknowledged (or never prepared)
  kPreCommitting,  // 3PC: pre_commit sent, not acknowledged
  kPreCommitted,   // 3PC: pre_commit acknowledged
  kWaiting,        // saga: action not started (waiting for the steps it comes after)
  kActing,         // saga: action sent, no final answer yet
  kDone,           // saga: action succeeded
  kFailed,         // saga: action refused (or given up at the deadline)
  kCompensating,   // saga: compensation sent, not acknowledged
  kCompensated,    // saga: compensation acknowledged
  kSkipped,        // saga: never started, nothing to undo
};
const char* BranchStateName(BranchState s);
std::optional<BranchState> ParseBranchState(std::string_view name);

// What happened to one message sent to a branch.
enum class AttemptResult { kOk, kRefused, kError, kNoResponders, kTimeout };
const char* AttemptResultName(AttemptResult r);
std::optional<AttemptResult> ParseAttemptResult(std::string_view name);

struct Attempt {
  wire::Op op = wire::Op::kPrepare;
  int number = 1;  // attempt number for this op
  TimePoint at{};  // when the outcome was observed
  AttemptResult result = AttemptResult::kOk;
  std::string error;       // participant's message, or why it failed
  int64_t latency_us = 0;  // send -> reply (0 for timeouts)
};

struct Branch {
  int index = 0;
  std::string participant;
  nlohmann::json payload;
  BranchState state = BranchState::kPreparing;
  // The op currently outstanding for this branch and its attempt number; replies and timers that
  // name another op or an older attempt are stale.
  wire::Op op = wire::Op::kPrepare;
  int op_attempt = 0;
  // In memory only: a reply (or reply timeout) for op_attempt is still expected. Once it has
  // come, a retry timer may be armed; late replies of older attempts can still succeed.
  bool awaiting_reply = false;
  int attempts = 0;  // messages sent to this branch, all ops together
  std::string last_error;
  std::vector<int> after;  // saga: indices of the steps this one runs after
  // Attempts, oldest first: everything when read back from the log; in memory, the latest ones
  // since the transaction was created or recovered.
  std::vector<Attempt> history;
  // The branch exhausted its retry budget applying a decided outcome (see RetryBudget).
  bool needs_attention = false;
  // In memory only: back-off counts attempts after this one (an operator's retry restarts it).
  int backoff_from = 0;
  // When `op` was first sent: a retry budget's deadline counts from here, so a long phase one
  // or an outage before the decision does not use up the time its phase two is given.
  TimePoint op_since{};
};

// How long the coordinator retries a branch's message applying a decided outcome (commit,
// abort, 3PC pre_commit and do_commit, a saga's compensation) before it asks for a person: past
// `max_attempts` sends of that message, or `deadline` after its first send, the branch (and its
// transaction) is flagged needs_attention. Retrying goes on at the
// capped interval all the same: a decided outcome must still be applied. 0 means no limit.
struct RetryBudget {
  int max_attempts = 0;
  Duration deadline{0};
};

// Something that happened to a transaction as a whole, kept for people (GET
// /v1/transactions/{id}, the UI's timeline); what happened to each message is Branch::history.
enum class TxEventKind {
  kState,             // it entered a state: a decision, or its end
  kNeedsAttention,    // a branch exhausted its retry budget
  kAttentionCleared,  // that branch has completed since
  kOperatorAbort,     // an operator's abort was accepted
  kOperatorRetry,     // an operator's retry was accepted
};
const char* TxEventKindName(TxEventKind k);
std::optional<TxEventKind> ParseTxEventKind(std::string_view name);

struct TxEvent {
  TimePoint at{};
  TxEventKind kind = TxEventKind::kState;
  std::optional<TxState> state;  // kState: the state entered
  int branch = -1;               // attention events: the branch
  std::string detail;            // kState: the reason; operator events: the operator's reason
};

struct Transaction {
  std::string id;
  Protocol protocol = Protocol::kTwoPhase;
  TxState state = TxState::kPreparing;
  std::vector<Branch> branches;
  Duration timeout{5000};  // phase-one deadline
  TimePoint created_at{};
  TimePoint updated_at{};
  std::string reason;  // why it ended as it did (e.g. "branch 1 (inventory) refused: out of stock")
  std::string idempotency_key;
  std::string request_hash;  // fingerprint of the POST body, to catch a key reused for another body
  std::string traceparent;   // W3C trace context of the POST, passed on in every message; "" none
  RetryBudget retry_budget;
  bool needs_attention = false;  // some branch needs_attention
  // Oldest first; read back from the log together with the branches' history, never in memory.
  std::vector<TxEvent> events;
};

}  // namespace txc::core
