// NatsTicker: publishes on a connection every `period` from a thread of its own, each time
// followed by a round trip to the server (natsConnection_FlushTimeout: written, and a PING the
// server answers), so that what it publishes is out before the next tick. The SDK's heartbeats
// use it. Batches of replies and requests are flushed by their own thread instead
// (nats_event_loop.h).
#pragma once

#include <nats/nats.h>

#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <thread>

namespace txc {

class NatsTicker {
 public:
  // Runs `fn` every `period` (the first time one period after construction). `fn` must not
  // block. `nc` must outlive the ticker (or Stop() must run before it is closed).
  NatsTicker(natsConnection* nc, std::chrono::milliseconds period, std::function<void()> fn);
  ~NatsTicker();  // calls Stop()
  NatsTicker(const NatsTicker&) = delete;
  NatsTicker& operator=(const NatsTicker&) = delete;

  // Joins the thread; `fn` runs no more. Idempotent.
  void Stop();

 private:
  void Run();

  natsConnection* const nc_;
  const std::chrono::milliseconds period_;
  const std::function<void()> fn_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;  // guarded by mu_
  std::thread thread_;
};

}  // namespace txc
