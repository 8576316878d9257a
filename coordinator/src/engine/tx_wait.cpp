#include "engine/tx_wait.h"

#include <utility>

namespace txc::engine {

void TxWait::Begun(Result<BeginOutcome> outcome) {
  bool wake = false;
  {
    std::lock_guard lock(mu_);
    if (taken_) return;
    wake = !want_end_ || !outcome.ok() || arrived_.ended || stopped_ || Clock::now() >= ended_by_;
    arrived_.begun = std::move(outcome);
  }
  if (wake) cv_.notify_one();
}

void TxWait::Ended(std::optional<core::Transaction> tx) {
  {
    std::lock_guard lock(mu_);
    if (taken_) return;
    arrived_.ended = true;
    arrived_.end = std::move(tx);
  }
  cv_.notify_one();
}

void TxWait::Stop() {
  {
    std::lock_guard lock(mu_);
    stopped_ = true;
  }
  cv_.notify_one();
}

TxWait::Arrived TxWait::Wait(Clock::time_point begun_by, Clock::time_point ended_by) {
  std::unique_lock lock(mu_);
  ended_by_ = ended_by;
  while (true) {
    const auto& begun = arrived_.begun;
    // A stop ends only the wait for the end: the start is being logged and will be answered.
    if (begun && (!begun->ok() || !want_end_ || arrived_.ended || stopped_)) break;
    const Clock::time_point deadline = begun ? ended_by : begun_by;
    if (Clock::now() >= deadline) break;
    cv_.wait_until(lock, deadline);
  }
  taken_ = true;
  Arrived out = std::move(arrived_);
  arrived_ = {};
  return out;
}

void WaitSet::Add(TxWait* w) {
  std::lock_guard lock(mu_);
  if (stopped_) {
    w->Stop();
    return;
  }
  w->next_ = head_;
  if (head_ != nullptr) head_->prev_ = w;
  head_ = w;
}

void WaitSet::Remove(TxWait* w) {
  std::lock_guard lock(mu_);
  if (head_ != w && w->prev_ == nullptr) return;  // never added (the set was stopped)
  if (w->prev_ != nullptr) w->prev_->next_ = w->next_;
  if (w->next_ != nullptr) w->next_->prev_ = w->prev_;
  if (head_ == w) head_ = w->next_;
  w->prev_ = w->next_ = nullptr;
}

void WaitSet::StopAll() {
  std::lock_guard lock(mu_);
  stopped_ = true;
  for (TxWait* w = head_; w != nullptr; w = w->next_) w->Stop();
}

}  // namespace txc::engine
