#include <gtest/gtest.h>

#include <cstdio>
#include <ctime>
#include <random>

#include "core/transaction.h"

namespace txc::core {
namespace {

// gmtime_r and snprintf, as ToIso8601 did before its own calendar arithmetic, but with floor
// division: the old code printed 1969-12-31T23:59:59.-01Z for a millisecond before 1970.
std::string ViaGmtime(int64_t ms) {
  const auto secs = static_cast<std::time_t>(ms >= 0 ? ms / 1000 : (ms - 999) / 1000);
  const int millis = static_cast<int>(ms - int64_t{secs} * 1000);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[64];
  std::snprintf(buf, sizeof(buf), "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, millis);
  return buf;
}

TEST(Iso8601, KnownInstants) {
  EXPECT_EQ(ToIso8601(FromMillis(0)), "1970-01-01T00:00:00.000Z");
  EXPECT_EQ(ToIso8601(FromMillis(1795517890628)), "2026-11-24T10:58:10.628Z");
  EXPECT_EQ(ToIso8601(FromMillis(951782400000)), "2000-02-29T00:00:00.000Z");
  EXPECT_EQ(ToIso8601(FromMillis(-1)), "1969-12-31T23:59:59.999Z");
  EXPECT_EQ(ToIso8601(FromMillis(253402300799999)), "9999-12-31T23:59:59.999Z");
}

// Beyond four-digit years (and chrono::year's ±32767) the C library's calendar takes over.
TEST(Iso8601, YearsBeyondFourDigits) {
  EXPECT_EQ(ToIso8601(FromMillis(253402300800000)), "10000-01-01T00:00:00.000Z");
  for (const int64_t t :
       {int64_t{253402300800000}, int64_t{-62167219200001}, int64_t{-62198755200000},
        int64_t{1'199'999'999'999'999}, int64_t{-1'000'000'000'000'000}}) {
    EXPECT_EQ(ToIso8601(FromMillis(t)), ViaGmtime(t)) << t;
  }
}

TEST(Iso8601, AgreesWithGmtimeAcrossCenturies) {
  std::mt19937_64 rng(20261124);
  // 1900 to 2400: leap years, century rules, every month and time of day.
  std::uniform_int_distribution<int64_t> ms(-2208988800000, 13569465600000);
  for (int i = 0; i < 100000; ++i) {
    const int64_t t = ms(rng);
    ASSERT_EQ(ToIso8601(FromMillis(t)), ViaGmtime(t)) << t;
  }
}

}  // namespace
}  // namespace txc::core
