// Clock: the only source of time for the engine. Wall time stamps records; steady time drives
// timers, so a wall-clock jump never fires or delays timers.
#pragma once

#include <chrono>

#include "core/transaction.h"

namespace txc::engine {

using SteadyTime = std::chrono::steady_clock::time_point;

class Clock {
 public:
  virtual ~Clock() = default;
  virtual core::TimePoint Now() const = 0;
  virtual SteadyTime Steady() const = 0;
};

class SystemClock final : public Clock {
 public:
  core::TimePoint Now() const override {
    return std::chrono::time_point_cast<std::chrono::milliseconds>(
        std::chrono::system_clock::now());
  }
  SteadyTime Steady() const override { return std::chrono::steady_clock::now(); }
};

}  // namespace txc::engine
