#include "engine/engine.h"

#include "applog/applog.h"

#include <future>
#include <utility>

#include "core/operated_machine.h"
#include "core/saga.h"
#include "core/three_phase.h"
#include "core/two_phase.h"
#include "txc/crash_point.h"

namespace txc::engine {
namespace {

// The latest transaction state named by a batch of records, if any.
std::optional<core::TxState> LastState(const std::vector<core::LogRecord>& records) {
  std::optional<core::TxState> state;
  for (const auto& r : records) {
    if (auto* s = std::get_if<core::TxStateChanged>(&r)) state = s->state;
  }
  return state;
}

std::optional<wire::Decision> DecisionOf(core::TxState state) {
  switch (state) {
    case core::TxState::kCommitting:
    case core::TxState::kCommitted:
      return wire::Decision::kCommit;
    case core::TxState::kAborting:
    case core::TxState::kAborted:
      return wire::Decision::kAbort;
    default:  // undecided, or a saga (sagas have no decision to ask about)
      return std::nullopt;
  }
}

}  // namespace

Engine::Engine(log::TxLog& log, transport::Transport& transport, const Clock& clock,
               EngineOptions options)
    : log_(log),
      transport_(transport),
      clock_(clock),
      options_(options),
      two_phase_(std::make_unique<core::OperatedMachine>(
          std::make_unique<core::TwoPhaseCommit>(options.retry))),
      three_phase_(std::make_unique<core::OperatedMachine>(
          std::make_unique<core::ThreePhaseCommit>(options.retry))),
      saga_(std::make_unique<core::OperatedMachine>(std::make_unique<core::Saga>(options.retry))),
      rng_(std::random_device{}()) {}

Engine::~Engine() { Stop(); }

Status Engine::Start(bool own_thread) {
  auto unfinished = log_.LoadUnfinished();
  if (!unfinished.ok()) return unfinished.status().WithContext("loading unfinished transactions");
  // Recovery is queued before any reply or status query can be, so nothing is answered from a
  // state that recovery has not rebuilt yet.
  Post([this, txs = std::move(unfinished).value()]() mutable { Recover(std::move(txs)); });
  transport_.SetHandlers(transport::Transport::Handlers{
      [this](transport::InboundReply reply) {
        Post([this, reply = std::move(reply)] { OnReply(reply); });
      },
      [this](const wire::StatusQuery& query) {
        wire::StatusReply answer{query.gid, wire::Decision::kPending};
        if (auto decision = DurableDecision(query.gid)) {
          answer.decision = *decision;
          return answer;
        }
        // Not live: finished, or never known. The log decides; no record means presumed abort.
        auto found = log_.Find(query.gid, /*with_history=*/false);
        if (!found.ok()) return answer;  // cannot tell now: the participant asks again
        if (!found->has_value()) {
          answer.decision = wire::Decision::kAbort;
        } else if (auto d = DecisionOf((*found)->state)) {
          answer.decision = *d;
        }
        return answer;
      }});
  if (own_thread) thread_ = std::thread(&Engine::Loop, this);
  return Status::Ok();
}

void Engine::Stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void Engine::Post(Task task) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    tasks_.push_back(std::move(task));
  }
  cv_.notify_one();
}

size_t Engine::RunUntilIdle() {
  size_t total = 0;
  while (true) {
    std::deque<Task> batch;
    {
      std::lock_guard<std::mutex> lock(mu_);
      batch.swap(tasks_);
    }
    size_t ran = batch.size();
    for (auto& task : batch) task();
    const SteadyTime now = clock_.Steady();
    while (auto t = timers_.PopDue(now)) {
      Dispatch(t->tx_id, core::TimerFired{t->command.kind, t->command.branch, t->command.attempt,
                                          t->command.op});
      ++ran;
    }
    if (flush_needed_) {
      flush_needed_ = false;
      Status s = transport_.Flush();
      if (!s.ok())
        applog::Write(applog::Level::kWarn, "nats.flush_failed", {{"error", s.ToString()}});
    }
    if (ran == 0) return total;
    total += ran;
  }
}

void Engine::Loop() {
  while (true) {
    RunUntilIdle();
    std::unique_lock<std::mutex> lock(mu_);
    if (stopping_) return;
    if (!tasks_.empty()) continue;
    auto wake = [this] { return stopping_ || !tasks_.empty(); };
    if (auto next = NextTimerDue()) {
      cv_.wait_until(lock, *next, wake);
    } else {
      cv_.wait(lock, wake);
    }
  }
}

std::optional<SteadyTime> Engine::NextTimerDue() {
  timers_.DropLeading([this](const DueTimer& t) { return live_.find(t.tx_id) == live_.end(); });
  return timers_.NextDue();
}

void Engine::Recover(std::vector<core::Transaction> txs) {
  for (auto& tx : txs) {
    const std::string id = tx.id;
    Live& live = live_[id];
    live.created_durable = true;
    live.durable_decision = DecisionOf(tx.state);
    live.decided_durable = core::IsDecided(tx.state);
    if (!tx.idempotency_key.empty()) live_by_key_[tx.idempotency_key] = id;
    live.tx = std::move(tx);
    NoteAttention(live.tx, false);
    Dispatch(id, core::Recover{});
  }
  if (!txs.empty()) {
    applog::Write(applog::Level::kInfo, "recovery.started", {{"unfinished", txs.size()}});
  }
  std::lock_guard<std::mutex> lock(mu_);
  live_count_ = live_.size();
}

