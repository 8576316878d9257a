// RateLimiter: a token bucket per client (its address), so one client in a loop cannot starve
// the others or fill the log. Each client may make `burst` requests at once and `per_second` on
// average. At most `max_clients` buckets are kept: when more clients come, buckets that have
// refilled (idle clients) are forgotten first; if none has, the newcomers share one bucket.
//
// Thread-safe. Time is passed in, so tests drive it without a clock.
#pragma once

#include <chrono>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>

namespace txc::api {

class RateLimiter {
 public:
  using Time = std::chrono::steady_clock::time_point;

  RateLimiter(double per_second, double burst, size_t max_clients = 10000);

  // Takes one token of `client`'s bucket: nullopt if allowed, else how long until one is back.
  std::optional<std::chrono::milliseconds> Take(const std::string& client, Time now);

 private:
  struct Bucket {
    double tokens;
    Time refilled;
  };
  void Refill(Bucket& b, Time now) const;
  void EvictIdle(Time now);  // caller holds mu_

  const double per_second_;
  const double burst_;
  const size_t max_clients_;
  std::mutex mu_;
  std::unordered_map<std::string, Bucket> buckets_;  // guarded by mu_
};

}  // namespace txc::api
