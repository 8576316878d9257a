// FakeCoordinator: the coordinator's side of the wire protocol in raw nats.c (not the SDK), so
// these tests check the SDK against the protocol itself. It sends BranchRequests and decodes the
// replies, and can answer status queries on wire::kStatusSubject with a decision chosen by the
// test.
#pragma once

#include <nats/nats.h>

#include <chrono>
#include <condition_variable>
#include <functional>
#include <map>
#include <mutex>
#include <string>

#include "txc/status.h"
#include "txc/wire.h"

namespace txc::testing {

class FakeCoordinator {
 public:
  using Decide = std::function<wire::Decision(const std::string& gid)>;

  explicit FakeCoordinator(const std::string& url) {
    natsOptions* opts = nullptr;
    natsStatus s = natsOptions_Create(&opts);
    if (s == NATS_OK) s = natsOptions_SetURL(opts, url.c_str());
    if (s == NATS_OK) s = natsOptions_SetMaxReconnect(opts, -1);
    if (s == NATS_OK) s = natsOptions_SetReconnectWait(opts, 50);
    if (s == NATS_OK) s = natsOptions_SetSendAsap(opts, true);
    if (s == NATS_OK) s = natsConnection_Connect(&nc_, opts);
    natsOptions_Destroy(opts);
    ok_ = s == NATS_OK;
  }

  ~FakeCoordinator() {
    if (nc_ != nullptr) natsConnection_Close(nc_);
    if (sub_ != nullptr) {
      std::unique_lock lock(mu_);
      cv_.wait(lock, [this] { return sub_complete_; });
    }
    natsSubscription_Destroy(sub_);
    natsConnection_Destroy(nc_);
  }

  FakeCoordinator(const FakeCoordinator&) = delete;
  FakeCoordinator& operator=(const FakeCoordinator&) = delete;

  bool ok() const { return ok_; }

  // A raw request/reply: the reply body.
  Result<std::string> Request(const std::string& subject, const std::string& body,
                              std::chrono::milliseconds timeout = std::chrono::seconds(5)) {
    natsMsg* reply = nullptr;
    const natsStatus s = natsConnection_Request(&reply, nc_, subject.c_str(), body.data(),
                                                static_cast<int>(body.size()), timeout.count());
    if (s != NATS_OK) {
      natsMsg_Destroy(reply);
      return Status::Unavailable(std::string("request: ") + natsStatus_GetText(s));
    }
    std::string data(natsMsg_GetData(reply), static_cast<size_t>(natsMsg_GetDataLength(reply)));
    natsMsg_Destroy(reply);
    return data;
  }

  // Publishes `body` to `subject` as a request and decodes the BranchReply.
  Result<wire::BranchReply> SendRaw(const std::string& subject, const std::string& body,
                                    std::chrono::milliseconds timeout = std::chrono::seconds(5)) {
    auto reply = Request(subject, body, timeout);
    if (!reply.ok()) return reply.status();
    return wire::DecodeBranchReply(*reply);
  }

  Result<wire::BranchReply> Send(const wire::BranchRequest& request,
                                 std::chrono::milliseconds timeout = std::chrono::seconds(5)) {
    return SendRaw(wire::ParticipantSubject(request.participant, request.op), wire::Encode(request),
                   timeout);
  }

  // A message without reply subject (the SDK must not answer, and must not choke).
  bool Publish(const std::string& subject, const std::string& body) {
    return natsConnection_Publish(nc_, subject.c_str(), body.data(),
                                  static_cast<int>(body.size())) == NATS_OK &&
           natsConnection_FlushTimeout(nc_, 5000) == NATS_OK;
  }

  // Starts (or re-targets) the status responder.
  bool ServeStatus(Decide decide) {
    {
      std::lock_guard lock(mu_);
      decide_ = std::move(decide);
    }
    if (sub_ != nullptr) return true;
    natsStatus s = natsConnection_Subscribe(&sub_, nc_, std::string(wire::kStatusSubject).c_str(),
                                            &OnStatus, this);
    if (s == NATS_OK) s = natsSubscription_SetOnCompleteCB(sub_, &OnComplete, this);
    if (s == NATS_OK) s = natsConnection_FlushTimeout(nc_, 5000);
    return s == NATS_OK;
  }

  int status_queries(const std::string& gid) {
    std::lock_guard lock(mu_);
    auto it = queries_.find(gid);
    return it == queries_.end() ? 0 : it->second;
  }

  bool Connected() { return natsConnection_Status(nc_) == NATS_CONN_STATUS_CONNECTED; }

 private:
  static void OnStatus(natsConnection* nc, natsSubscription*, natsMsg* msg, void* closure) {
    auto* self = static_cast<FakeCoordinator*>(closure);
    auto query =
        wire::DecodeStatusQuery(std::string_view(natsMsg_GetData(msg), natsMsg_GetDataLength(msg)));
    const char* reply = natsMsg_GetReply(msg);
    if (query.ok() && reply != nullptr) {
      wire::Decision decision;
      {
        std::lock_guard lock(self->mu_);
        self->queries_[query->gid]++;
        decision = self->decide_(query->gid);
      }
      const std::string body = wire::Encode(wire::StatusReply{query->gid, decision});
      natsConnection_Publish(nc, reply, body.data(), static_cast<int>(body.size()));
    }
    natsMsg_Destroy(msg);
  }

  static void OnComplete(void* closure) {
    auto* self = static_cast<FakeCoordinator*>(closure);
    std::lock_guard lock(self->mu_);
    self->sub_complete_ = true;
    self->cv_.notify_all();
  }

  natsConnection* nc_ = nullptr;
  natsSubscription* sub_ = nullptr;
  bool ok_ = false;

  std::mutex mu_;
  std::condition_variable cv_;
  Decide decide_;                       // guarded by mu_
  std::map<std::string, int> queries_;  // guarded by mu_
  bool sub_complete_ = false;           // guarded by mu_
};

}  // namespace txc::testing
