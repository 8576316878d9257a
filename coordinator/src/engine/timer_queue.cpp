#include "engine/timer_queue.h"

namespace txc::engine {

void TimerQueue::Add(SteadyTime now, const std::string& tx_id, const core::TimerCommand& command) {
  heap_.push(DueTimer{now + command.delay, next_seq_++, tx_id, command});
}

std::optional<DueTimer> TimerQueue::PopDue(SteadyTime now) {
  if (heap_.empty() || heap_.top().due > now) return std::nullopt;
  DueTimer t = heap_.top();
  heap_.pop();
  return t;
}

std::optional<SteadyTime> TimerQueue::NextDue() const {
  if (heap_.empty()) return std::nullopt;
  return heap_.top().due;
}

}  // namespace txc::engine
