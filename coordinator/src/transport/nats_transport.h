// NatsTransport: the coordinator's Transport over NATS (nats.c).
//
// Requests are pipelined: Send() publishes with natsConnection_PublishRequest and a reply subject
// under one wildcard inbox subscription, "<inbox>.<gid>.<branch>.<op>.<attempt>.<sent_us>"
// (reply_subject.h), so a reply (or the server's "no responders" status) carries everything
// needed to route it and no table of pending requests is kept. Status queries from participants
// arrive on their own subscription (own delivery thread), so a slow status handler never delays
// replies.
//
// Connection: reconnects forever and may be created before the server is up (Connected() is false
// until it connects). While disconnected, Send() buffers into nats.c's reconnect buffer, which is
// written out after reconnecting; when that buffer is full Send() returns Unavailable.
//
// Heartbeats: participant instances' heartbeats (docs/protocol.md) arrive on a third
// subscription, "txc.heartbeat.*", and go to the liveness handlers (SetLivenessHandlers), which
// are NATS business and so not part of Transport. Malformed ones are dropped (debug log). That
// side of the class is in nats_heartbeats.cpp.
//
// API: when enabled, clients start transactions with a request on a fourth subscription
// (ServeApi, Respond; nats_api_requests.cpp).
//
// Thread safety: Send, Flush, Connected and the counters may be called from any thread.
// SetHandlers may be called at any time; callbacks that arrive while no handler is set are dropped.
// Handlers run on nats.c delivery threads (one for replies, one for status queries).
// Destruction drains the subscriptions, closes the connection and returns only after every
// handler invocation has returned; no handler runs afterwards.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "nats_handles.h"
#include "transport/transport.h"
#include "txc/nats_security.h"
#include "txc/status.h"

namespace txc {
class NatsEventLoop;
}

namespace txc::transport {

class NatsTransport final : public Transport {
 public:
  struct Options {
    std::string url = "nats://127.0.0.1:4222";
    std::string name = "txc-coordinator";  // shown by the server (connz)
    NatsSecurity security{};
    // Called (on a nats.c thread) if the connection closes for good without Shutdown: nats.c
    // gave up, e.g. the server refused our credentials. `reason` says what it last reported.
    std::function<void(const std::string& reason)> on_closed{};
    std::chrono::milliseconds reconnect_wait{500};
    // Per-subscription limits on messages received but not yet handled; beyond them nats.c drops
    // messages and reports NATS_SLOW_CONSUMER (dropped replies end as timeouts and are retried).
    int pending_msgs_limit = 65536;
    int pending_bytes_limit = 64 * 1024 * 1024;
    // Bytes of publishes kept while disconnected (nats.c default 8 MiB), and the most that may
    // wait unwritten while connected.
    int reconnect_buffer_bytes = 8 * 1024 * 1024;
    // How long the destructor lets queued replies and status queries drain.
    std::chrono::milliseconds drain_timeout{5000};
  };

  // Creates the connection and subscriptions. Succeeds when the server is down (the connection
  // keeps retrying in the background); fails on bad options or if nats.c cannot allocate.
  static Result<std::unique_ptr<NatsTransport>> Connect(const Options& options);

  ~NatsTransport() override;
  NatsTransport(const NatsTransport&) = delete;
  NatsTransport& operator=(const NatsTransport&) = delete;

  void SetHandlers(Handlers handlers) override;
  // InvalidArgument for a gid containing '.', '*', '>' or whitespace (or empty), an invalid
  // participant name, or a negative branch/attempt; Unavailable if the connection is closed or
  // the reconnect buffer is full.
  Status Send(const wire::BranchRequest& request) override;
  // Writes what Send buffered, without blocking (what the socket does not take at once is
  // written by the event loop's thread). Unavailable once the connection is closed.
  Status Flush() override;
  Status FlushAndWait(std::chrono::milliseconds timeout) override;
  bool Connected() const override;

  struct LivenessHandlers {
    // A valid heartbeat whose participant matches its subject; on the heartbeat delivery thread.
    std::function<void(const wire::Heartbeat&)> on_heartbeat;
    // The connection came up (true: connected or reconnected) or went down (false).
    std::function<void(bool up)> on_connection;
  };
  // May be called at any time; the connection state at that moment is not reported (ask
  // Connected()), only later changes.
  void SetLivenessHandlers(LivenessHandlers handlers);

