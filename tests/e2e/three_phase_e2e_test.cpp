// 3PC end to end, including the case 3PC exists for: the coordinator dies after pre_commit
// reached only one of two participants. The participants finish it among themselves (Skeen's
// termination protocol) with one outcome, and the restarted coordinator agrees with it.
#include "e2e_fixture.h"

namespace txc::testing {
namespace {

json ThreePhase(json branches) {
  return {{"protocol", "3pc"}, {"timeout_ms", 5000}, {"branches", std::move(branches)}};
}

TEST_F(E2eTest, ThreePhaseCommitsAndAborts) {
  StartParticipant("order");
  StartParticipant("inventory");
  StartCoordinator();
  const json ok = Post(ThreePhase({Branch("order"), Branch("inventory")}));
  ASSERT_EQ(ok["_status"], 201) << ok.dump();
  EXPECT_EQ(ok["state"], "committed");
  const std::string id = ok["id"];
  const json committed = Get(id);
  ASSERT_EQ(committed["branches"].size(), 2u) << committed.dump();
  for (const json& b : committed["branches"]) {
    ASSERT_EQ(b["history"].size(), 3u) << b.dump();
    EXPECT_EQ(b["history"][0]["op"], "can_commit");
    EXPECT_EQ(b["history"][1]["op"], "pre_commit");
    EXPECT_EQ(b["history"][2]["op"], "do_commit");
  }
  EXPECT_EQ(BranchState("order", id, 0), "committed");
  EXPECT_EQ(BranchState("inventory", id, 1), "committed");

  const json no = Post(ThreePhase({Branch("order"), Branch("inventory", {{"refuse", true}})}));
  ASSERT_EQ(no["_status"], 201);
  EXPECT_EQ(no["state"], "aborted");
  EXPECT_EQ(BranchState("order", no["id"], 0), "aborted");
  EXPECT_EQ(BranchState("inventory", no["id"], 1), "aborted");
}

TEST_F(E2eTest, CoordinatorKilledAfterPreCommitReachedOneParticipantBothCommit) {
  StartParticipant("order");
  StartParticipant("inventory");
  StartCoordinator({"TXC_CRASH_AT=after_send:pre_commit"});
  // The 201 may or may not leave before the crash (the creation record shares the pre-commit
  // decision's commit); the participants' records name the transaction either way.
  Post(ThreePhase({Branch("order"), Branch("inventory")}), /*wait=*/false);
  ExpectCoordinatorCrash();
  std::string id;
  ASSERT_TRUE(
      WaitFor([&] { return !(id = Query("order", "SELECT gid FROM txc_branches")).empty(); }));

  // Only branch 0 got pre_commit; nobody sends anything more. The participants must agree.
  ASSERT_TRUE(WaitFor([&] {
    return BranchState("order", id, 0) == "committed" &&
           BranchState("inventory", id, 1) == "committed";
  })) << BranchState("order", id, 0)
      << " / " << BranchState("inventory", id, 1);
  EXPECT_EQ(Effects("inventory", id, "pre_commit"), 1);  // brought to pre-committed by its peer

  StartCoordinator();  // recovers in precommitting, re-sends pre_commit, hears ok, commits
  EXPECT_EQ(WaitForState(id, "committed")["state"], "committed");
  EXPECT_EQ(Effects("order", id, "do_commit"), 1);
  EXPECT_EQ(Effects("inventory", id, "do_commit"), 1);
}

TEST_F(E2eTest, CoordinatorKilledBeforeAnyVoteWasCountedBothAbort) {
  StartParticipant("order");
  StartParticipant("inventory");
  StartCoordinator({"TXC_CRASH_AT=after_send:can_commit@2"});
  // The coordinator dies while sending can_commit, before it answered the client (and, as the
  // can_commits need not wait for it, possibly before its record of the transaction was on disk).
  const json body = ThreePhase({Branch("order"), Branch("inventory")});
  const json lost = Post(body, /*wait=*/false, "order-7");
  EXPECT_EQ(lost["_status"], 0) << lost.dump();
  ExpectCoordinatorCrash();

  // Both voted yes and are uncertain; every peer answers "uncertain": nobody can have
  // committed, so they abort.
  std::string gid;  // the can_commit may still be on its way when the coordinator dies
  ASSERT_TRUE(
      WaitFor([&] { return !(gid = Query("order", "SELECT gid FROM txc_branches")).empty(); }));
  ASSERT_TRUE(WaitFor([&] {
    return BranchState("order", gid, 0) == "aborted" &&
           BranchState("inventory", gid, 1) == "aborted";
  })) << BranchState("order", gid, 0)
      << " / " << BranchState("inventory", gid, 1);

  // The client's retry under the same key: if the restarted coordinator logged the first
  // attempt, it answers with it (aborted, which agrees with the participants); if it never
  // did, the retry starts the transaction afresh.
  StartCoordinator();
  const json retried = Post(body, /*wait=*/true, "order-7");
  if (retried["id"] == gid) {
    EXPECT_EQ(retried["_status"], 200) << retried.dump();
    EXPECT_EQ(retried["state"], "aborted");
  } else {
    EXPECT_EQ(retried["_status"], 201) << retried.dump();
    EXPECT_EQ(retried["state"], "committed");
    EXPECT_EQ(Get(gid)["state"], nullptr) << "the forgotten attempt is unknown";
  }
}

}  // namespace
}  // namespace txc::testing