void Engine::Dispatch(const std::string& id, const core::Event& event) {
  auto it = live_.find(id);
  if (it == live_.end()) return;  // finished already: late replies and timers change nothing
  const core::ProtocolMachine* machine = MachineFor(it->second.tx.protocol);
  const bool flagged = it->second.tx.needs_attention;
  core::Actions actions = machine->On(it->second.tx, event, clock_.Now());
  NoteAttention(it->second.tx, flagged);
  if (!actions.empty()) Execute(id, std::move(actions));
}

void Engine::Execute(const std::string& id, core::Actions actions,
                     std::function<void(Status)> after_durable) {
  if (actions.persist.empty() && actions.lazy.empty()) {
    OnDurable(id, std::move(actions), Status::Ok(), after_durable);
    return;
  }
  if (Status h = Health(); !h.ok()) {
    // A log we cannot trust decides nothing more; recovery from the log finishes the work.
    if (after_durable) after_durable(h);
    return;
  }
  const bool forced = !actions.persist.empty();
  const std::optional<core::TxState> state = LastState(actions.persist);
  std::vector<core::LogRecord> records = std::move(actions.persist);
  records.insert(records.end(), std::make_move_iterator(actions.lazy.begin()),
                 std::make_move_iterator(actions.lazy.end()));
  actions.persist.clear();
  actions.lazy.clear();
  CrashPoint("before_append");
  if (!forced) {
    // Nothing in this batch must precede the messages: they leave now, the records follow. A
    // failed append poisons the log, which Health() reports before the next decision.
    log::TxLog::Done done;
    if (after_durable) {
      done = [this, after_durable = std::move(after_durable)](Status s) {
        Post([this, s, after_durable] {
          if (!s.ok()) Poison(s);
          after_durable(s);
        });
      };
    }
    log_.Append(std::move(records), std::move(done), log::TxLog::Urgency::kLazy);
    OnDurable(id, std::move(actions), Status::Ok(), nullptr);
    return;
  }
  log_.Append(std::move(records), [this, id, actions = std::move(actions), state,
                                   after_durable = std::move(after_durable)](Status s) mutable {
    Post([this, id, actions = std::move(actions), state, s,
          after_durable = std::move(after_durable)]() mutable {
      if (s.ok()) CrashPoint("after_append");
      if (s.ok() && state) {
        if (auto it = live_.find(id); it != live_.end()) {
          if (auto d = DecisionOf(*state)) it->second.durable_decision = d;
          if (applog::Enabled(applog::Level::kDebug)) {
            applog::Write(applog::Level::kDebug, "tx.logged",
                          {{"tx", id}, {"state", core::TxStateName(*state)}});
          }
        }
      }
      OnDurable(id, std::move(actions), s, after_durable);
      // After the sends are queued (this round of work ends with their flush).
      if (s.ok() && state && core::IsDecided(*state)) Decided(id);
    });
  });
}

void Engine::Decided(const std::string& id) {
  auto it = live_.find(id);
  if (it == live_.end()) return;  // finished: Finish answered every watcher
  it->second.decided_durable = true;
  for (auto& w : it->second.decision_watchers.Take()) w(it->second.tx);
}

void Engine::AddWatcher(Live& live, Watcher w, Until until,
                        const std::shared_ptr<const void>& wanted_while) {
  if (until == Until::kEnd) {
    live.watchers.Add(std::move(w), wanted_while);
  } else if (live.decided_durable) {
    w(live.tx);
  } else {
    live.decision_watchers.Add(std::move(w), wanted_while);
  }
}

void Engine::Poison(const Status& status) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!poisoned_.ok()) return;
    poisoned_ = status;
  }
  applog::Write(applog::Level::kError, "log.poisoned",
                {{"error", status.ToString()},
                 {"message", "the log cannot be written: no further decisions until a restart"}});
}