  // The coordinator's own API over NATS (api/nats_api.h): each message on `subject` whose reply
  // subject may be answered (IsAnswerableReplySubject) goes to `handler`, on a delivery thread of
  // its own, with its body and headers (every name once, with its first value). Once per transport;
  // StopServingApi() or destruction ends it.
  using Headers = std::vector<std::pair<std::string, std::string>>;
  using ApiHandler = std::function<void(std::string reply, std::string body, Headers headers)>;
  Status ServeApi(const std::string& subject, ApiHandler handler);
  // Takes no more API requests; those the server sent already still reach the handler, and
  // have returned from it when this returns (at most drain_timeout). Idempotent.
  void StopServingApi();
  // Buffers an answer to an API request; it leaves with the next Flush(). Any thread.
  // kResourceExhausted for one larger than the server's max_payload; kInvalidArgument for a
  // reply subject or header nats.c refuses; kUnavailable as for Send().
  Status Respond(const std::string& reply, const Headers& headers, std::string_view body);

  // Successful reconnections since Connect (the first connection is not counted).
  int64_t reconnects() const { return reconnects_.load(); }
  // NATS_SLOW_CONSUMER reports (each means some inbound messages were dropped).
  int64_t slow_consumer_events() const { return slow_consumers_.load(); }
  // The unique inbox prefix; replies are routed under "<inbox>.>".
  const std::string& inbox() const { return inbox_; }

 private:
  explicit NatsTransport(Options options);

  Status Subscribe(const std::string& subject, natsMsgHandler handler, NatsSubscriptionPtr* out);
  // A server that stops reading would let the buffer grow without end: beyond the reconnect
  // buffer's size a publish is refused (kUnavailable), like a lost message.
  Status CheckSendBuffer() const;
  std::shared_ptr<const Handlers> CurrentHandlers() const;
  void HandleReply(natsMsg* msg);
  void HandleStatusQuery(natsMsg* msg);
  void HandleHeartbeat(natsMsg* msg);
  void HandleApiRequest(natsMsg* msg);
  std::shared_ptr<const LivenessHandlers> CurrentLivenessHandlers() const;
  void ReportConnection(bool up) const;
  void Shutdown();

  // nats.c callbacks; `closure` is the NatsTransport. Each catches everything.
  static void OnReplyMsg(natsConnection* nc, natsSubscription* sub, natsMsg* msg, void* closure);
  static void OnStatusMsg(natsConnection* nc, natsSubscription* sub, natsMsg* msg, void* closure);
  static void OnHeartbeatMsg(natsConnection* nc, natsSubscription* sub, natsMsg* msg,
                             void* closure);
  static void OnApiMsg(natsConnection* nc, natsSubscription* sub, natsMsg* msg, void* closure);
  static void OnSubscriptionComplete(void* closure);
  static void OnError(natsConnection* nc, natsSubscription* sub, natsStatus err, void* closure);
  static void OnConnected(natsConnection* nc, void* closure);
  static void OnDisconnected(natsConnection* nc, void* closure);
  static void OnReconnected(natsConnection* nc, void* closure);
  static void OnClosed(natsConnection* nc, void* closure);

  const Options options_;
  std::string inbox_;  // set once in Connect, then read-only

  mutable std::mutex mu_;
  std::shared_ptr<const Handlers> handlers_;          // guarded by mu_
  std::shared_ptr<const LivenessHandlers> liveness_;  // guarded by mu_
  std::shared_ptr<const ApiHandler> api_handler_;     // guarded by mu_
  std::condition_variable done_cv_;
  bool closed_ = false;  // guarded by mu_; the closed callback has run
  std::atomic<bool> shutting_down_{false};
  int subs_active_ = 0;  // guarded by mu_; subscriptions whose completion is awaited

  std::atomic<int64_t> reconnects_{0};
  std::atomic<int64_t> slow_consumers_{0};

  // nats.c's event loop for conn_ (nats_event_loop.h): reads, and writes what nobody flushed.
  // Declared first: it outlives the connection, whose last act is to detach from it.
  std::unique_ptr<NatsEventLoop> loop_;
  // Declared so that subscriptions are destroyed before the connection.
  NatsConnectionPtr conn_;
  NatsSubscriptionPtr reply_sub_;
  NatsSubscriptionPtr status_sub_;
  NatsSubscriptionPtr heartbeat_sub_;
  NatsSubscriptionPtr api_sub_;  // set by ServeApi; ServeApi and StopServingApi: one thread
};

}  // namespace txc::transport
