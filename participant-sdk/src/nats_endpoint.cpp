#include "nats_endpoint.h"

#include <exception>
#include <random>
#include <utility>

#include "log.h"
#include "nats_event_loop.h"
#include "nats_security_options.h"
#include "nats_ticker.h"

namespace txc::sdk {
namespace {

// nats.c's limits for what waits in the subscription: the loop empties it after every read, so
// only a burst within one read can come near them; the applier's queue bounds the rest.
constexpr int kPendingMsgLimit = 65536;
constexpr int kPendingBytesLimit = 64 * 1024 * 1024;
// Replies waiting to be written beyond this are dropped (the coordinator asks again): a server
// that stops reading must not make the buffer grow without end.
constexpr int kMaxUnsentBytes = 8 * 1024 * 1024;

Status NatsError(natsStatus s, std::string_view what) {
  std::string message = std::string(what) + ": " + natsStatus_GetText(s);
  switch (s) {
    case NATS_TIMEOUT:
      return Status::DeadlineExceeded(std::move(message));
    case NATS_NO_RESPONDERS:
      return Status::NotFound(std::move(message));
    case NATS_INVALID_ARG:
    case NATS_ADDRESS_MISSING:
      return Status::InvalidArgument(std::move(message));
    default:
      return Status::Unavailable(std::move(message));
  }
}

}  // namespace

NatsEndpoint::NatsEndpoint(Options options, MessageFn on_message, CounterSet* counters)
    : options_(std::move(options)), on_message_(std::move(on_message)), counters_(counters) {}

NatsEndpoint::~NatsEndpoint() { Close(); }

Status NatsEndpoint::Connect() {
  natsOptions* raw_opts = nullptr;
  natsStatus s = natsOptions_Create(&raw_opts);
  NatsOptionsPtr opts(raw_opts);
  const std::string conn_name = "txc-participant-" + options_.name;
  if (s == NATS_OK) s = natsOptions_SetURL(opts.get(), options_.url.c_str());
  if (s == NATS_OK) s = natsOptions_SetName(opts.get(), conn_name.c_str());
  if (s == NATS_OK) s = natsOptions_SetMaxReconnect(opts.get(), -1);  // forever
  if (s == NATS_OK) s = natsOptions_SetReconnectWait(opts.get(), options_.reconnect_wait.count());
  // With a connected callback, Connect returns NATS_NOT_YET_CONNECTED instead of blocking when
  // the server is not up yet, and keeps trying in the background.
  if (s == NATS_OK) s = natsOptions_SetRetryOnFailedConnect(opts.get(), true, &OnConnected, this);
  if (s == NATS_OK) s = natsOptions_SetDisconnectedCB(opts.get(), &OnDisconnected, this);
  if (s == NATS_OK) s = natsOptions_SetReconnectedCB(opts.get(), &OnReconnected, this);
  if (s == NATS_OK) s = natsOptions_SetClosedCB(opts.get(), &OnClosed, this);
  if (s == NATS_OK) s = natsOptions_SetErrorHandler(opts.get(), &OnError, this);
  loop_ = std::make_unique<NatsEventLoop>();
  if (s == NATS_OK) s = loop_->Configure(opts.get());
  if (s != NATS_OK) return NatsError(s, "nats options");
  TXC_RETURN_IF_ERROR(ApplyNatsSecurity(opts.get(), options_.security));

  natsConnection* raw_nc = nullptr;
  s = natsConnection_Connect(&raw_nc, opts.get());
  nc_.reset(raw_nc);
  const bool connected = s == NATS_OK;
  if (s == NATS_NOT_YET_CONNECTED) {
    LogLine(options_.name, "nats server " + options_.url + " not reachable yet; retrying");
    s = NATS_OK;
  }
  if (s != NATS_OK) return NatsError(s, "connect to " + options_.url);

  // Synchronous, and emptied by the event loop's thread right after each read: no delivery
  // thread between the socket and the applier's queue (nats_event_loop.h).
  natsSubscription* raw_sub = nullptr;
  s = natsConnection_QueueSubscribeSync(&raw_sub, nc_.get(), options_.subject.c_str(),
                                        options_.name.c_str());
  sub_.reset(raw_sub);
  if (s == NATS_OK) {
    s = natsSubscription_SetPendingLimits(sub_.get(), kPendingMsgLimit, kPendingBytesLimit);
  }
  if (s != NATS_OK) return NatsError(s, "subscribe to " + options_.subject);
  loop_->Deliver(sub_.get(), [this](natsMsg* msg) { OnMessage(msg); });
  if (!options_.heartbeat_subject.empty()) {
    // The first heartbeat goes with the round trip below: when Start() returns, the coordinator
    // has it (or will as soon as the server is up).
    PublishHeartbeat(options_.heartbeat);
    heartbeats_ = std::make_unique<NatsTicker>(nc_.get(), options_.heartbeat_interval,
                                               [this] { PublishHeartbeat(options_.heartbeat); });
  }
  // Round trip so the server has our interest when Start() returns. If the server is not up
  // yet, the subscription is sent when the connection is established.
  if (connected) {
    s = natsConnection_FlushTimeout(nc_.get(), 2000);
    if (s != NATS_OK) LogLine(options_.name, std::string("flush: ") + natsStatus_GetText(s));
  }
  return Status::Ok();
}

Result<std::string> NatsEndpoint::Request(std::string_view subject, std::string_view data,
                                          std::chrono::milliseconds timeout) {
  if (!nc_) return Status::Unavailable("nats connection closed");
  const std::string subj(subject);
  natsMsg* raw = nullptr;
  const natsStatus s = natsConnection_Request(&raw, nc_.get(), subj.c_str(), data.data(),
                                              static_cast<int>(data.size()), timeout.count());
  NatsMsgPtr reply(raw);
  if (s != NATS_OK) return NatsError(s, "request " + subj);
  return std::string(natsMsg_GetData(reply.get()),
                     static_cast<size_t>(natsMsg_GetDataLength(reply.get())));
}

bool NatsEndpoint::Connected() const {
  return nc_ && natsConnection_Status(nc_.get()) == NATS_CONN_STATUS_CONNECTED;
}

void NatsEndpoint::StopReceiving() {
  if (drained_ || !sub_) return;
  drained_ = true;
  if (natsConnection_Status(nc_.get()) != NATS_CONN_STATUS_CONNECTED) {
    // Nobody to send UNSUB or replies to; whatever is queued is dropped with the connection and
    // will be re-sent by the coordinator.
    return;
  }
  natsStatus s = natsSubscription_DrainTimeout(sub_.get(), options_.drain_timeout.count());
  if (s == NATS_OK) {
    s = natsSubscription_WaitForDrainCompletion(sub_.get(), options_.drain_timeout.count() + 1000);
  }
  if (s != NATS_OK) {
    LogLine(options_.name, std::string("drain: ") + natsStatus_GetText(s) + " (closing anyway)");
  }
  // The drain is complete once the last message has left the subscription, a moment before the
  // loop has handed it over.
  loop_->AwaitDeliveries();
}

void NatsEndpoint::Close() {
  if (closed_) return;
  closed_ = true;
  closing_ = true;
  if (heartbeats_) heartbeats_->Stop();  // no heartbeat after the leaving one
  if (nc_ && !options_.heartbeat_subject.empty() &&
      natsConnection_Status(nc_.get()) == NATS_CONN_STATUS_CONNECTED) {
    // Tells the coordinator at once instead of letting it wait out the liveness window.
    PublishHeartbeat(options_.leaving);
    Flush();  // anything a Reply left buffered, so that the PING below does not wait behind it
    (void)natsConnection_FlushTimeout(nc_.get(), 1000);
  }
  if (nc_) {
    // The closed callback is the last one nats.c runs, and it points at this object.
    natsConnection_Close(nc_.get());
    std::unique_lock lock(mu_);
    cv_.wait(lock, [this] { return conn_closed_; });
  }
  // Closed: nats.c has detached and calls into the loop no more; once the loop has stopped, no
  // message is handed to OnMessage either.
  if (loop_) loop_->Stop();
  sub_.reset();
  nc_.reset();
}

void NatsEndpoint::OnMessage(natsMsg* raw) noexcept {
  NatsMsgPtr msg(raw);
  try {
    counters_->requests++;
    const char* reply_subject = natsMsg_GetReply(msg.get());
    const std::string reply_to = reply_subject != nullptr ? reply_subject : "";
    const std::string subject = natsMsg_GetSubject(msg.get());
    const std::string data(natsMsg_GetData(msg.get()),
                           static_cast<size_t>(natsMsg_GetDataLength(msg.get())));
    msg.reset();
    on_message_(subject, data, reply_to);
  } catch (const std::exception& e) {
    LogLine(options_.name, std::string("message callback failed: ") + e.what());
  } catch (...) {
    LogLine(options_.name, "message callback failed: unknown exception");
  }
}

void NatsEndpoint::Reply(const std::string& reply_to, const std::string& body) {
  if (reply_to.empty() || !nc_) return;
  if (natsConnection_Buffered(nc_.get()) > kMaxUnsentBytes) {
    LogLine(options_.name, "reply not sent: the NATS server is not reading (send buffer full)");
    return;
  }
  for (int copy = 0, copies = ReplyCopies(); copy < copies; ++copy) {
    NatsEventLoop::DeferredFlush defer(*loop_);
    const natsStatus s = natsConnection_Publish(nc_.get(), reply_to.c_str(), body.data(),
                                                static_cast<int>(body.size()));
    if (s == NATS_OK) {
      counters_->replies_sent++;
    } else {
      LogLine(options_.name, std::string("reply not sent: ") + natsStatus_GetText(s));
    }
  }
}

void NatsEndpoint::Flush() {
  if (nc_) loop_->Flush(nc_.get());
}

void NatsEndpoint::PublishHeartbeat(const std::string& body) {
  const natsStatus s = natsConnection_Publish(nc_.get(), options_.heartbeat_subject.c_str(),
                                              body.data(), static_cast<int>(body.size()));
  // While reconnecting it lands in the reconnect buffer; only a closed connection refuses it.
  if (s != NATS_OK && !closing_) {
    LogLine(options_.name, std::string("heartbeat not sent: ") + natsStatus_GetText(s));
  }
}

int NatsEndpoint::ReplyCopies() {
  if (options_.drop_reply <= 0 && options_.duplicate_reply <= 0) return 1;
  std::lock_guard lock(fault_mu_);
  const double draw = std::uniform_real_distribution<double>(0, 1)(fault_rng_);
  if (draw < options_.drop_reply) return 0;
  if (draw < options_.drop_reply + options_.duplicate_reply) return 2;
  return 1;
}

void NatsEndpoint::OnConnected(natsConnection*, void* closure) noexcept {
  auto* self = static_cast<NatsEndpoint*>(closure);
  LogLine(self->options_.name, "connected to " + self->options_.url);
}

void NatsEndpoint::OnDisconnected(natsConnection*, void* closure) noexcept {
  auto* self = static_cast<NatsEndpoint*>(closure);
  if (self->closing_) return;
  LogLine(self->options_.name, "disconnected from " + self->options_.url + "; reconnecting");
}

void NatsEndpoint::OnReconnected(natsConnection*, void* closure) noexcept {
  auto* self = static_cast<NatsEndpoint*>(closure);
  LogLine(self->options_.name, "reconnected to " + self->options_.url);
}

void NatsEndpoint::OnClosed(natsConnection*, void* closure) noexcept {
  auto* self = static_cast<NatsEndpoint*>(closure);
  std::lock_guard lock(self->mu_);
  self->conn_closed_ = true;
  self->cv_.notify_all();
}

void NatsEndpoint::OnError(natsConnection*, natsSubscription*, natsStatus err,
                           void* closure) noexcept {
  auto* self = static_cast<NatsEndpoint*>(closure);
  if (err == NATS_SLOW_CONSUMER) {
    LogLine(self->options_.name,
            "slow consumer: the server or client dropped requests (handlers too slow?); the "
            "coordinator will re-send them");
  } else {
    LogLine(self->options_.name, std::string("nats error: ") + natsStatus_GetText(err));
  }
}

}  // namespace txc::sdk
