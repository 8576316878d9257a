// RAII owners for nats.c handles. Every handle the transport creates is held by one of these, so
// early returns on error paths cannot leak.
#pragma once

#include <nats/nats.h>

#include <memory>

namespace txc::transport {

struct NatsOptionsDeleter {
  void operator()(natsOptions* o) const { natsOptions_Destroy(o); }
};
struct NatsConnectionDeleter {
  void operator()(natsConnection* c) const { natsConnection_Destroy(c); }
};
struct NatsSubscriptionDeleter {
  void operator()(natsSubscription* s) const { natsSubscription_Destroy(s); }
};
struct NatsMsgDeleter {
  void operator()(natsMsg* m) const { natsMsg_Destroy(m); }
};
struct NatsInboxDeleter {
  void operator()(natsInbox* i) const { natsInbox_Destroy(i); }
};

using NatsOptionsPtr = std::unique_ptr<natsOptions, NatsOptionsDeleter>;
using NatsConnectionPtr = std::unique_ptr<natsConnection, NatsConnectionDeleter>;
using NatsSubscriptionPtr = std::unique_ptr<natsSubscription, NatsSubscriptionDeleter>;
using NatsMsgPtr = std::unique_ptr<natsMsg, NatsMsgDeleter>;
using NatsInboxPtr = std::unique_ptr<natsInbox, NatsInboxDeleter>;

}  // namespace txc::transport
