#include "nats_ticker.h"

#include <algorithm>
#include <cstdint>
#include <utility>

namespace txc {

NatsTicker::NatsTicker(natsConnection* nc, std::chrono::milliseconds period,
                       std::function<void()> fn)
    : nc_(nc), period_(period), fn_(std::move(fn)), thread_([this] { Run(); }) {}

NatsTicker::~NatsTicker() { Stop(); }

void NatsTicker::Stop() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  cv_.notify_one();
  if (thread_.joinable()) thread_.join();
}

void NatsTicker::Run() {
  using Clock = std::chrono::steady_clock;
  Clock::time_point next = Clock::now() + period_;
  while (true) {
    {
      std::unique_lock lock(mu_);
      if (cv_.wait_until(lock, next, [this] { return stopping_; })) return;
    }
    fn_();
    // While disconnected this fails at once; what was published waits in nats.c's reconnect
    // buffer, which it writes itself after reconnecting.
    (void)natsConnection_FlushTimeout(nc_, std::min<int64_t>(period_.count(), 1000));
    // One period on; after a slow round, one period from now (missed ticks are not caught up).
    next += period_;
    if (const auto now = Clock::now(); next <= now) next = now + period_;
  }
}

}  // namespace txc
