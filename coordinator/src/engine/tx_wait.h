// TxWait: an API thread waiting on the engine for one transaction: its start durably logged and,
// when the client asked to wait, its end (or its decision: Engine::Until; "end" below means
// whichever was asked for). The engine's callbacks fill it in; the waiting thread
// sleeps once and is woken once (twice if the start takes until its deadline to be logged). Two
// futures plus polling for shutdown cost a ?wait=true request three or four wake-ups, and on
// this project's 2-core VMs a wake-up is among the dearest things a request does
// (docs/benchmarks.md).
//
// WaitSet: every TxWait in progress, so that a shutdown can end them all at once.
#pragma once

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <optional>

#include "engine/engine.h"

namespace txc::engine {

class TxWait {
 public:
  using Clock = std::chrono::steady_clock;

  // `want_end`: the waiter wants the end too, so the start alone does not wake it.
  explicit TxWait(bool want_end) : want_end_(want_end) {}

  // From the engine (any thread). Each wakes the waiter if it was waiting for that.
  void Begun(Result<BeginOutcome> outcome);
  void Ended(std::optional<core::Transaction> tx);
  void Stop();

  // What had arrived when Wait returned.
  struct Arrived {
    std::optional<Result<BeginOutcome>> begun;  // nullopt: not in time (or stopped)
    bool ended = false;
    std::optional<core::Transaction> end;  // when ended; nullopt: the engine was not driving it
  };

  // Blocks until the start is known and, if wanted, the end too; or the start failed; or
  // the deadline that applies (`begun_by` for the start; `ended_by` for the end, which a start
  // arriving after it does not wait out). Stop() cuts the wait for the end short, not the one
  // for the start. Takes what arrived: callbacks that come later are dropped.
  Arrived Wait(Clock::time_point begun_by, Clock::time_point ended_by);

 private:
  friend class WaitSet;

  const bool want_end_;
  std::mutex mu_;
  std::condition_variable cv_;
  Arrived arrived_;                                        // guarded by mu_
  Clock::time_point ended_by_ = Clock::time_point::max();  // guarded by mu_; set by Wait
  bool stopped_ = false;                                   // guarded by mu_
  bool taken_ = false;                                     // guarded by mu_; Wait has returned
  TxWait* prev_ = nullptr;                                 // WaitSet's list, guarded by its mutex
  TxWait* next_ = nullptr;
};

class WaitSet {
 public:
  // Keeps `w` in the set for the Entry's lifetime; a wait added after StopAll is stopped at once.
  class Entry {
   public:
    Entry(WaitSet& set, TxWait& w) : set_(set), w_(w) { set_.Add(&w_); }
    ~Entry() { set_.Remove(&w_); }
    Entry(const Entry&) = delete;
    Entry& operator=(const Entry&) = delete;

   private:
    WaitSet& set_;
    TxWait& w_;
  };

  void StopAll();

 private:
  void Add(TxWait* w);
  void Remove(TxWait* w);

  std::mutex mu_;
  bool stopped_ = false;    // guarded by mu_
  TxWait* head_ = nullptr;  // guarded by mu_
};

}  // namespace txc::engine
