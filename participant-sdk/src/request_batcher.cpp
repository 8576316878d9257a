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

bool RequestBatcher::Submit(wire::BranchRequest request, std::string reply_to) {
  std::lock_guard lock(mu_);
  if (queue_.size() >= max_queued_ || stopping_) return false;
  queue_.push_back({std::move(request), std::move(reply_to)});
  ready_.notify_one();
  return true;
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
    {
      std::unique_lock lock(mu_);
      ready_.wait(lock, [this] { return !queue_.empty() || stopping_; });
      if (queue_.empty()) return;  // stopping, and everything queued was answered
      requests.clear();
      reply_to.clear();
      while (!queue_.empty() && requests.size() < max_batch_) {
        requests.push_back(std::move(queue_.front().request));
        reply_to.push_back(std::move(queue_.front().reply_to));
        queue_.pop_front();
      }
    }
    const std::vector<wire::BranchReply> replies = dispatcher_->HandleBatch(requests);
    CrashPoint("participant_after_commit");
    for (size_t i = 0; i < replies.size(); ++i) reply_(reply_to[i], wire::Encode(replies[i]));
    flush_();
  }
}

}  // namespace txc::sdk
