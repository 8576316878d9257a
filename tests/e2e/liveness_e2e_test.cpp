// Participant liveness against the real binaries: SDK instances heartbeat, GET /v1/participants
// lists them, a transaction naming a participant with no live instance is refused before it is
// logged, and a graceful stop removes an instance at once while a crash takes one window.
#include <signal.h>

#include <chrono>

#include "e2e_fixture.h"

namespace txc::testing {
namespace {

class LivenessE2eTest : public E2eTest {
 protected:
  size_t TransactionCount() {
    auto res = Client().Get("/v1/transactions?limit=1000");
    if (!res || res->status != 200) return 0;
    return json::parse(res->body)["items"].size();
  }

  // Right after connecting to NATS the coordinator refuses nothing (it has heard nobody yet).
  // Posts `body` every 100 ms until it is refused; returns the refusal (or the last answer).
  json PostUntilRefused(const json& body) {
    json last;
    auto next = std::chrono::steady_clock::now();
    WaitFor([&] {
      if (std::chrono::steady_clock::now() < next) return false;  // pacing, not a sync
      next = std::chrono::steady_clock::now() + std::chrono::milliseconds(100);
      last = Post(body, /*wait=*/false);
      return last["_status"] == 409;
    });
    return last;
  }

  void StopGracefully(const std::string& key) {
    participants_.at(key)->Signal(SIGTERM);
    ASSERT_TRUE(participants_.at(key)->Wait(std::chrono::seconds(10)).has_value());
    ASSERT_NE(participants_.at(key)->Log().find("stopped"), std::string::npos);
  }
};

TEST_F(LivenessE2eTest, ListsLiveInstancesRefusesTheUnknownAndForgetsAGracefulStopAtOnce) {
  StartCoordinator();
  EXPECT_EQ(Participants(), json::parse(R"({"participants":[]})"));
  StartParticipant("order");
  const std::string id = InstanceId("order");
  ASSERT_EQ(id.rfind("order-", 0), 0u) << id;
  ASSERT_TRUE(WaitFor([&] { return !Participant("order").is_null(); }));
  const json order = Participant("order");
  EXPECT_EQ(order["live"], true) << order.dump();
  ASSERT_EQ(order["instances"].size(), 1u) << order.dump();
  const json& instance = order["instances"][0];
  EXPECT_EQ(instance["id"], id);
  EXPECT_EQ(instance["live"], true);
  EXPECT_EQ(instance["interval_ms"], 1000);
  EXPECT_LE(instance["age_ms"].get<int64_t>(), 3000);
  EXPECT_EQ(instance["last_seen"].get<std::string>().back(), 'Z');
  const auto metrics = Client().Get("/metrics");
  ASSERT_TRUE(metrics);
  EXPECT_NE(metrics->body.find("txc_participant_live_instances{participant=\"order\"} 1\n"),
            std::string::npos)
      << metrics->body;

  // Naming a participant nobody runs: refused with a clear reason, and nothing is logged.
  const json unknown = {{"protocol", "2pc"}, {"branches", {Branch("order"), Branch("payments")}}};
  json refused = PostUntilRefused(unknown);
  ASSERT_EQ(refused["_status"], 409) << refused.dump();
  EXPECT_EQ(refused["error"]["code"], "failed_precondition");
  EXPECT_EQ(refused["error"]["message"],
            "participant \"payments\" has no live instance (no heartbeat within 3 s)");
  const size_t logged = TransactionCount();
  EXPECT_EQ(Post(unknown, false)["_status"], 409);
  EXPECT_EQ(TransactionCount(), logged) << "a refused transaction is not logged";
  // The live one is admitted.
  EXPECT_EQ(Post({{"protocol", "2pc"}, {"branches", {Branch("order")}}})["state"], "committed");

  // A graceful stop says goodbye: gone well within the 3 s window, and refused from then on.
  StopGracefully("order");
  EXPECT_TRUE(WaitFor([&] { return Participant("order").is_null(); }, std::chrono::seconds(1)))
      << Participants().dump();
  json gone = Post({{"protocol", "2pc"}, {"branches", {Branch("order")}}}, false);
  EXPECT_EQ(gone["_status"], 409) << gone.dump();
  EXPECT_EQ(gone["error"]["message"],
            "participant \"order\" has no live instance (no heartbeat within 3 s)");
}

TEST_F(LivenessE2eTest, ACrashedInstanceStaysListedButIsNotLiveAfterItsWindow) {
  StartParticipant("order");
  StartCoordinator();
  ASSERT_TRUE(WaitFor([&] { return Participant("order")["live"] == true; }));
  const std::string id = InstanceId("order");
  KillParticipant("order");  // SIGKILL: no goodbye
  const auto killed = std::chrono::steady_clock::now();
  ASSERT_TRUE(WaitFor([&] { return Participant("order")["live"] == false; }));
  EXPECT_GE(std::chrono::steady_clock::now() - killed, std::chrono::seconds(1))
      << "live for up to 3 intervals after the last heartbeat";
  const json order = Participant("order");
  ASSERT_EQ(order["instances"].size(), 1u);
  EXPECT_EQ(order["instances"][0]["id"], id);
  EXPECT_EQ(order["instances"][0]["live"], false);
  EXPECT_GE(order["instances"][0]["age_ms"].get<int64_t>(), 3000);
  json refused = PostUntilRefused({{"protocol", "saga"}, {"branches", {Branch("order")}}});
  EXPECT_EQ(refused["_status"], 409) << refused.dump();

  // A new process is a new instance; the dead one stays listed until forgotten.
  StartParticipant("order");
  ASSERT_TRUE(WaitFor([&] { return Participant("order")["live"] == true; }));
  EXPECT_EQ(Participant("order")["instances"].size(), 2u);
  EXPECT_EQ(Post({{"protocol", "saga"}, {"branches", {Branch("order")}}})["state"], "completed");
}

// --require-live-participants=false: the coordinator still lists participants but admits
// everything; a dead participant's branch then fails the way the protocol says.
TEST_F(LivenessE2eTest, WithTheCheckOffADeadParticipantIsNotRefused) {
  StartParticipant("order");
  StartCoordinator({"TXC_REQUIRE_LIVE_PARTICIPANTS=false"});
  ASSERT_TRUE(WaitFor([&] { return Participant("order")["live"] == true; }));
  KillParticipant("order");
  ASSERT_TRUE(WaitFor([&] { return Participant("order")["live"] == false; }));
  // Past the grace period (the coordinator connected before order's first heartbeat, and
  // order has been silent for a whole window since).
  const json tx = Post({{"protocol", "2pc"}, {"branches", {Branch("order")}}});
  EXPECT_EQ(tx["_status"], 201) << tx.dump();
  EXPECT_EQ(tx["state"], "aborted");
}

}  // namespace
}  // namespace txc::testing
