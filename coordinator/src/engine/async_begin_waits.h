// AsyncBeginWaits: the starts in progress (TransactionService::BeginAsync, and Begin, which is
// BeginAsync with the HTTP thread waiting for the answer). Whoever learns something answers where
// it runs when it can: the engine's callbacks answer the start (when no end is wanted), a failed
// start, and the end or decision once it comes, on the engine thread. What needs the log, which
// may block, is answered on a thread of this class's own: a wait for the end that ran out (with
// the transaction as the log has it then), a start not logged in time, an earlier transaction
// returned for a known Idempotency-Key that the engine no longer drives, and every wait for an
// end at shutdown. No thread of its own per request.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "api/transaction_service.h"
#include "engine/engine.h"

namespace txc::engine {

class AsyncBeginWaits {
 public:
  using Clock = std::chrono::steady_clock;
  using Done = api::TransactionService::BeginDone;
  // The durable state of each transaction asked for, in order (EngineService::ReadDurable); may
  // block, once for all of them. Runs on this class's thread.
  using Lookup =
      std::function<std::vector<Result<core::Transaction>>(const std::vector<std::string>& ids)>;

  // `after_answers` runs on this class's thread after the answers it gave (to flush what they
  // published). At most `max_open` waits at once: the next is answered kUnavailable (a client
  // waiting holds memory here and in the engine, and nothing else bounds how many wait).
  AsyncBeginWaits(Lookup lookup, std::function<void()> after_answers, size_t max_open = 65536);
  ~AsyncBeginWaits();  // Stop()
  AsyncBeginWaits(const AsyncBeginWaits&) = delete;
  AsyncBeginWaits& operator=(const AsyncBeginWaits&) = delete;

  class Wait;
  // Starts waiting for a start (by `begun_by`) and, with `want_end`, for its end (by `ended_by`;
  // a start that arrives later is answered at once). `done` gets exactly one answer. Returns
  // null when it answered `done` at once, on the calling thread (stopped, or too many waiting):
  // then there is nothing to start.
  std::shared_ptr<Wait> Add(Done done, bool want_end, Clock::time_point begun_by,
                            Clock::time_point ended_by);
  // The engine's callbacks for `w` (any thread; the end may come first: a replay of a decided
  // transaction). They answer on the calling thread when they can.
  void Begun(const std::shared_ptr<Wait>& w, Result<BeginOutcome> outcome);
  void Ended(const std::shared_ptr<Wait>& w, std::optional<core::Transaction> tx);
  // The engine's watcher for the end (or decision) of `w`'s transaction: Ended(w, tx), then
  // `after_end`. It holds `w` weakly: the engine may keep it long after `w` ran out and was
  // answered, and drops it once `w` is gone (WatcherList).
  Engine::Watcher EndWatcher(const std::shared_ptr<Wait>& w, std::function<void()> after_end);

  // Shutdown: every wait for an end, now and later, is answered from the log without waiting
  // further. Does not block.
  void StopAll();
  // Waits until every open wait has its start (logged or refused), or `deadline`: before the
  // engine stops, so that a client is not told "unavailable" about a transaction that is logged.
  void AwaitStarts(Clock::time_point deadline);
  // StopAll, answers what is still open (a start never logged: kUnavailable), and ends the thread.
  // Call once nothing calls Begun or Ended any more (the engine has stopped). Idempotent.
  void Stop();

  size_t open() const;  // waits not yet answered

 private:
  using Deadlines = std::multimap<Clock::time_point, std::shared_ptr<Wait>>;
  struct Answer {
    std::shared_ptr<Wait> wait;
    Result<api::BeginResult> result;
  };

  // With mu_ held: what `w` needs now. Returns an answer to give at once, or queues a lookup, or
  // (re)arms its deadline.
  std::optional<Answer> Settle(const std::shared_ptr<Wait>& w, Clock::time_point now);
  void Disarm(Wait& w);
  std::optional<Answer> Finish(const std::shared_ptr<Wait>& w, Result<api::BeginResult> result);
  static void Give(std::optional<Answer> answer);
  void Run();

  const Lookup lookup_;
  const std::function<void()> after_answers_;
  const size_t max_open_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::condition_variable started_cv_;           // unstarted_ fell
  size_t unstarted_ = 0;                         // guarded by mu_; open waits without a start
  Deadlines deadlines_;                          // guarded by mu_
  std::deque<std::shared_ptr<Wait>> lookups_;    // guarded by mu_; due for a log read
  std::map<Wait*, std::shared_ptr<Wait>> open_;  // guarded by mu_
  bool stopping_all_ = false;                    // guarded by mu_
  bool stopped_ = false;                         // guarded by mu_
  // guarded by mu_: until when the thread sleeps (min: it is awake; max: until notified)
  Clock::time_point sleeping_until_ = Clock::time_point::min();
  std::thread thread_;
};

}  // namespace txc::engine
