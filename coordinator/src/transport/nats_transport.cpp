#include "transport/nats_transport.h"

#include <algorithm>
#include <array>
#include <climits>
#include <string_view>
#include <utility>

#include "nats_event_loop.h"
#include "nats_security_options.h"
#include "transport/nats_log.h"
#include "transport/reply_subject.h"

namespace txc::transport {
namespace {

int64_t SteadyMicros() {
  return std::chrono::duration_cast<std::chrono::microseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

// What nats.c last reported on `nc` ("none" if nothing): an authorization violation, a TLS error.
std::string LastError(natsConnection* nc) {
  const char* text = nullptr;
  if (natsConnection_GetLastError(nc, &text) == NATS_OK || text == nullptr || *text == '\0') {
    return "none";
  }
  return text;
}

core::AttemptResult ToAttemptResult(wire::Outcome outcome) {
  switch (outcome) {
    case wire::Outcome::kOk:
      return core::AttemptResult::kOk;
    case wire::Outcome::kRefused:
      return core::AttemptResult::kRefused;
    case wire::Outcome::kError:
      break;
  }
  return core::AttemptResult::kError;
}

}  // namespace

Status FromNats(natsStatus s, const std::string& what) {
  std::string message = what + ": " + natsStatus_GetText(s);
  switch (s) {
    case NATS_INVALID_ARG:
    case NATS_INVALID_SUBJECT:
    case NATS_MAX_PAYLOAD:
      return Status::InvalidArgument(std::move(message));
    case NATS_NO_MEMORY:
      return Status::ResourceExhausted(std::move(message));
    case NATS_TIMEOUT:
      return Status::DeadlineExceeded(std::move(message));
    default:  // closed, reconnect buffer full, I/O errors, ...: NATS is not usable right now
      return Status::Unavailable(std::move(message));
  }
}

Result<std::unique_ptr<NatsTransport>> NatsTransport::Connect(const Options& options) {
  if (options.url.empty()) return Status::InvalidArgument("NATS url is empty");
  if (options.pending_msgs_limit <= 0 || options.pending_bytes_limit <= 0) {
    return Status::InvalidArgument("NATS pending limits must be positive");
  }
  std::unique_ptr<NatsTransport> t(new NatsTransport(options));

  natsInbox* raw_inbox = nullptr;
  natsStatus s = natsInbox_Create(&raw_inbox);
  NatsInboxPtr inbox(raw_inbox);
  if (s != NATS_OK) return FromNats(s, "creating the reply inbox");
  t->inbox_ = inbox.get();

  natsOptions* raw_opts = nullptr;
  s = natsOptions_Create(&raw_opts);
  NatsOptionsPtr opts(raw_opts);
  natsOptions* o = opts.get();
  void* self = t.get();
  if (s == NATS_OK) s = natsOptions_SetURL(o, options.url.c_str());
  if (s == NATS_OK) s = natsOptions_SetName(o, options.name.c_str());
  if (s == NATS_OK) s = natsOptions_SetAllowReconnect(o, true);
  if (s == NATS_OK) s = natsOptions_SetMaxReconnect(o, -1);  // forever
  if (s == NATS_OK) s = natsOptions_SetReconnectWait(o, options.reconnect_wait.count());
  if (s == NATS_OK) s = natsOptions_SetReconnectBufSize(o, options.reconnect_buffer_bytes);
  // With a connected callback, Connect returns NATS_NOT_YET_CONNECTED instead of blocking.
  if (s == NATS_OK) s = natsOptions_SetRetryOnFailedConnect(o, true, &OnConnected, self);
  if (s == NATS_OK) s = natsOptions_SetErrorHandler(o, &OnError, self);
  if (s == NATS_OK) s = natsOptions_SetDisconnectedCB(o, &OnDisconnected, self);
  if (s == NATS_OK) s = natsOptions_SetReconnectedCB(o, &OnReconnected, self);
  if (s == NATS_OK) s = natsOptions_SetClosedCB(o, &OnClosed, self);
  // Each subscription gets its own delivery thread (never the shared pool, whatever the
  // environment says), so status queries and replies cannot delay each other.
  if (s == NATS_OK) s = natsOptions_UseGlobalMessageDelivery(o, false);
  t->loop_ = std::make_unique<NatsEventLoop>();
  if (s == NATS_OK) s = t->loop_->Configure(o);
  if (s != NATS_OK) return FromNats(s, "configuring the NATS connection");
  TXC_RETURN_IF_ERROR(ApplyNatsSecurity(o, options.security));

  natsConnection* raw_conn = nullptr;
  s = natsConnection_Connect(&raw_conn, o);
  t->conn_.reset(raw_conn);
  if (s != NATS_OK && s != NATS_NOT_YET_CONNECTED) {
    return FromNats(s, "connecting to NATS at " + options.url);
  }
  if (s == NATS_NOT_YET_CONNECTED)
    Log(applog::Level::kWarn, "NATS at %s not reachable yet; retrying", options.url.c_str());

  Status subscribed = t->Subscribe(t->inbox_ + ".>", &OnReplyMsg, &t->reply_sub_);
  if (subscribed.ok()) {
    subscribed = t->Subscribe(std::string(wire::kStatusSubject), &OnStatusMsg, &t->status_sub_);
  }
  if (subscribed.ok()) {
    subscribed = t->Subscribe(std::string(wire::kHeartbeatWildcardSubject), &OnHeartbeatMsg,
                              &t->heartbeat_sub_);
  }
  if (!subscribed.ok() && natsConnection_IsClosed(t->conn_.get())) {
    // A server that is down is retried; nats.c gives up only when the server refused us (bad
    // credentials, a TLS mismatch), though by then it has forgotten why.
    return Status::Unavailable("NATS at " + options.url + " closed the connection (" +
                               LastError(t->conn_.get()) +
                               "): check the NATS credentials and TLS settings");
  }
  TXC_RETURN_IF_ERROR(subscribed);
  // One round trip at startup so that, once connected, the server has our subscriptions when
  // Connect returns: status queries sent right after are answered, not met with "no responders".
  // (Replies need no such care: our SUB precedes our requests on the same connection.)
  if (s == NATS_OK) {
    const natsStatus f = natsConnection_FlushTimeout(t->conn_.get(), 5000);
    if (f != NATS_OK)
      Log(applog::Level::kError, "registering subscriptions: %s", natsStatus_GetText(f));
  }
  return t;
}

Status NatsTransport::Subscribe(const std::string& subject, natsMsgHandler handler,
                                NatsSubscriptionPtr* out) {
  natsSubscription* raw = nullptr;
  natsStatus s = natsConnection_Subscribe(&raw, conn_.get(), subject.c_str(), handler, this);
  out->reset(raw);
  if (s == NATS_OK) {
    s = natsSubscription_SetPendingLimits(raw, options_.pending_msgs_limit,
                                          options_.pending_bytes_limit);
  }
  if (s == NATS_OK) {
    std::lock_guard lock(mu_);
    s = natsSubscription_SetOnCompleteCB(raw, &OnSubscriptionComplete, this);
    if (s == NATS_OK) ++subs_active_;
  }
  if (s != NATS_OK) return FromNats(s, "subscribing to " + subject);
  return Status::Ok();
}

NatsTransport::NatsTransport(Options options) : options_(std::move(options)) {}

NatsTransport::~NatsTransport() { Shutdown(); }

void NatsTransport::Shutdown() {
  shutting_down_.store(true);
  if (!conn_) return;  // Connect failed before a connection existed: no callback can run
  // Drain lets replies and status queries already received reach the handlers, then closes.
  // Drain refuses while (re)connecting; then close right away.
  if (natsConnection_DrainTimeout(conn_.get(), options_.drain_timeout.count()) != NATS_OK) {
    natsConnection_Close(conn_.get());
  }
  std::unique_lock lock(mu_);
  if (!done_cv_.wait_for(lock, options_.drain_timeout + std::chrono::seconds(1),
                         [this] { return closed_; })) {
    lock.unlock();
    Log(applog::Level::kWarn, "drain did not finish in time; closing");
    natsConnection_Close(conn_.get());
    lock.lock();
  }
  // The closed callback is the connection's last callback; each subscription's completion
  // callback runs after its last message handler has returned. After both, nothing of ours runs.
  done_cv_.wait(lock, [this] { return closed_ && subs_active_ == 0; });
  lock.unlock();
  // Closed: nats.c has detached from the loop and will not call into it again.
  loop_->Stop();
}

void NatsTransport::SetHandlers(Handlers handlers) {
  auto shared = std::make_shared<const Handlers>(std::move(handlers));
  std::lock_guard lock(mu_);
  handlers_ = std::move(shared);
}

std::shared_ptr<const Transport::Handlers> NatsTransport::CurrentHandlers() const {
  std::lock_guard lock(mu_);
  return handlers_;
}

Status NatsTransport::Send(const wire::BranchRequest& request) {
  TXC_RETURN_IF_ERROR(ValidateGid(request.gid));
  if (!wire::IsValidParticipantName(request.participant)) {
    return Status::InvalidArgument("participant '" + request.participant +
                                   "' is not a valid participant name");
  }
  if (request.branch < 0 || request.attempt < 0) {
    return Status::InvalidArgument("branch and attempt must not be negative");
  }
  const std::string subject = wire::ParticipantSubject(request.participant, request.op);
  const std::string reply = ReplySubject(inbox_, request, SteadyMicros());
  const std::string body = wire::Encode(request);
  if (body.size() > INT_MAX) return Status::InvalidArgument("request too large");
  // Buffered until Flush (or into the reconnect buffer while disconnected). A send refused for a
  // full buffer is like a lost message: the reply timeout sends it again.
  TXC_RETURN_IF_ERROR(CheckSendBuffer());
  NatsEventLoop::DeferredFlush defer(*loop_);
  const natsStatus s = natsConnection_PublishRequest(conn_.get(), subject.c_str(), reply.c_str(),
                                                     body.data(), static_cast<int>(body.size()));
  if (s != NATS_OK) {
    return FromNats(s, std::string("sending ") + wire::OpName(request.op) + " for " + request.gid +
                           " branch " + std::to_string(request.branch) + " to " + subject);
  }
  return Status::Ok();
}

Status NatsTransport::CheckSendBuffer() const {
  if (natsConnection_Buffered(conn_.get()) > options_.reconnect_buffer_bytes) {
    return Status::Unavailable("NATS send buffer full: the server is not reading");
  }
  return Status::Ok();
}

// One non-blocking write of everything buffered, on the caller's thread (nats_event_loop.h).
// The engine calls it after each batch of work, so a lone transaction's messages leave at once
// and a busy engine's leave together.
Status NatsTransport::Flush() {
  if (natsConnection_IsClosed(conn_.get())) return Status::Unavailable("NATS connection closed");
  loop_->Flush(conn_.get());
  return Status::Ok();
}

Status NatsTransport::FlushAndWait(std::chrono::milliseconds timeout) {
  // What Send buffered first: nats.c's PING would only join it in the buffer.
  loop_->Flush(conn_.get());
  const natsStatus s = natsConnection_FlushTimeout(conn_.get(), timeout.count());
  if (s != NATS_OK) return FromNats(s, "flushing");
  return Status::Ok();
}

bool NatsTransport::Connected() const {
  return natsConnection_Status(conn_.get()) == NATS_CONN_STATUS_CONNECTED;
}

void NatsTransport::HandleReply(natsMsg* msg) {
  NatsMsgPtr owned(msg);
  const std::string_view subject = natsMsg_GetSubject(msg);
  InboundReply reply;
  int64_t sent_us = 0;
  if (!ParseReplySubject(subject, inbox_, &reply, &sent_us)) {
    Log(applog::Level::kWarn, "dropping a message on unroutable reply subject '%.200s'",
        subject.data());
    return;
  }
  reply.latency_us = std::max<int64_t>(0, SteadyMicros() - sent_us);
  if (natsMsg_IsNoResponders(msg)) {
    reply.result = core::AttemptResult::kNoResponders;
    reply.message = "no responders";
  } else {
    const char* data = natsMsg_GetData(msg);
    const std::string_view body(data ? data : "", static_cast<size_t>(natsMsg_GetDataLength(msg)));
    auto decoded = wire::DecodeBranchReply(body);
    reply.result = core::AttemptResult::kError;
    if (!decoded.ok()) {
      reply.message = "malformed reply: " + decoded.status().message();
    } else if (decoded->gid != reply.gid || decoded->branch != reply.branch ||
               decoded->op != reply.op) {
      reply.message = "malformed reply: names " + decoded->gid + " branch " +
                      std::to_string(decoded->branch) + " " + wire::OpName(decoded->op) +
                      ", expected " + reply.gid + " branch " + std::to_string(reply.branch) + " " +
                      wire::OpName(reply.op);
    } else {
      reply.result = ToAttemptResult(decoded->outcome);
      reply.message = std::move(decoded->message);
    }
  }
  owned.reset();  // release nats.c memory before calling out
  const auto handlers = CurrentHandlers();
  if (handlers && handlers->on_reply) handlers->on_reply(std::move(reply));
}

void NatsTransport::HandleStatusQuery(natsMsg* msg) {
  NatsMsgPtr owned(msg);
  const char* reply_to = natsMsg_GetReply(msg);
  if (reply_to == nullptr || *reply_to == '\0') {
    Log(applog::Level::kWarn, "ignoring a status query without a reply subject");
    return;
  }
  const std::string reply_subject = reply_to;
  const char* data = natsMsg_GetData(msg);
  auto query = wire::DecodeStatusQuery(
      std::string_view(data ? data : "", static_cast<size_t>(natsMsg_GetDataLength(msg))));
  owned.reset();
  if (!query.ok()) {
    Log(applog::Level::kWarn, "ignoring a malformed status query: %s",
        query.status().message().c_str());
    return;
  }
  const auto handlers = CurrentHandlers();
  if (!handlers || !handlers->on_status_query) return;
  const std::string body = wire::Encode(handlers->on_status_query(*query));
  const natsStatus s = natsConnection_Publish(conn_.get(), reply_subject.c_str(), body.data(),
                                              static_cast<int>(body.size()));
  if (s != NATS_OK)
    Log(applog::Level::kWarn, "answering a status query failed: %s", natsStatus_GetText(s));
}

void NatsTransport::OnReplyMsg(natsConnection*, natsSubscription*, natsMsg* msg, void* closure) {
  // HandleReply takes ownership of msg first thing, so it is destroyed even if a handler throws.
  CatchAll("reply handler", [&] { static_cast<NatsTransport*>(closure)->HandleReply(msg); });
}

void NatsTransport::OnStatusMsg(natsConnection*, natsSubscription*, natsMsg* msg, void* closure) {
  CatchAll("status query handler",
           [&] { static_cast<NatsTransport*>(closure)->HandleStatusQuery(msg); });
}

void NatsTransport::OnSubscriptionComplete(void* closure) {
  CatchAll("subscription completion", [&] {
    auto* self = static_cast<NatsTransport*>(closure);
    // Notify under the lock: once it is released the destructor may finish and free `self`.
    std::lock_guard lock(self->mu_);
    --self->subs_active_;
    self->done_cv_.notify_all();
  });
}

void NatsTransport::OnError(natsConnection* nc, natsSubscription* sub, natsStatus err,
                            void* closure) {
  CatchAll("error callback", [&] {
    auto* self = static_cast<NatsTransport*>(closure);
    if (err == NATS_SLOW_CONSUMER) {
      self->slow_consumers_.fetch_add(1);
      int64_t dropped = 0;
      const char* subject = "?";
      if (sub != nullptr) {
        (void)natsSubscription_GetDropped(sub, &dropped);
        subject = natsSubscription_GetSubject(sub);
      }
      Log(applog::Level::kWarn,
          "slow consumer on '%s': %lld messages dropped so far (they will time out)", subject,
          static_cast<long long>(dropped));
      return;
    }
    const char* detail = nullptr;
    (void)natsConnection_GetLastError(nc, &detail);
    Log(applog::Level::kError, "NATS error: %s%s%s", natsStatus_GetText(err), detail ? ": " : "",
        detail ? detail : "");
  });
}

void NatsTransport::OnConnected(natsConnection* nc, void* closure) {
  CatchAll("connected callback", [&] {
    std::array<char, 256> url{};
    (void)natsConnection_GetConnectedUrl(nc, url.data(), url.size());
    Log(applog::Level::kInfo, "connected to %s", url.data());
    static_cast<NatsTransport*>(closure)->ReportConnection(true);
  });
}

void NatsTransport::OnDisconnected(natsConnection*, void* closure) {
  CatchAll("disconnected callback", [&] {
    Log(applog::Level::kWarn, "disconnected from NATS");
    static_cast<NatsTransport*>(closure)->ReportConnection(false);
  });
}

void NatsTransport::OnReconnected(natsConnection* nc, void* closure) {
  CatchAll("reconnected callback", [&] {
    static_cast<NatsTransport*>(closure)->reconnects_.fetch_add(1);
    std::array<char, 256> url{};
    (void)natsConnection_GetConnectedUrl(nc, url.data(), url.size());
    Log(applog::Level::kInfo, "reconnected to %s", url.data());
    static_cast<NatsTransport*>(closure)->ReportConnection(true);
  });
}

void NatsTransport::OnClosed(natsConnection* nc, void* closure) {
  CatchAll("closed callback", [&] {
    Log(applog::Level::kInfo, "connection closed (last error: %s)", LastError(nc).c_str());
    auto* self = static_cast<NatsTransport*>(closure);
    if (!self->shutting_down_.load() && self->options_.on_closed) {
      self->options_.on_closed(LastError(nc));
    }
    std::lock_guard lock(self->mu_);  // notify under the lock, see OnSubscriptionComplete
    self->closed_ = true;
    self->done_cv_.notify_all();
  });
}

}  // namespace txc::transport
