#include "request_batcher.h"

#include <utility>
#include <vector>

#include "txc/crash_point.h"

namespace txc::sdk {

RequestBatcher::RequestBatcher(Dispatcher* dispatcher, ReplyFn reply, FlushFn flush,
                               size_t max_batch, size_t max_queued)
    : dispatcher_(dispatcher),
      reply_(std::move(reply)),
      flush_(std::move(flush)),
      max_batch_(max_batch),
      max_queued_(max_queued) {}

RequestBatcher::~RequestBatcher() { Stop(); }

void RequestBatcher::Start() {
  if (!thread_.joinable()) thread_ = std::thread([this] { Run(); });
}

RequestBatcher::Queued RequestBatcher::Submit(wire::BranchRequest request, std::string reply_to) {
  return Push({std::move(request), std::move(reply_to), nullptr});
}

RequestBatcher::Queued RequestBatcher::SubmitTask(std::function<void()> task) {
  return Push({{}, {}, std::move(task)});
}

RequestBatcher::Queued RequestBatcher::Push(Item item) {
  std::lock_guard lock(mu_);
  if (stopping_) return Queued::kStopped;
  if (queue_.size() >= max_queued_) return Queued::kFull;
  queue_.push_back(std::move(item));
  ready_.notify_one();
  return Queued::kYes;
}

void RequestBatcher::Stop() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  ready_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void RequestBatcher::Run() {
  std::vector<wire::BranchRequest> requests;
  std::vector<std::string> reply_to;
  while (true) {
    std::function<void()> task;
    {
      std::unique_lock lock(mu_);
      ready_.wait(lock, [this] { return !queue_.empty() || stopping_; });
      if (queue_.empty()) return;  // stopping, and everything queued was answered
      requests.clear();
      reply_to.clear();
      if (queue_.front().task) {
        task = std::move(queue_.front().task);
        queue_.pop_front();
      }
      while (!task && !queue_.empty() && !queue_.front().task && requests.size() < max_batch_) {
        requests.push_back(std::move(queue_.front().request));
        reply_to.push_back(std::move(queue_.front().reply_to));
        queue_.pop_front();
      }
    }
    if (task) {
      task();
      flush_();
      continue;
    }
    const std::vector<wire::BranchReply> replies = dispatcher_->HandleBatch(requests);
    CrashPoint("participant_after_commit");
    for (size_t i = 0; i < replies.size(); ++i) reply_(reply_to[i], wire::Encode(replies[i]));
    flush_();
  }
}

}  // namespace txc::sdk
