#include "nats_requester.h"

#include <chrono>

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
  if (s == NATS_OK) s = natsSubscription_SetOnCompleteCB(sub_, &NatsRequester::OnComplete, this);
  if (s == NATS_OK) natsSubscription_SetPendingLimits(sub_, -1, -1);
  if (s == NATS_OK) s = natsConnection_Flush(nc_);
  if (s != NATS_OK) error_ = std::string("subscribe: ") + natsStatus_GetText(s);
}

void NatsRequester::OnComplete(void* closure) {
  auto* self = static_cast<NatsRequester*>(closure);
  std::lock_guard lock(self->mu_);  // notify under the lock: Close may return right after
  self->completed_ = true;
  self->completed_cv_.notify_all();
}

void NatsRequester::Close() {
  if (sub_ != nullptr) {
    if (natsSubscription_Unsubscribe(sub_) == NATS_OK) {
      std::unique_lock lock(mu_);
      completed_cv_.wait_for(lock, std::chrono::seconds(5), [this] { return completed_; });
    }
    natsSubscription_Destroy(sub_);
    sub_ = nullptr;
  }
  if (nc_ != nullptr) {
    natsConnection_Close(nc_);
    loop_.Stop();
    natsConnection_Destroy(nc_);
    nc_ = nullptr;
  }
  loop_.Stop();
}

}  // namespace txc::bench
