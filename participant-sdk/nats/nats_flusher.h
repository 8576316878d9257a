// NatsFlusher: pushes a connection's buffered publishes onto the wire when asked, from a thread
// of its own. Kick() wakes it; it makes nats.c write everything buffered at once
// (natsConnection_FlushTimeout writes the buffer in place, then sends a PING) and waits for the
// server's PONG, while further publishes accumulate to leave together on its next round. So a
// lone message leaves within microseconds and a busy connection writes in batches; nats.c's own
// flusher thread would first sleep ~1 ms, and SendAsap would cost a write per message.
// Shared by the coordinator's transport and the participant SDK.
//
// A NatsTicker makes the same thread a timer: the SDK's heartbeats are published and flushed from
// it, so a participant needs no thread of its own for them.
#pragma once

#include <nats/nats.h>

#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <thread>

namespace txc {

// Runs `fn` on the flusher's thread every `period` (the first run one period after the flusher
// starts), followed by a flush. `fn` must not block: a round of flushing waits for it.
struct NatsTicker {
  std::chrono::milliseconds period{0};
  std::function<void()> fn;  // empty: no ticker
};

class NatsFlusher {
 public:
  // `nc` must outlive the flusher (or Stop() must run before it is closed).
  explicit NatsFlusher(natsConnection* nc,
                       std::chrono::milliseconds timeout = std::chrono::milliseconds(1000),
                       NatsTicker ticker = {});
  ~NatsFlusher();  // calls Stop()
  NatsFlusher(const NatsFlusher&) = delete;
  NatsFlusher& operator=(const NatsFlusher&) = delete;

  // Asks for what is buffered now to be written soon. Cheap; any thread.
  void Kick();
  // Joins the thread (after a last round if one was asked for); the ticker runs no more.
  // Idempotent.
  void Stop();

 private:
  void Run();

  natsConnection* const nc_;
  const std::chrono::milliseconds timeout_;
  const NatsTicker ticker_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool kicked_ = false;    // guarded by mu_
  bool stopping_ = false;  // guarded by mu_
  std::thread thread_;
};

}  // namespace txc
