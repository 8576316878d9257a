// WaitFor: poll a condition until it holds or a deadline passes. Tests synchronise with this,
// never with a fixed sleep.
#pragma once

#include <chrono>
#include <functional>
#include <thread>

namespace txc::testing {

inline bool WaitFor(const std::function<bool()>& pred,
                    std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!pred()) {
    if (std::chrono::steady_clock::now() >= deadline) return pred();
    std::this_thread::sleep_for(std::chrono::milliseconds(2));  // poll interval, not a sync
  }
  return true;
}

}  // namespace txc::testing
