// NatsEndpoint: the participant's NATS connection. One queue subscription whose messages are
// handed, one at a time on the event loop's thread as soon as they are read, to a callback; plus
// blocking requests (status queries) and, when configured, the instance's heartbeats (from a ticker
// thread, nats_ticker.h). The connection runs in nats.c's event-loop mode (nats_event_loop.h):
// replies are buffered until Flush(). Reconnects forever; connection events are logged one line
// each.
//
// Lifetime: Close() (also run by the destructor) drains nothing; call StopReceiving() first for a
// graceful stop. After Close() returns no nats.c callback runs or will run on this object.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <string>
#include <string_view>

#include "counters.h"
#include "nats_handles.h"
#include "txc/nats_security.h"
#include "txc/status.h"

namespace txc {
class NatsEventLoop;
class NatsTicker;
}  // namespace txc

namespace txc::sdk {

class NatsEndpoint {
 public:
  struct Options {
    std::string url;
    NatsSecurity security{};
    std::string name;     // participant name: logs, connection name, queue group
    std::string subject;  // what to subscribe to
    std::chrono::milliseconds reconnect_wait{250};
    std::chrono::milliseconds drain_timeout{5000};
    double drop_reply = 0;  // fault injection (Participant::Options::Faults)
    double duplicate_reply = 0;
    // Liveness (wire::Heartbeat): `heartbeat` is published on `heartbeat_subject` once the
    // subscription is made, then every `heartbeat_interval`; `leaving` once by Close() if still
    // connected. An empty subject: no heartbeats.
    std::string heartbeat_subject;
    std::string heartbeat;
    std::string leaving;
    std::chrono::milliseconds heartbeat_interval{1000};
  };
  // Called for every message, one at a time, on the event loop's thread, which reads nothing
  // while it runs: it must not block (queue the work) nor wait for a NATS reply. `reply_to` is
  // empty for a message without a reply subject. Answers go through Reply(), now or later from
  // any thread. Exceptions are caught and logged.
  using MessageFn = std::function<void(std::string_view subject, std::string_view data,
                                       const std::string& reply_to)>;

  // No I/O yet: whoever keeps the endpoint can hold it before a message can arrive (and be
  // answered through it). `counters` must outlive the endpoint.
  NatsEndpoint(Options options, MessageFn on_message, CounterSet* counters);
  // Connects (or, if the server is not reachable yet, keeps trying in the background) and
  // subscribes: `on_message` may run from here on, even before this returns. Errors:
  // kInvalidArgument (bad URL), kUnavailable; the endpoint is then only fit to be destroyed
  // (which closes what was opened and waits for its callbacks).
  Status Connect();
  ~NatsEndpoint();
  NatsEndpoint(const NatsEndpoint&) = delete;
  NatsEndpoint& operator=(const NatsEndpoint&) = delete;

  // Request/reply. Errors: kDeadlineExceeded (timeout), kNotFound (no responders: nobody
  // subscribes to `subject`), kUnavailable (disconnected, closed).
  Result<std::string> Request(std::string_view subject, std::string_view data,
                              std::chrono::milliseconds timeout);

  // True while the connection is up. nats.c has the subscription queued for the server by then
  // (it re-sends it on every reconnection before reporting it); the server has it a round trip
  // later.
  bool Connected() const;

  // Publishes `body` to `reply_to`, subject to the fault injection of Options, into the
  // connection's buffer: the calling thread's next Flush() writes it with whatever else is
  // buffered (nats_event_loop.h). Thread-safe.
  void Reply(const std::string& reply_to, const std::string& body);
  // Writes what is buffered, without blocking. Thread-safe.
  void Flush();

  // Removes interest and waits (up to drain_timeout) until messages already received have been
  // handled and answered. Idempotent.
  void StopReceiving();
  // Publishes the leaving heartbeat (if connected), closes the connection and waits for the last
  // callbacks. Idempotent.
  void Close();

 private:
  // Publishes `body` on the heartbeat subject (buffered; the caller flushes).
  void PublishHeartbeat(const std::string& body);
  // How many times to publish the next reply: 1, or 0/2 when fault injection says so.
  int ReplyCopies();

  // A message of the subscription, on the loop's thread; catches everything.
  void OnMessage(natsMsg* msg) noexcept;
  // nats.c callbacks. noexcept: nothing may unwind into C.
  static void OnConnected(natsConnection* nc, void* closure) noexcept;
  static void OnDisconnected(natsConnection* nc, void* closure) noexcept;
  static void OnReconnected(natsConnection* nc, void* closure) noexcept;
  static void OnClosed(natsConnection* nc, void* closure) noexcept;
  static void OnError(natsConnection* nc, natsSubscription* sub, natsStatus err,
                      void* closure) noexcept;

  const Options options_;
  const MessageFn on_message_;
  CounterSet* const counters_;
  std::mutex fault_mu_;
  std::mt19937_64 fault_rng_{std::random_device{}()};  // guarded by fault_mu_

  // nats.c's event loop for nc_ (nats_event_loop.h): reads, and writes what nobody flushed.
  // Declared first: it outlives the connection, whose last act is to detach from it.
  std::unique_ptr<NatsEventLoop> loop_;
  NatsConnectionPtr nc_;
  NatsSubscriptionPtr sub_;
  std::unique_ptr<NatsTicker> heartbeats_;  // stopped before the connection closes
  bool drained_ = false;  // drained_ and closed_: only touched by StopReceiving/Close (one thread)
  bool closed_ = false;
  std::atomic<bool> closing_{false};  // read by callbacks: a disconnect is then expected

  std::mutex mu_;
  std::condition_variable cv_;
  bool conn_closed_ = false;  // guarded by mu_: the closed callback ran
};

}  // namespace txc::sdk
