#include "api/rate_limiter.h"

#include <gtest/gtest.h>

namespace txc::api {
namespace {

using std::chrono::milliseconds;

const RateLimiter::Time kStart{};

TEST(RateLimiter, AllowsABurstThenTheRateAndSaysHowLongToWait) {
  RateLimiter limiter(/*per_second=*/10, /*burst=*/3);
  for (int i = 0; i < 3; ++i) EXPECT_FALSE(limiter.Take("a", kStart).has_value()) << i;
  auto wait = limiter.Take("a", kStart);
  ASSERT_TRUE(wait.has_value());
  EXPECT_EQ(*wait, milliseconds(100));  // one token per 100 ms
  EXPECT_TRUE(limiter.Take("a", kStart + milliseconds(50)).has_value());
  EXPECT_FALSE(limiter.Take("a", kStart + milliseconds(100)).has_value());
  // Idle long enough, the bucket is full again, never fuller.
  const auto later = kStart + std::chrono::seconds(60);
  for (int i = 0; i < 3; ++i) EXPECT_FALSE(limiter.Take("a", later).has_value()) << i;
  EXPECT_TRUE(limiter.Take("a", later).has_value());
}

TEST(RateLimiter, ClientsHaveBucketsOfTheirOwn) {
  RateLimiter limiter(1, 1);
  EXPECT_FALSE(limiter.Take("a", kStart).has_value());
  EXPECT_TRUE(limiter.Take("a", kStart).has_value());
  EXPECT_FALSE(limiter.Take("b", kStart).has_value());
}

TEST(RateLimiter, BeyondMaxClientsIdleBucketsGoFirstThenNewcomersShareOne) {
  RateLimiter limiter(1, 1, /*max_clients=*/2);
  EXPECT_FALSE(limiter.Take("a", kStart).has_value());
  EXPECT_FALSE(limiter.Take("b", kStart).has_value());
  // a and b are both empty: c and d must share the overflow bucket.
  EXPECT_FALSE(limiter.Take("c", kStart).has_value());
  EXPECT_TRUE(limiter.Take("d", kStart).has_value());
  EXPECT_TRUE(limiter.Take("a", kStart).has_value()) << "a keeps its own, empty, bucket";
  // Two seconds on, a and b have refilled and are forgotten: e gets a bucket of its own.
  const auto later = kStart + std::chrono::seconds(2);
  EXPECT_FALSE(limiter.Take("e", later).has_value());
  EXPECT_TRUE(limiter.Take("e", later).has_value());
}

}  // namespace
}  // namespace txc::api
