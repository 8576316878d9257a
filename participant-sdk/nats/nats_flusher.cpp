#include "nats_flusher.h"

#include <utility>

namespace txc {

NatsFlusher::NatsFlusher(natsConnection* nc, std::chrono::milliseconds timeout, NatsTicker ticker)
    : nc_(nc), timeout_(timeout), ticker_(std::move(ticker)), thread_([this] { Run(); }) {}

NatsFlusher::~NatsFlusher() { Stop(); }

void NatsFlusher::Kick() {
  {
    std::lock_guard lock(mu_);
    if (kicked_) return;  // a round is already due: it will take this message along
    kicked_ = true;
  }
  cv_.notify_one();
}

void NatsFlusher::Stop() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  cv_.notify_one();
  if (thread_.joinable()) thread_.join();
}

void NatsFlusher::Run() {
  using Clock = std::chrono::steady_clock;
  const bool ticking = ticker_.fn && ticker_.period.count() > 0;
  Clock::time_point next_tick = Clock::now() + ticker_.period;
  while (true) {
    bool tick = false;
    {
      std::unique_lock lock(mu_);
      const auto woken = [this] { return kicked_ || stopping_; };
      if (ticking) {
        tick = !cv_.wait_until(lock, next_tick, woken);
      } else {
        cv_.wait(lock, woken);
      }
      if (stopping_ && !kicked_) return;
      kicked_ = false;
    }
    if (ticking && (tick || Clock::now() >= next_tick)) {
      ticker_.fn();
      // One period on; after a slow round, one period from now (missed ticks are not caught up).
      next_tick += ticker_.period;
      if (const auto now = Clock::now(); next_tick <= now) next_tick = now + ticker_.period;
    }
    // While disconnected this fails at once and the data waits in nats.c's reconnect buffer,
    // which it writes itself after reconnecting.
    (void)natsConnection_FlushTimeout(nc_, timeout_.count());
  }
}

}  // namespace txc
