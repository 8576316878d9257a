// RequestBatcher: the participant's group commit. The thread that reads NATS only queues
// requests (and other work on the database) here; one applier thread takes everything queued (up to
// max_batch), has the Dispatcher apply it in one local transaction with one fsync, and only then
// sends the replies. Under load many requests share one commit; alone, a request waits for nobody.
//
// The queue is bounded: when it is full, Submit refuses (the request is dropped like a lost
// message, and the coordinator re-sends it) rather than stop the thread that reads NATS.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <mutex>
#include <string>
#include <thread>

#include "dispatcher.h"
#include "txc/wire.h"

namespace txc::sdk {

class RequestBatcher {
 public:
  // Queues `body` for the NATS subject `reply_to`; `flush` then writes a batch's replies at once.
  using ReplyFn = std::function<void(const std::string& reply_to, const std::string& body)>;
  using FlushFn = std::function<void()>;

  RequestBatcher(Dispatcher* dispatcher, ReplyFn reply, FlushFn flush, size_t max_batch = 256,
                 size_t max_queued = 65536);
  ~RequestBatcher();  // calls Stop()
  RequestBatcher(const RequestBatcher&) = delete;
  RequestBatcher& operator=(const RequestBatcher&) = delete;

  void Start();
  enum class Queued { kYes, kFull, kStopped };
  // Queues a request whose reply goes to `reply_to`; nothing is queued when the queue is full or
  // the batcher stopped. Never blocks.
  Queued Submit(wire::BranchRequest request, std::string reply_to);
  // Queues other work that needs the database (a peer's state query) to run on the applier's
  // thread, in order with the requests, followed by a flush: the reading thread must never wait
  // for the database lock, which a batch holds through its handlers and its fsync.
  Queued SubmitTask(std::function<void()> task);
  // Applies and answers everything already queued, then stops the applier. Idempotent.
  void Stop();

 private:
  struct Item {
    wire::BranchRequest request;
    std::string reply_to;
    std::function<void()> task;  // set: a task, not a request
  };
  Queued Push(Item item);
  void Run();

  Dispatcher* const dispatcher_;
  const ReplyFn reply_;
  const FlushFn flush_;
  const size_t max_batch_;
  const size_t max_queued_;

  std::mutex mu_;
  std::condition_variable ready_;  // items queued, or stopping
  std::deque<Item> queue_;         // guarded by mu_
  bool stopping_ = false;          // guarded by mu_
  std::thread thread_;
};

}  // namespace txc::sdk
