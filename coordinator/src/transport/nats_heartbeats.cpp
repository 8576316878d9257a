// The liveness side of NatsTransport: the heartbeat subscription's handler and the handlers it
// feeds (participant heartbeats and connection changes, for the ParticipantRegistry).
#include <memory>
#include <string>
#include <string_view>
#include <utility>

#include "transport/nats_log.h"
#include "transport/nats_transport.h"

namespace txc::transport {

void NatsTransport::SetLivenessHandlers(LivenessHandlers handlers) {
  auto shared = std::make_shared<const LivenessHandlers>(std::move(handlers));
  std::lock_guard lock(mu_);
  liveness_ = std::move(shared);
}

std::shared_ptr<const NatsTransport::LivenessHandlers> NatsTransport::CurrentLivenessHandlers()
    const {
  std::lock_guard lock(mu_);
  return liveness_;
}

void NatsTransport::ReportConnection(bool up) const {
  const auto handlers = CurrentLivenessHandlers();
  if (handlers && handlers->on_connection) handlers->on_connection(up);
}

void NatsTransport::HandleHeartbeat(natsMsg* msg) {
  NatsMsgPtr owned(msg);
  const std::string_view subject = natsMsg_GetSubject(msg);
  const char* data = natsMsg_GetData(msg);
  auto heartbeat = wire::DecodeHeartbeat(
      std::string_view(data ? data : "", static_cast<size_t>(natsMsg_GetDataLength(msg))));
  // Anyone may publish here: a bad heartbeat is somebody else's bug, worth a debug line only.
  if (!heartbeat.ok()) {
    Log(applog::Level::kDebug, "ignoring a malformed heartbeat on '%.200s': %s", subject.data(),
        heartbeat.status().message().c_str());
    return;
  }
  if (subject != wire::HeartbeatSubject(heartbeat->participant)) {
    Log(applog::Level::kDebug, "ignoring a heartbeat for '%s' sent on '%.200s'",
        heartbeat->participant.c_str(), subject.data());
    return;
  }
  owned.reset();
  const auto handlers = CurrentLivenessHandlers();
  if (handlers && handlers->on_heartbeat) handlers->on_heartbeat(*heartbeat);
}

void NatsTransport::OnHeartbeatMsg(natsConnection*, natsSubscription*, natsMsg* msg,
                                   void* closure) {
  CatchAll("heartbeat handler",
           [&] { static_cast<NatsTransport*>(closure)->HandleHeartbeat(msg); });
}

}  // namespace txc::transport
