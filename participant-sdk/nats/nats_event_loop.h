// NatsEventLoop: runs one nats.c connection in nats.c's event-loop mode (natsOptions_SetEventLoop)
// on a thread of its own, so that a batch of publishes is written by the thread that made it, in
// one non-blocking write, with no flusher thread and no PING. In the default (threaded) mode each
// flush is a hand-off to a flusher thread and a PING/PONG round trip, and every first publish into
// an empty buffer also wakes nats.c's own flusher; on this project's 2-core VMs those hand-offs
// cost more than the writes (docs/benchmarks.md, "Where the time goes").
//
// How: with SendAsap in event-loop mode nats.c only buffers a publish and asks for write
// interest. A publish made inside a DeferredFlush scope leaves the writing to the caller's
// Flush(); any other (nats.c's own PONGs, PINGs and re-sent SUBs; publishes from other threads)
// wakes the loop, which writes it. The loop thread also reads: nats.c parses what arrives and
// hands messages to the subscriptions' delivery threads, as in threaded mode, except for the
// synchronous subscriptions given to Deliver(), whose messages the loop hands over itself, right
// after reading them: one thread hand-off less per message on the hot path.
//
// Lifetime: Configure() the options before natsConnection_Connect; the loop must run until the
// connection is closed (draining and closing need reads and writes), and Stop() must be called
// before natsConnection_Destroy.
#pragma once

#include <nats/nats.h>

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace txc {

class NatsEventLoop {
 public:
  NatsEventLoop();   // starts the loop thread (idle until a connection attaches)
  ~NatsEventLoop();  // Stop()
  NatsEventLoop(const NatsEventLoop&) = delete;
  NatsEventLoop& operator=(const NatsEventLoop&) = delete;

  // Puts `opts` in event-loop mode driven by this loop (and SendAsap, see above).
  natsStatus Configure(natsOptions* opts);

  // While one is alive on a thread, that thread's publishes on this loop's connection wait for
  // its Flush() instead of waking the loop. Flush promptly, and never block, wait for a reply
  // or make a request in between: until then nats.c asks nobody to write anything else either.
  class DeferredFlush {
   public:
    explicit DeferredFlush(NatsEventLoop& loop);
    ~DeferredFlush();
    DeferredFlush(const DeferredFlush&) = delete;
    DeferredFlush& operator=(const DeferredFlush&) = delete;

   private:
    NatsEventLoop* const previous_;
  };

  // Writes what is buffered on `nc` now, on the calling thread, without blocking; what the
  // socket does not take at once is written by the loop when it can. Any thread. (With TLS,
  // nats.c retries a write the socket cannot take in a loop of its own: a full socket then
  // holds the caller until it drains.)
  void Flush(natsConnection* nc);

  // Hands each message of `sub`, a synchronous subscription (natsConnection_SubscribeSync) on
  // this loop's connection, to `fn` on the loop thread as soon as it is read. `fn` owns the
  // message, gets one at a time, and must not block nor wait for anything the loop provides (a
  // reply, a flush's PONG): nothing is read or written by the loop while it runs. Messages that
  // arrived before this call are handed over too. `sub` must stay valid until Stop() returns.
  // Any thread but the loop's, once per subscription.
  using MessageFn = std::function<void(natsMsg* msg)>;
  void Deliver(natsSubscription* sub, MessageFn fn);

  // Returns once every message taken from those subscriptions so far has been handed to its
  // `fn` and `fn` has returned. nats.c counts a message as consumed (e.g. for a drain's
  // completion) when it leaves the subscription, a moment before `fn` has it. Not from the loop
  // thread.
  void AwaitDeliveries();

  // Waits (up to 5 s) until nats.c has detached a closed connection, then joins the loop
  // thread. Call it once the connection is closed. Idempotent.
  void Stop();

  // How many times the loop has woken so far: a few per exchange with the server, never a
  // count that grows while nothing happens (a loop polling round and round).
  uint64_t wakeups() const { return wakeups_.load(); }

 private:
  static natsStatus Attach(void** user_data, void* loop, natsConnection* nc, natsSock socket);
  static natsStatus Read(void* user_data, bool add);
  static natsStatus Write(void* user_data, bool add);
  static natsStatus Detach(void* user_data);

  struct Delivery {
    natsSubscription* sub;
    MessageFn fn;
  };

  void Run();
  void DeliverPending(std::vector<Delivery>& deliveries);  // loop thread
  void Wake();                                             // with mu_ held or not
  void WriteBuffered(natsConnection* nc);                  // what is buffered, if anything

  std::mutex write_mu_;  // serialises writes; taken before nats.c's lock, never inside a callback

  std::mutex mu_;
  std::condition_variable detached_;  // nc_ became null
  std::condition_variable passed_;    // passes_ grew, or the loop ended
  natsConnection* nc_ = nullptr;      // guarded by mu_; the attached connection
  int fd_ = -1;                       // guarded by mu_; its socket, -1 when none is attached
  bool want_read_ = false;            // guarded by mu_
  bool want_write_ = false;           // guarded by mu_
  uint64_t write_requests_ = 0;       // guarded by mu_; nats.c's asks for write interest so far
  uint64_t attachments_ = 0;          // guarded by mu_; sockets attached so far
  bool stopping_ = false;             // guarded by mu_
  bool ended_ = false;                // guarded by mu_; the loop thread returned (or never ran)
  uint64_t passes_ = 0;               // guarded by mu_; loop iterations finished, deliveries done
  std::vector<Delivery> new_deliveries_;  // guarded by mu_; given to Deliver, not yet seen by Run
  std::atomic<uint64_t> wakeups_{0};
  int wake_fd_ = -1;  // eventfd: the loop's poll returns when it is written
  std::thread thread_;
};

}  // namespace txc
