#include "liveness/admission.h"

#include <gtest/gtest.h>

#include "fake_clock.h"
#include "in_memory_tx_log.h"

namespace txc::liveness {
namespace {

using std::chrono::milliseconds;

struct AdmissionTest : ::testing::Test {
  AdmissionTest() {
    registry.ConnectionChanged(true);
    clock.Advance(milliseconds(3000));
    registry.Heard(wire::Heartbeat{"order", "order-1", 1000, false});
  }
  testing::FakeClock clock;
  ParticipantRegistry registry{clock};
  testing::InMemoryTxLog log;
};

TEST_F(AdmissionTest, AdmitsWhenEveryParticipantIsLive) {
  EXPECT_TRUE(AdmitTransaction(registry, log, {"order", "order"}, "").ok());
}

TEST_F(AdmissionTest, RefusesAParticipantWithoutALiveInstance) {
  Status s = AdmitTransaction(registry, log, {"order", "payments"}, "key-1");
  EXPECT_EQ(s.code(), StatusCode::kFailedPrecondition);
  EXPECT_EQ(s.message(), "participant \"payments\" has no live instance (no heartbeat within 3 s)");
}

// A retry of a transaction that was started must get that transaction, not "refused", which a
// client would read as "nothing happened" while it may commit.
TEST_F(AdmissionTest, AdmitsARetryWhoseIdempotencyKeyIsAlreadyLogged) {
  core::Transaction tx;
  tx.id = "tx-1";
  tx.idempotency_key = "key-1";
  core::Branch b;
  b.participant = "payments";
  tx.branches.push_back(b);
  Status appended = Status::Internal("not run");
  log.Append({core::TxCreated{tx}}, [&](Status s) { appended = s; });
  ASSERT_TRUE(appended.ok()) << appended.ToString();

  EXPECT_TRUE(AdmitTransaction(registry, log, {"payments"}, "key-1").ok());
  EXPECT_FALSE(AdmitTransaction(registry, log, {"payments"}, "key-2").ok());
  EXPECT_FALSE(AdmitTransaction(registry, log, {"payments"}, "").ok());
}

}  // namespace
}  // namespace txc::liveness
