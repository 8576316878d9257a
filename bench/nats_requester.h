// NatsRequester: the benchmark's client end of request/reply, for the baseline and for the load
// over the coordinator's NATS API: one connection in event-loop mode (nats_event_loop.h: the same
// explicit flushing as txc's own transport) and one subscription on a fresh inbox, "<inbox>.>",
// whose messages go to `on_reply` on its delivery thread.
#pragma once

#include <nats/nats.h>

#include <condition_variable>
#include <cstdint>
#include <cstdlib>
#include <mutex>
#include <string>

#include "nats_event_loop.h"

namespace txc::bench {

class NatsRequester {
 public:
  // Connects and subscribes (registered with the server when this returns); error() says why
  // not. `closure` is passed to `on_reply` and must outlive this.
  NatsRequester(const std::string& url, natsMsgHandler on_reply, void* closure);
  // Unsubscribes, waits until the last `on_reply` has returned (the subscription's completion),
  // and closes. Idempotent; the accessors below stay valid (a late `on_reply` may still use them
  // while this runs).
  void Close();
  ~NatsRequester() { Close(); }
  NatsRequester(const NatsRequester&) = delete;
  NatsRequester& operator=(const NatsRequester&) = delete;

  const std::string& error() const { return error_; }  // empty when connected
  natsConnection* nc() const { return nc_; }
  const std::string& inbox() const { return inbox_; }
  // The reply subject of request `generation` of in-flight slot `slot`, "<inbox>.<slot>.<gen>",
  // and the two back from a reply's subject.
  std::string ReplySubject(size_t slot, uint64_t generation) const {
    return inbox_ + "." + std::to_string(slot) + "." + std::to_string(generation);
  }
  void ParseReplySubject(const char* subject, size_t* slot, uint64_t* generation) const {
    char* rest = nullptr;
    *slot = std::strtoull(subject + inbox_.size() + 1, &rest, 10);
    *generation = std::strtoull(rest + 1, nullptr, 10);
  }
  // Writes what was published under a NatsEventLoop::DeferredFlush (loop()).
  void Flush() { loop_.Flush(nc_); }
  NatsEventLoop& loop() { return loop_; }

 private:
  static void OnComplete(void* closure);

  NatsEventLoop loop_;  // first: it must outlive the connection
  natsConnection* nc_ = nullptr;
  natsSubscription* sub_ = nullptr;
  std::string inbox_;
  std::string error_;
  std::mutex mu_;
  std::condition_variable completed_cv_;
  bool completed_ = false;  // guarded by mu_: the subscription's last callback has returned
};

}  // namespace txc::bench
