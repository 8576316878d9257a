#include "nats_flusher.h"

namespace txc {

NatsFlusher::NatsFlusher(natsConnection* nc, std::chrono::milliseconds timeout)
    : nc_(nc), timeout_(timeout), thread_([this] { Run(); }) {}

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
  while (true) {
    {
      std::unique_lock lock(mu_);
      cv_.wait(lock, [this] { return kicked_ || stopping_; });
      if (!kicked_) return;
      kicked_ = false;
    }
    // While disconnected this fails at once and the data waits in nats.c's reconnect buffer,
    // which it writes itself after reconnecting.
    (void)natsConnection_FlushTimeout(nc_, timeout_.count());
  }
}

}  // namespace txc
