// Engine: owns every live transaction and drives it through its protocol.
//
// Data flows one way: a request, reply or timer becomes a core::Event; the protocol returns
// Actions; the engine appends Actions.persist to the log and, only once that append is durable,
// hands Actions.sends to the transport and arms Actions.timers. One engine thread owns all
// transaction state (no locks in the core); other threads talk to it through a task queue.
//
// Thread safety: Begin, Watch, DurableDecision, Health and Stop may be called from any thread.
// Callbacks passed in run on the engine thread and must not block.
#pragma once

#include <condition_variable>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "core/protocol.h"
#include "engine/clock.h"
#include "engine/timer_queue.h"
#include "engine/watcher_list.h"
#include "log/tx_log.h"
#include "metrics/metrics.h"
#include "transport/transport.h"
#include "txc/status.h"

namespace txc::engine {

struct EngineOptions {
  core::RetryPolicy retry;
  // For transactions that do not name their own (the coordinator's comes from its Config).
  core::RetryBudget retry_budget;
  // How long a status query from a participant waits for the engine before answering "pending".
  core::Duration status_query_wait{1000};
  metrics::Metrics* metrics = nullptr;  // if set, outlives the engine
};

struct BeginOutcome {
  core::Transaction tx;
  bool created = true;  // false: an earlier Begin with the same idempotency key made `tx`
};

class Engine {
 public:
  Engine(log::TxLog& log, transport::Transport& transport, const Clock& clock,
         EngineOptions options = {});
  ~Engine();
  Engine(const Engine&) = delete;
  Engine& operator=(const Engine&) = delete;

  // Loads every unfinished transaction from the log and starts driving it. With `own_thread`
  // the engine runs on a thread of its own; without, the caller drives it with RunUntilIdle()
  // (deterministic tests).
  Status Start(bool own_thread = true);
  // Stops the engine thread. Nothing is lost: whatever is unfinished resumes from the log on the
  // next Start.
  void Stop();

  // What a watcher waits for. kEnd: the transaction is terminal. kDecision: its outcome is
  // settled and durable (a commit or abort decision, a saga's compensation, or the end), while
  // the last phase may still be under way.
  enum class Until { kEnd, kDecision };

  // Starts `draft` (protocol, branches, timeout, idempotency key and request hash filled in).
  // `done` runs once the transaction is durably logged, or with the error that prevented it.
  // `watcher`, if given, is then a Watch(until) registered with it (for an earlier transaction
  // returned under the same idempotency key too; nullopt when there is none to watch). With
  // `wanted_while`, it is wanted only while that object lives (WatcherList).
  using Watcher = WatcherList::Watcher;
  void Begin(core::Transaction draft, std::function<void(Result<BeginOutcome>)> done,
             Watcher watcher = nullptr, Until until = Until::kEnd,
             std::shared_ptr<const void> wanted_while = nullptr);

  // Calls `done(tx)` with the transaction as it stands once `id` has got as far as `until` (its
  // outcome is durable; a terminal record itself may still be on its way to disk), or
  // `done(nullopt)` at once when the engine is not driving `id` (finished or unknown: the log has
  // the answer, once SyncLog has run).
  void Watch(const std::string& id, Watcher done, Until until = Until::kEnd);

  // Applies an operator's action (core::OperatorAbort or core::OperatorRetry) to transaction
  // `id`. `done` gets the transaction as the action left it once what it decided is durable;
  // kFailedPrecondition (saying why) when the protocol cannot apply it in the transaction's state;
  // kNotFound when the engine is not driving `id` (finished or unknown: the log has it).
  void Operate(const std::string& id, core::Event action,
               std::function<void(Result<core::Transaction>)> done);

  // Only from a callback the engine runs, on its thread: the transport is flushed when this round
  // of work ends, for what the callback published on the transport's connection (an answer).
  void FlushAfterRound() { flush_needed_ = true; }