void Engine::OnDurable(const std::string& id, core::Actions actions, Status status,
                       const std::function<void(Status)>& after_durable) {
  if (!status.ok()) {
    Poison(status);
    if (after_durable) after_durable(status);
    return;
  }
  auto it = live_.find(id);
  if (it == live_.end()) {
    // It finished while this was being written (an operator's no-op action, say): the records
    // are durable, and there is nothing left to send.
    if (after_durable) after_durable(Status::Ok());
    return;
  }
  const core::Transaction& tx = it->second.tx;
  std::vector<std::string> participants;
  for (const auto& b : tx.branches) participants.push_back(b.participant);
  for (const auto& send : actions.sends) {
    const core::Branch& b = tx.branches.at(send.branch);
    wire::BranchRequest request{
        tx.id,
        b.index,
        b.participant,
        core::ProtocolName(tx.protocol),
        send.op,
        send.attempt,
        b.payload,
        tx.protocol == core::Protocol::kThreePhase ? participants : std::vector<std::string>{},
        tx.traceparent};
    // A failed send is a lost message: the reply timeout re-sends it.
    if (Status s = transport_.Send(request); !s.ok()) {
      applog::Write(applog::Level::kWarn, "tx.send_failed",
                    {{"tx", tx.id},
                     {"branch", b.index},
                     {"participant", b.participant},
                     {"op", wire::OpName(send.op)},
                     {"error", s.ToString()}});
    }
    if (send.attempt > 1 && applog::Enabled(applog::Level::kInfo)) {
      applog::Write(applog::Level::kInfo, "tx.retry",
                    {{"tx", tx.id},
                     {"branch", b.index},
                     {"participant", b.participant},
                     {"op", wire::OpName(send.op)},
                     {"attempt", send.attempt},
                     {"last_error", b.last_error}});
    }
    flush_needed_ = true;
    if (options_.metrics && send.attempt > 1) options_.metrics->Retry(wire::OpName(send.op));
    if (CrashPointsArmed()) {
      CrashPoint(std::string("after_send:") + wire::OpName(send.op),
                 [this] { (void)transport_.FlushAndWait(std::chrono::seconds(2)); });
    }
  }
  const SteadyTime now = clock_.Steady();
  for (const auto& timer : actions.timers) timers_.Add(now, id, timer);
  if (after_durable) after_durable(Status::Ok());
  if (actions.terminal) Finish(id);
}

void Engine::OnReply(const transport::InboundReply& r) {
  if (CrashPointsArmed()) CrashPoint(std::string("after_reply:") + wire::OpName(r.op));
  if (options_.metrics) {
    options_.metrics->PhaseReply(wire::OpName(r.op), std::chrono::microseconds(r.latency_us));
  }
  Dispatch(r.gid, core::Reply{r.branch, r.op, r.attempt, r.result, r.message, r.latency_us});
}

void Engine::Finish(const std::string& id) {
  auto it = live_.find(id);
  if (it == live_.end()) return;
  std::vector<Watcher> watchers = it->second.watchers.Take();
  for (auto& w : it->second.decision_watchers.Take()) watchers.push_back(std::move(w));
  const core::Transaction tx = std::move(it->second.tx);
  if (applog::Enabled(applog::Level::kInfo)) {
    applog::Write(applog::Level::kInfo, "tx.finished",
                  {{"tx", tx.id},
                   {"protocol", core::ProtocolName(tx.protocol)},
                   {"state", core::TxStateName(tx.state)},
                   {"reason", tx.reason},
                   {"traceparent", tx.traceparent}});
  }
  if (options_.metrics) {
    const auto began = it->second.began;
    options_.metrics->TransactionFinished(
        core::ProtocolName(tx.protocol), core::TxStateName(tx.state),
        began ? std::chrono::duration<double>(clock_.Steady() - *began).count() : -1.0);
  }
  if (!tx.idempotency_key.empty()) live_by_key_.erase(tx.idempotency_key);
  live_.erase(it);
  {
    std::lock_guard<std::mutex> lock(mu_);
    live_count_ = live_.size();
    if (tx.needs_attention) --attention_count_;  // not expected: a terminal tx applies nothing
  }
  for (auto& w : watchers) w(tx);
}

void Engine::Watch(const std::string& id, Watcher done, Until until) {
  Post([this, id, done = std::move(done), until]() mutable {
    auto it = live_.find(id);
    if (it == live_.end()) {
      done(std::nullopt);
    } else {
      AddWatcher(it->second, std::move(done), until);
    }
  });
}

void Engine::SyncLog(std::function<void(Status)> done) { log_.Append({}, std::move(done)); }

std::optional<wire::Decision> Engine::DurableDecision(const std::string& gid) {
  auto answer = [this, gid]() -> std::optional<wire::Decision> {
    auto it = live_.find(gid);
    if (it == live_.end()) return std::nullopt;
    return it->second.durable_decision.value_or(wire::Decision::kPending);
  };
  if (!thread_.joinable()) return answer();  // test driving: single-threaded by contract
  auto promise = std::make_shared<std::promise<std::optional<wire::Decision>>>();
  auto future = promise->get_future();
  Post([promise, answer] { promise->set_value(answer()); });
  if (future.wait_for(options_.status_query_wait) != std::future_status::ready) {
    return wire::Decision::kPending;  // busy: "ask again" is always a safe answer
  }
  return future.get();
}

Status Engine::Health() const {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!poisoned_.ok()) return poisoned_;
  }
  return log_.Health();
}

size_t Engine::live_count() const {
  std::lock_guard<std::mutex> lock(mu_);
  return live_count_;
}

size_t Engine::attention_count() const {
  std::lock_guard<std::mutex> lock(mu_);
  return attention_count_;
}

const core::ProtocolMachine* Engine::MachineFor(core::Protocol protocol) const {
  switch (protocol) {
    case core::Protocol::kTwoPhase:
      return two_phase_.get();
    case core::Protocol::kSaga:
      return saga_.get();
    case core::Protocol::kThreePhase:
      return three_phase_.get();
  }
  return nullptr;
}

}  // namespace txc::engine
