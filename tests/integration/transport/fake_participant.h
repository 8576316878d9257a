// FakeParticipant: a participant built on raw nats.c (not the SDK), so transport tests check the
// wire protocol itself. It subscribes to "txc.participant.<name>.*" in queue group <name> and
// answers each request with whatever body `respond` returns (no reply for std::nullopt).
#pragma once

#include <nats/nats.h>

#include <atomic>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "txc/wire.h"

namespace txc::testing {

class FakeParticipant {
 public:
  using Respond = std::function<std::optional<std::string>(const wire::BranchRequest&)>;

  // Replies ok to everything.
  static std::optional<std::string> AlwaysOk(const wire::BranchRequest& r) {
    return wire::Encode(wire::BranchReply{r.gid, r.branch, r.op, wire::Outcome::kOk, ""});
  }

  FakeParticipant(const std::string& url, const std::string& name, Respond respond = AlwaysOk)
      : respond_(std::move(respond)) {
    natsOptions* opts = nullptr;
    natsStatus s = natsOptions_Create(&opts);
    if (s == NATS_OK) s = natsOptions_SetURL(opts, url.c_str());
    if (s == NATS_OK) s = natsOptions_SetMaxReconnect(opts, -1);
    if (s == NATS_OK) s = natsOptions_SetReconnectWait(opts, 50);
    if (s == NATS_OK) s = natsOptions_SetSendAsap(opts, true);  // a reply-only connection
    if (s == NATS_OK) s = natsConnection_Connect(&nc_, opts);
    natsOptions_Destroy(opts);
    const std::string subject = wire::ParticipantWildcardSubject(name);
    if (s == NATS_OK) {
      s = natsConnection_QueueSubscribe(&sub_, nc_, subject.c_str(), name.c_str(), &OnMsg, this);
    }
    if (s == NATS_OK) s = natsSubscription_SetOnCompleteCB(sub_, &OnComplete, this);
    if (s == NATS_OK) s = natsConnection_FlushTimeout(nc_, 5000);  // the server has our SUB
    ok_ = s == NATS_OK;
  }

  ~FakeParticipant() {
    if (nc_ != nullptr) natsConnection_Close(nc_);
    if (sub_ != nullptr && ok_) {
      std::unique_lock lock(mu_);
      cv_.wait(lock, [this] { return complete_; });
    }
    natsSubscription_Destroy(sub_);
    natsConnection_Destroy(nc_);
  }

  FakeParticipant(const FakeParticipant&) = delete;
  FakeParticipant& operator=(const FakeParticipant&) = delete;

  bool ok() const { return ok_; }
  bool Connected() { return natsConnection_Status(nc_) == NATS_CONN_STATUS_CONNECTED; }
  // Round trip to the server: afterwards it has processed our (re)subscription.
  bool Sync() { return natsConnection_FlushTimeout(nc_, 5000) == NATS_OK; }
  int received() const { return received_.load(); }
  std::vector<wire::BranchRequest> requests() {
    std::lock_guard lock(mu_);
    return requests_;
  }

 private:
  static void OnMsg(natsConnection* nc, natsSubscription*, natsMsg* msg, void* closure) {
    auto* self = static_cast<FakeParticipant*>(closure);
    try {
      auto request = wire::DecodeBranchRequest(
          std::string_view(natsMsg_GetData(msg), natsMsg_GetDataLength(msg)));
      const char* reply = natsMsg_GetReply(msg);
      if (request.ok()) {
        {
          std::lock_guard lock(self->mu_);
          self->requests_.push_back(*request);
        }
        auto body = self->respond_(*request);
        if (body && reply != nullptr) {
          natsConnection_Publish(nc, reply, body->data(), static_cast<int>(body->size()));
        }
      }
      self->received_.fetch_add(1);
    } catch (...) {
    }
    natsMsg_Destroy(msg);
  }

  static void OnComplete(void* closure) {
    auto* self = static_cast<FakeParticipant*>(closure);
    std::lock_guard lock(self->mu_);
    self->complete_ = true;
    self->cv_.notify_all();
  }

  Respond respond_;
  natsConnection* nc_ = nullptr;
  natsSubscription* sub_ = nullptr;
  bool ok_ = false;
  std::atomic<int> received_{0};
  std::mutex mu_;
  std::condition_variable cv_;
  bool complete_ = false;                      // guarded by mu_
  std::vector<wire::BranchRequest> requests_;  // guarded by mu_
};

}  // namespace txc::testing