  // `done` runs once everything appended to the log before this call is durable.
  void SyncLog(std::function<void(Status)> done);

  // The outcome a participant may act on: only a durably logged decision counts. Unknown to the
  // engine -> nullopt (the caller consults the log; no record there means presumed abort).
  std::optional<wire::Decision> DurableDecision(const std::string& gid);

  // Ok while the engine can decide: the log accepts writes.
  Status Health() const;
  size_t live_count() const;
  // Live transactions flagged needs_attention.
  size_t attention_count() const;
  const core::RetryBudget& default_retry_budget() const { return options_.retry_budget; }

  // Test driving (own_thread = false): runs queued work and due timers until none is left.
  // Returns the number of tasks and timers run.
  size_t RunUntilIdle();
  // When the engine next has to act on a timer, nullopt if never. Timers of transactions that
  // have finished are dropped first (a stale timer would wake the engine for nothing: at low load
  // several per transaction, seconds later). Engine thread, or test driving.
  std::optional<SteadyTime> NextTimerDue();

 private:
  struct Live {
    core::Transaction tx;
    bool created_durable = false;
    std::optional<wire::Decision> durable_decision;
    std::vector<std::function<void(Result<BeginOutcome>)>> on_created;  // replays waiting
    WatcherList watchers;                                               // Until::kEnd
    bool decided_durable = false;     // the outcome is settled and on disk
    WatcherList decision_watchers;    // Until::kDecision, until decided_durable
    std::optional<SteadyTime> began;  // started by this process (not recovered): for metrics
  };
  using Task = std::function<void()>;

  void Post(Task task);
  void Loop();
  bool RunOne(std::unique_lock<std::mutex>& lock);

  void DoBegin(core::Transaction draft, std::function<void(Result<BeginOutcome>)> done,
               Watcher watcher, Until until, const std::shared_ptr<const void>& wanted_while);
  static void AddWatcher(Live& live, Watcher w, Until until,
                         const std::shared_ptr<const void>& wanted_while = nullptr);
  // The outcome of `id` is settled and durable: answers its decision watchers.
  void Decided(const std::string& id);
  void Recover(std::vector<core::Transaction> txs);
  void Dispatch(const std::string& id, const core::Event& event);
  void Execute(const std::string& id, core::Actions actions,
               std::function<void(Status)> after_durable = nullptr);
  void OnDurable(const std::string& id, core::Actions actions, Status status,
                 const std::function<void(Status)>& after_durable);
  void OnReply(const transport::InboundReply& reply);
  void Finish(const std::string& id);
  // Counts and logs a change of tx.needs_attention (`was`: the flag before the last event).
  void NoteAttention(const core::Transaction& tx, bool was);
  // Records the log failure that stops all further decisions (once; logged).
  void Poison(const Status& status);
  const core::ProtocolMachine* MachineFor(core::Protocol protocol) const;
  std::string NewId();

  log::TxLog& log_;
  transport::Transport& transport_;
  const Clock& clock_;
  EngineOptions options_;
  std::unique_ptr<core::ProtocolMachine> two_phase_;
  std::unique_ptr<core::ProtocolMachine> three_phase_;
  std::unique_ptr<core::ProtocolMachine> saga_;

  // Engine-thread state.
  std::unordered_map<std::string, Live> live_;
  std::unordered_map<std::string, std::string> live_by_key_;  // idempotency key -> id
  TimerQueue timers_;
  bool flush_needed_ = false;
  std::mt19937_64 rng_;

  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Task> tasks_;      // guarded by mu_
  bool stopping_ = false;       // guarded by mu_
  Status poisoned_;             // guarded by mu_: the log failed; no further decisions
  size_t live_count_ = 0;       // guarded by mu_ (a copy of live_.size() for other threads)
  size_t attention_count_ = 0;  // guarded by mu_
  std::thread thread_;
};

}  // namespace txc::engine
