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

// A table full of busy clients is scanned for idle ones at most once per sweep interval: until
// the next sweep a newcomer goes straight to the shared bucket, even if buckets have refilled.
TEST(RateLimiter, ScansForIdleBucketsAtMostOncePerSweepInterval) {
  RateLimiter limiter(/*per_second=*/1, /*burst=*/1, /*max_clients=*/2,
                      /*sweep_every=*/std::chrono::seconds(5));
  EXPECT_FALSE(limiter.Take("a", kStart).has_value());
  EXPECT_FALSE(limiter.Take("b", kStart).has_value());
  EXPECT_FALSE(limiter.Take("c", kStart).has_value()) << "swept (nothing idle): overflow";
  EXPECT_EQ(limiter.buckets(), 3u);
  // At 2 s a and b have refilled, but the last sweep was 2 s ago: d and e share the overflow.
  const auto t2 = kStart + std::chrono::seconds(2);
  EXPECT_FALSE(limiter.Take("d", t2).has_value());
  EXPECT_TRUE(limiter.Take("e", t2).has_value()) << "e shares d's bucket";
  EXPECT_EQ(limiter.buckets(), 3u);
  // At 5 s the next sweep forgets every idle bucket: f gets one of its own.
  const auto t5 = kStart + std::chrono::seconds(5);
  EXPECT_FALSE(limiter.Take("f", t5).has_value());
  EXPECT_EQ(limiter.buckets(), 1u) << "a, b and the overflow bucket were idle";
  EXPECT_TRUE(limiter.Take("f", t5).has_value());
  EXPECT_FALSE(limiter.Take("g", t5).has_value()) << "room again: a bucket of its own";
}

TEST(RateLimiter, AFloodOfAddressesKeepsAtMostMaxClientsPlusTheSharedBucket) {
  RateLimiter limiter(/*per_second=*/0.001, /*burst=*/1, /*max_clients=*/100);
  int refused = 0;
  for (int i = 0; i < 100000; ++i) {
    const auto now = kStart + std::chrono::milliseconds(i);  // 100 s: no bucket refills
    refused += limiter.Take("10.0." + std::to_string(i / 256) + "." + std::to_string(i % 256), now)
                   .has_value();
  }
  EXPECT_EQ(limiter.buckets(), 101u);
  EXPECT_EQ(refused, 100000 - 100 - 1) << "beyond the first 100, all share one bucket";
}

}  // namespace
}  // namespace txc::api
