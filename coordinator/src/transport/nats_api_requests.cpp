// The API side of NatsTransport: requests of the coordinator's API over NATS (api/nats_api.h)
// in, answers out. What a request means is the API's business; this file only moves bytes.
#include <climits>
#include <cstdlib>
#include <memory>
#include <string>
#include <utility>

#include "nats_event_loop.h"
#include "transport/nats_log.h"
#include "transport/nats_transport.h"
#include "transport/reply_subject.h"

namespace txc::transport {
namespace {

NatsTransport::Headers HeadersOf(natsMsg* msg) {
  NatsTransport::Headers headers;
  const char** keys = nullptr;
  int count = 0;
  if (natsMsgHeader_Keys(msg, &keys, &count) != NATS_OK) return headers;
  for (int i = 0; i < count; ++i) {
    // Every value: a header sent twice must reach the API twice (it refuses that).
    const char** values = nullptr;
    int n = 0;
    if (natsMsgHeader_Values(msg, keys[i], &values, &n) != NATS_OK) continue;
    for (int v = 0; v < n; ++v) {
      headers.emplace_back(keys[i], values[v] != nullptr ? values[v] : "");
    }
    std::free(static_cast<void*>(values));
  }
  std::free(static_cast<void*>(keys));
  return headers;
}

}  // namespace

Status NatsTransport::ServeApi(const std::string& subject, ApiHandler handler) {
  {
    std::lock_guard lock(mu_);
    if (api_handler_) return Status::FailedPrecondition("the API is served already");
    api_handler_ = std::make_shared<const ApiHandler>(std::move(handler));
  }
  Status subscribed = Subscribe(subject, &OnApiMsg, &api_sub_);
  if (subscribed.ok()) {
    // Registered with the server before anyone is told the coordinator is ready.
    const natsStatus s = natsConnection_FlushTimeout(conn_.get(), 5000);
    if (s != NATS_OK && Connected()) subscribed = FromNats(s, "subscribing to " + subject);
  }
  if (!subscribed.ok()) StopServingApi();
  return subscribed;
}

void NatsTransport::StopServingApi() {
  if (!api_sub_) return;
  // A drain, not an unsubscribe: requests the server has sent already still reach the handler
  // (and are refused there, as the service is stopping) instead of being dropped unanswered.
  const int64_t ms = options_.drain_timeout.count();
  if (natsSubscription_DrainTimeout(api_sub_.get(), ms) != NATS_OK ||
      natsSubscription_WaitForDrainCompletion(api_sub_.get(), ms + 1000) != NATS_OK) {
    (void)natsSubscription_Unsubscribe(api_sub_.get());
  }
}

Status NatsTransport::Respond(const std::string& reply, const Headers& headers,
                              std::string_view body) {
  if (body.size() > INT_MAX) return Status::InvalidArgument("answer too large");
  TXC_RETURN_IF_ERROR(CheckSendBuffer());
  natsMsg* raw = nullptr;
  natsStatus s =
      natsMsg_Create(&raw, reply.c_str(), nullptr, body.data(), static_cast<int>(body.size()));
  NatsMsgPtr msg(raw);
  for (const auto& [name, value] : headers) {
    if (s == NATS_OK) s = natsMsgHeader_Set(raw, name.c_str(), value.c_str());
  }
  if (s == NATS_OK) {
    NatsEventLoop::DeferredFlush defer(*loop_);
    s = natsConnection_PublishMsg(conn_.get(), raw);
  }
  if (s == NATS_MAX_PAYLOAD) {
    return Status::ResourceExhausted("the answer (" + std::to_string(body.size()) +
                                     " bytes) exceeds the NATS server's max_payload (" +
                                     std::to_string(natsConnection_GetMaxPayload(conn_.get())) +
                                     " bytes)");
  }
  if (s != NATS_OK) return FromNats(s, "answering on " + reply);
  return Status::Ok();
}

void NatsTransport::HandleApiRequest(natsMsg* msg) {
  NatsMsgPtr owned(msg);
  const char* reply = natsMsg_GetReply(msg);
  if (reply == nullptr || !IsAnswerableReplySubject(reply, inbox_)) {
    Log(applog::Level::kDebug,
        "ignoring an API request whose reply subject '%.200s' is not an inbox",
        reply != nullptr ? reply : "");
    return;
  }
  std::shared_ptr<const ApiHandler> handler;
  {
    std::lock_guard lock(mu_);
    handler = api_handler_;
  }
  if (!handler) return;
  const char* data = natsMsg_GetData(msg);
  std::string body(data != nullptr ? data : "", static_cast<size_t>(natsMsg_GetDataLength(msg)));
  Headers headers = HeadersOf(msg);
  std::string reply_subject = reply;
  owned.reset();  // release nats.c memory before calling out
  (*handler)(std::move(reply_subject), std::move(body), std::move(headers));
}

void NatsTransport::OnApiMsg(natsConnection*, natsSubscription*, natsMsg* msg, void* closure) {
  CatchAll("API request handler",
           [&] { static_cast<NatsTransport*>(closure)->HandleApiRequest(msg); });
}

}  // namespace txc::transport
