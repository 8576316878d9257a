// One reading of on/off settings for every process: the coordinator's flags and variables and
// the variables a service reads through the SDK (TXC_NATS_TLS is read by both).
#include "txc/bool_setting.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include "txc/nats_security.h"

namespace txc {
namespace {

TEST(ParseBoolSetting, AcceptsTrueFalseYesNoOneZeroInAnyCase) {
  for (const char* on : {"true", "TRUE", "True", "yes", "YES", "1"}) {
    auto r = ParseBoolSetting(on, "--x");
    ASSERT_TRUE(r.ok()) << on;
    EXPECT_TRUE(*r) << on;
  }
  for (const char* off : {"false", "FALSE", "no", "No", "0"}) {
    auto r = ParseBoolSetting(off, "--x");
    ASSERT_TRUE(r.ok()) << off;
    EXPECT_FALSE(*r) << off;
  }
}

TEST(ParseBoolSetting, RefusesAnythingElseNamingTheSetting) {
  for (const char* bad : {"", "maybe", "on", "off", "2", "y", "n", " true", "true "}) {
    auto r = ParseBoolSetting(bad, "--nats-tls");
    ASSERT_FALSE(r.ok()) << "'" << bad << "'";
    EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
    EXPECT_EQ(r.status().message(), std::string("--nats-tls must be true or false (or yes/no, "
                                                "1/0), got '") +
                                        bad + "'");
  }
}

// A service reads TXC_NATS_TLS as the coordinator does; a value it cannot read stops it at
// Validate() (Participant::Create) instead of connecting without TLS.
TEST(NatsSecurityFromEnvironment, ReadsTxcNatsTlsLikeTheCoordinator) {
  ASSERT_EQ(setenv("TXC_NATS_TLS", "yes", 1), 0);
  NatsSecurity on = NatsSecurity::FromEnvironment();
  EXPECT_TRUE(on.tls);
  EXPECT_TRUE(on.Validate().ok());
  ASSERT_EQ(setenv("TXC_NATS_TLS", "0", 1), 0);
  EXPECT_FALSE(NatsSecurity::FromEnvironment().tls);
  ASSERT_EQ(setenv("TXC_NATS_TLS", "maybe", 1), 0);
  Status bad = NatsSecurity::FromEnvironment().Validate();
  EXPECT_EQ(bad.code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(bad.message(), "TXC_NATS_TLS must be true or false (or yes/no, 1/0), got 'maybe'");
  ASSERT_EQ(unsetenv("TXC_NATS_TLS"), 0);
  NatsSecurity unset = NatsSecurity::FromEnvironment();
  EXPECT_FALSE(unset.tls);
  EXPECT_TRUE(unset.Validate().ok());
}

}  // namespace
}  // namespace txc
