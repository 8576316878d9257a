// RateLimiter: a token bucket per client (its address), so one client in a loop cannot starve
// the others or fill the log. Each client may make `burst` requests at once and `per_second` on
// average.
//
// Memory is bounded: at most `max_clients` buckets, plus one shared by the clients beyond them.
// When a new client finds the table full, the buckets that have refilled (idle clients) are
// forgotten; that scan of the table runs at most once per `sweep_every`, so a flood of new
// addresses costs a lookup each, not a scan each. Until the next sweep, newcomers share the
// overflow bucket.
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

  RateLimiter(double per_second, double burst, size_t max_clients = 10000,
              std::chrono::milliseconds sweep_every = std::chrono::seconds(1));

  // Takes one token of `client`'s bucket: nullopt if allowed, else how long until one is back.
  std::optional<std::chrono::milliseconds> Take(const std::string& client, Time now);

  // Buckets held, the overflow bucket included (at most max_clients + 1).
  size_t buckets() const;

 private:
  struct Bucket {
    double tokens;
    Time refilled;
  };
  void Refill(Bucket& b, Time now) const;
  // Forgets idle buckets, unless the last sweep was less than sweep_every ago. Caller holds mu_.
  void MaybeEvictIdle(Time now);

  const double per_second_;
  const double burst_;
  const size_t max_clients_;
  const std::chrono::milliseconds sweep_every_;
  mutable std::mutex mu_;
  std::unordered_map<std::string, Bucket> buckets_;  // guarded by mu_
  std::optional<Time> last_sweep_;                   // guarded by mu_
};

}  // namespace txc::api
