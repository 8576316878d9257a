// RAII owners for nats.c handles, so that early returns cannot leak, shared by the coordinator's
// transport and the SDK.
//
// Messages are freed on the calling thread. natsMsg_Destroy hands every message to nats.c's
// garbage-collector thread and wakes it whenever it sleeps: a thread hand-off per message
// received, which at low load is one per message (5.8 context switches per 2PC transaction in
// the coordinator at 1 in flight; docs/benchmarks.md, "Where the time goes"). natsMsg_free is
// what that thread runs. libnats exports it but its public header does not declare it, so it is
// declared here: a nats.c without it fails to link instead of misbehaving. natsMsg_Destroy also
// skips messages nats.c marks as its own (JetStream's auto-acknowledged ones); txc uses core
// NATS only, whose messages are always the receiver's.
#pragma once

#include <nats/nats.h>

#include <memory>

extern "C" void natsMsg_free(void* object);

namespace txc {

// Frees a message nats.c gave us, here and now (see above).
inline void FreeNatsMsg(natsMsg* msg) { natsMsg_free(msg); }

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
  void operator()(natsMsg* m) const { FreeNatsMsg(m); }
};
struct NatsInboxDeleter {
  void operator()(natsInbox* i) const { natsInbox_Destroy(i); }
};

using NatsOptionsPtr = std::unique_ptr<natsOptions, NatsOptionsDeleter>;
using NatsConnectionPtr = std::unique_ptr<natsConnection, NatsConnectionDeleter>;
using NatsSubscriptionPtr = std::unique_ptr<natsSubscription, NatsSubscriptionDeleter>;
using NatsMsgPtr = std::unique_ptr<natsMsg, NatsMsgDeleter>;
using NatsInboxPtr = std::unique_ptr<natsInbox, NatsInboxDeleter>;

}  // namespace txc
