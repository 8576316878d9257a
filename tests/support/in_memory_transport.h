// InMemoryTransport: a deterministic Transport for engine tests. Nothing leaves the process:
// Send records the request, and the test plays the participants by calling Deliver (a reply)
// or AskStatus (a participant's status query), which run the handlers inline on the caller's
// thread. Thread-safe; handlers are always called without the internal lock held, so they may
// call back into the transport.
#pragma once

#include <mutex>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "transport/transport.h"

namespace txc::testing {

class InMemoryTransport : public transport::Transport {
 public:
  void SetHandlers(Handlers handlers) override {
    std::lock_guard lock(mu_);
    handlers_ = std::move(handlers);
  }

  Status Send(const wire::BranchRequest& request) override {
    std::lock_guard lock(mu_);
    if (!send_error_.ok()) return send_error_;
    sent_.push_back(request);
    return Status::Ok();
  }

  Status Flush() override {
    std::lock_guard lock(mu_);
    ++flushes_;
    return Status::Ok();
  }

  Status FlushAndWait(std::chrono::milliseconds) override { return Flush(); }

  bool Connected() const override {
    std::lock_guard lock(mu_);
    return connected_;
  }

  // --- test controls ---

  // Every request sent so far (a copy).
  std::vector<wire::BranchRequest> sent() const {
    std::lock_guard lock(mu_);
    return sent_;
  }
  // Returns the requests sent since the last call and forgets them.
  std::vector<wire::BranchRequest> TakeSent() {
    std::lock_guard lock(mu_);
    return std::exchange(sent_, {});
  }
  int flushes() const {
    std::lock_guard lock(mu_);
    return flushes_;
  }
  void set_connected(bool connected) {
    std::lock_guard lock(mu_);
    connected_ = connected;
  }
  // Makes every later Send return `status` (Status::Ok() to stop failing).
  void FailSends(Status status) {
    std::lock_guard lock(mu_);
    send_error_ = std::move(status);
  }

  // Runs on_reply inline; returns false (and drops the reply) if no handler is set.
  bool Deliver(transport::InboundReply reply) {
    Handlers handlers = CopyHandlers();
    if (!handlers.on_reply) return false;
    handlers.on_reply(std::move(reply));
    return true;
  }

  // Runs on_status_query inline; nullopt if no handler is set.
  std::optional<wire::StatusReply> AskStatus(const std::string& gid) {
    Handlers handlers = CopyHandlers();
    if (!handlers.on_status_query) return std::nullopt;
    return handlers.on_status_query(wire::StatusQuery{gid});
  }

 private:
  Handlers CopyHandlers() const {
    std::lock_guard lock(mu_);
    return handlers_;
  }

  mutable std::mutex mu_;
  Handlers handlers_;                      // guarded by mu_
  std::vector<wire::BranchRequest> sent_;  // guarded by mu_
  int flushes_ = 0;                        // guarded by mu_
  bool connected_ = true;                  // guarded by mu_
  Status send_error_;                      // guarded by mu_
};

}  // namespace txc::testing
