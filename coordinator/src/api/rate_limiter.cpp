#include "api/rate_limiter.h"

#include <algorithm>
#include <cmath>

namespace txc::api {
namespace {

// The bucket shared by clients beyond max_clients.
const std::string kOverflow;

}  // namespace

RateLimiter::RateLimiter(double per_second, double burst, size_t max_clients,
                         std::chrono::milliseconds sweep_every)
    : per_second_(per_second),
      burst_(std::max(1.0, burst)),
      max_clients_(max_clients),
      sweep_every_(sweep_every) {}

void RateLimiter::Refill(Bucket& b, Time now) const {
  const double elapsed = std::chrono::duration<double>(now - b.refilled).count();
  if (elapsed <= 0) return;
  b.tokens = std::min(burst_, b.tokens + elapsed * per_second_);
  b.refilled = now;
}

void RateLimiter::MaybeEvictIdle(Time now) {
  // A scan is O(max_clients) under the lock: while the table stays full of busy clients, doing
  // it for every newcomer would make each request from a flood of addresses pay for all of them.
  if (last_sweep_ && now - *last_sweep_ < sweep_every_) return;
  last_sweep_ = now;
  for (auto it = buckets_.begin(); it != buckets_.end();) {
    Refill(it->second, now);
    it = it->second.tokens >= burst_ ? buckets_.erase(it) : std::next(it);
  }
}

std::optional<std::chrono::milliseconds> RateLimiter::Take(const std::string& client, Time now) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = buckets_.find(client);
  if (it == buckets_.end()) {
    if (buckets_.size() >= max_clients_) MaybeEvictIdle(now);
    const std::string& key = buckets_.size() >= max_clients_ ? kOverflow : client;
    it = buckets_.try_emplace(key, Bucket{burst_, now}).first;
  }
  Bucket& b = it->second;
  Refill(b, now);
  if (b.tokens >= 1) {
    b.tokens -= 1;
    return std::nullopt;
  }
  const double wait_s = (1 - b.tokens) / per_second_;
  return std::chrono::milliseconds(static_cast<int64_t>(std::ceil(wait_s * 1000)));
}

size_t RateLimiter::buckets() const {
  std::lock_guard<std::mutex> lock(mu_);
  return buckets_.size();
}

}  // namespace txc::api
