#include "nats_requester.h"

namespace txc::bench {

NatsRequester::NatsRequester(const std::string& url, natsMsgHandler on_reply, void* closure) {
  natsOptions* opts = nullptr;
  natsOptions_Create(&opts);
  natsOptions_SetURL(opts, url.c_str());
  natsStatus s = loop_.Configure(opts);
  if (s == NATS_OK) s = natsConnection_Connect(&nc_, opts);
  natsOptions_Destroy(opts);
  if (s != NATS_OK) {
    error_ = "connect to " + url + ": " + natsStatus_GetText(s);
    return;
  }
  natsInbox* inbox = nullptr;
  natsInbox_Create(&inbox);
  inbox_ = inbox;
  natsInbox_Destroy(inbox);
  s = natsConnection_Subscribe(&sub_, nc_, (inbox_ + ".>").c_str(), on_reply, closure);
  if (s == NATS_OK) natsSubscription_SetPendingLimits(sub_, -1, -1);
  if (s == NATS_OK) s = natsConnection_Flush(nc_);
  if (s != NATS_OK) error_ = std::string("subscribe: ") + natsStatus_GetText(s);
}

NatsRequester::~NatsRequester() {
  if (sub_ != nullptr) {
    natsSubscription_Unsubscribe(sub_);
    natsSubscription_Destroy(sub_);
  }
  if (nc_ != nullptr) natsConnection_Close(nc_);
  loop_.Stop();
  natsConnection_Destroy(nc_);
}

}  // namespace txc::bench
