// Transport: how the coordinator reaches participants. The NATS implementation is the real one;
// tests use an in-memory one. Sends are buffered: nothing is guaranteed to leave before Flush().
#pragma once

#include <chrono>
#include <functional>
#include <string>

#include "core/transaction.h"
#include "txc/status.h"
#include "txc/wire.h"

namespace txc::transport {

// A reply (or a definitive delivery failure) for one request sent with Send().
struct InboundReply {
  std::string gid;
  int branch = 0;
  wire::Op op = wire::Op::kPrepare;
  int attempt = 1;
  core::AttemptResult result = core::AttemptResult::kOk;  // kNoResponders when nobody listens
  std::string message;
  int64_t latency_us = 0;
};

class Transport {
 public:
  struct Handlers {
    // Called on a transport thread for every reply; must not block for long.
    std::function<void(InboundReply)> on_reply;
    // Called on a transport thread for each status query from a participant; returns the answer.
    std::function<wire::StatusReply(const wire::StatusQuery&)> on_status_query;
  };

  virtual ~Transport() = default;
  // Must be called before the first Send.
  virtual void SetHandlers(Handlers handlers) = 0;
  // Queues a request to request.participant for request.op. A reply, if any, comes to on_reply.
  virtual Status Send(const wire::BranchRequest& request) = 0;
  // Pushes queued requests onto the wire without waiting.
  virtual Status Flush() = 0;
  // Pushes queued requests onto the wire and waits until the server has them (a round trip).
  // For shutdown and crash tests, never on the hot path.
  virtual Status FlushAndWait(std::chrono::milliseconds timeout) = 0;
  virtual bool Connected() const = 0;
};

}  // namespace txc::transport
