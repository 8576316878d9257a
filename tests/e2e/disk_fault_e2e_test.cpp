// A log that cannot sync: a preloaded library (sync_fault_preload.c) makes every fsync/fdatasync
// of the running coordinator fail once the test creates a flag file. What SQLite could not make
// durable must never be acted on: no commit goes out, the client gets no "committed", the
// coordinator reports unready and refuses new work. A restart on a healthy disk settles what was in
// flight, the same way at every participant.
#include <fstream>

#include "e2e_fixture.h"

namespace txc::testing {
namespace {

json TwoPhase(json branches) {
  return {{"protocol", "2pc"}, {"timeout_ms", 5000}, {"branches", std::move(branches)}};
}

TEST_F(E2eTest, AFailedLogSyncIsNeverTakenForDurable) {
#if defined(__SANITIZE_ADDRESS__)
  // A library preloaded ahead of the ASan runtime stops its start-up; the plain build runs this.
  GTEST_SKIP() << "nothing can be preloaded into a sanitizer build";
#endif
  StartParticipant("order");
  StartParticipant("inventory");
  const std::string flag = dir_ + "/fail-sync";
  StartCoordinator(
      {}, {"env", std::string("LD_PRELOAD=") + TXC_SYNC_FAULT_LIB, "TXC_SYNC_FAULT_FLAG=" + flag});
  const json first = Post(TwoPhase({Branch("order"), Branch("inventory")}));
  ASSERT_EQ(first["_status"], 201) << first.dump();
  ASSERT_EQ(first["state"], "committed");

  ASSERT_TRUE(std::ofstream(flag).good()) << flag;  // from now on every sync fails
  const json second = Post(TwoPhase({Branch("order"), Branch("inventory")}));
  EXPECT_NE(second["_status"], 201) << second.dump();
  EXPECT_NE(second.value("state", ""), "committed") << second.dump();
  ASSERT_TRUE(WaitFor([&] {
    auto res = Client().Get("/readyz");
    return res && res->status == 503;
  })) << "the coordinator still reports ready over a log it cannot sync";
  const json third = Post(TwoPhase({Branch("order"), Branch("inventory")}));
  EXPECT_GE(third["_status"].get<int>(), 500) << third.dump();
  EXPECT_EQ(Query("order", "SELECT COUNT(*) FROM txc_branches WHERE state = 'committed'"), "1");
  EXPECT_EQ(Query("inventory", "SELECT COUNT(*) FROM txc_branches WHERE state = 'committed'"), "1");

  // A healthy disk again (kill -9 and a plain restart): whatever reached the participants ends
  // one way at both, and nothing stays in doubt.
  StartCoordinator();
  const std::string in_doubt =
      "SELECT COUNT(*) FROM txc_branches WHERE state IN ('prepared', 'precommitted')";
  EXPECT_TRUE(WaitFor([&] {
    return Query("order", in_doubt) == "0" && Query("inventory", in_doubt) == "0";
  })) << "branches left in doubt";
  const std::string outcomes =
      "SELECT group_concat(gid || ':' || state, ',') FROM "
      "(SELECT gid, state FROM txc_branches ORDER BY gid)";
  EXPECT_EQ(Query("order", outcomes), Query("inventory", outcomes));
  const json after = Post(TwoPhase({Branch("order"), Branch("inventory")}));
  EXPECT_EQ(after["state"], "committed") << after.dump();
}

}  // namespace
}  // namespace txc::testing
