// TimerQueue: the engine's pending timers, ordered by due time on the steady clock. Owned by the
// engine thread; not thread-safe.
#pragma once

#include <cstdint>
#include <optional>
#include <queue>
#include <string>
#include <vector>

#include "core/actions.h"
#include "engine/clock.h"

namespace txc::engine {

struct DueTimer {
  SteadyTime due;
  uint64_t seq;  // FIFO among timers due at the same instant
  std::string tx_id;
  core::TimerCommand command;
};

class TimerQueue {
 public:
  void Add(SteadyTime now, const std::string& tx_id, const core::TimerCommand& command);
  // Removes and returns the earliest timer if it is due at `now`.
  std::optional<DueTimer> PopDue(SteadyTime now);
  std::optional<SteadyTime> NextDue() const;
  // Discards timers from the front while `dead` says so (those of finished transactions): waking
  // up for them would change nothing.
  template <typename Dead>
  void DropLeading(Dead dead) {
    while (!heap_.empty() && dead(heap_.top())) heap_.pop();
  }
  size_t size() const { return heap_.size(); }

 private:
  struct Later {
    bool operator()(const DueTimer& a, const DueTimer& b) const {
      return a.due != b.due ? a.due > b.due : a.seq > b.seq;
    }
  };
  std::priority_queue<DueTimer, std::vector<DueTimer>, Later> heap_;
  uint64_t next_seq_ = 0;
};

}  // namespace txc::engine
