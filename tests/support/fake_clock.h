// FakeClock: time that moves only when a test says so.
#pragma once

#include "engine/clock.h"

namespace txc::testing {

class FakeClock final : public engine::Clock {
 public:
  core::TimePoint Now() const override { return wall_; }
  engine::SteadyTime Steady() const override { return steady_; }
  void Advance(core::Duration d) {
    wall_ += d;
    steady_ += d;
  }

 private:
  core::TimePoint wall_{core::Duration(1'700'000'000'000)};
  engine::SteadyTime steady_{};
};

}  // namespace txc::testing
