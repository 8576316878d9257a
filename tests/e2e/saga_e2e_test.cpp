// Sagas end to end: success, a failure at the first, middle and last step (each compensating
// exactly what ran, in reverse order), concurrent steps with dependencies, and a late action
// that arrives after its compensation (null compensation, then a hanging action refused).
#include <nats/nats.h>

#include "e2e_fixture.h"

namespace txc::testing {
namespace {

json Saga(json steps, int timeout_ms = 5000) {
  return {{"protocol", "saga"}, {"timeout_ms", timeout_ms}, {"branches", std::move(steps)}};
}

class SagaE2eTest : public E2eTest {
 protected:
  void SetUp() override {
    E2eTest::SetUp();
    StartParticipant("order");
    StartParticipant("payment");
    StartParticipant("shipping");
    StartCoordinator();
  }
  // A three-step saga order -> payment -> shipping; `refuse` is the failing step or -1.
  json Run(int refuse) {
    json steps = json::array();
    const char* names[] = {"order", "payment", "shipping"};
    for (int i = 0; i < 3; ++i) {
      steps.push_back(Branch(names[i], i == refuse ? json{{"refuse", true}} : json::object()));
    }
    return Post(Saga(steps));
  }
};

TEST_F(SagaE2eTest, AllStepsDoneCompletes) {
  const json tx = Run(-1);
  ASSERT_EQ(tx["_status"], 201) << tx.dump();
  EXPECT_EQ(tx["state"], "completed");
  const std::string id = tx["id"];
  EXPECT_EQ(BranchState("order", id, 0), "done");
  EXPECT_EQ(BranchState("payment", id, 1), "done");
  EXPECT_EQ(BranchState("shipping", id, 2), "done");
}

TEST_F(SagaE2eTest, FailureAtTheFirstStepCompensatesNothing) {
  const json tx = Run(0);
  EXPECT_EQ(tx["state"], "compensated") << tx.dump();
  const std::string id = tx["id"];
  EXPECT_EQ(tx["branches"][0]["state"], "failed");
  EXPECT_EQ(tx["branches"][1]["state"], "skipped");
  EXPECT_EQ(tx["branches"][2]["state"], "skipped");
  EXPECT_EQ(Effects("order", id, "action"), 0);
  EXPECT_EQ(BranchState("payment", id, 1), "none");  // never asked
}

TEST_F(SagaE2eTest, FailureAtTheMiddleStepCompensatesTheFirst) {
  const json tx = Run(1);
  EXPECT_EQ(tx["state"], "compensated") << tx.dump();
  const std::string id = tx["id"];
  EXPECT_EQ(tx["branches"][0]["state"], "compensated");
  EXPECT_EQ(tx["branches"][1]["state"], "failed");
  EXPECT_EQ(tx["branches"][2]["state"], "skipped");
  EXPECT_EQ(Effects("order", id, "compensate"), 1);
  EXPECT_EQ(BranchState("order", id, 0), "compensated");
  EXPECT_EQ(BranchState("shipping", id, 2), "none");
}

TEST_F(SagaE2eTest, FailureAtTheLastStepCompensatesInReverseOrder) {
  const json tx = Run(2);
  EXPECT_EQ(tx["state"], "compensated") << tx.dump();
  const std::string id = tx["id"];
  EXPECT_EQ(Effects("order", id, "compensate"), 1);
  EXPECT_EQ(Effects("payment", id, "compensate"), 1);
  // Reverse order: payment's compensation was acknowledged before order's was sent.
  const json got = Get(id);
  auto compensated_at = [&](int step) {
    for (const json& a : got["branches"][step]["history"]) {
      if (a["op"] == "compensate" && a["result"] == "ok") return a["at"].get<std::string>();
    }
    return std::string("?");
  };
  EXPECT_LE(compensated_at(1), compensated_at(0));
}

TEST_F(SagaE2eTest, IndependentStepsRunConcurrentlyAndDependentsWait) {
  // Steps 0 and 1 are independent (each takes 300 ms); step 2 comes after both and refuses.
  json steps = {Branch("order", {{"sleep_ms", 300}}), Branch("payment", {{"sleep_ms", 300}}),
                Branch("shipping", {{"refuse", true}})};
  steps[1]["after"] = json::array();
  steps[2]["after"] = {0, 1};
  const json tx = Post(Saga(steps));
  ASSERT_EQ(tx["_status"], 201) << tx.dump();
  EXPECT_EQ(tx["state"], "compensated");
  const std::string id = tx["id"];
  const json got = Get(id);
  // Each action's reply latency is ~300 ms; run one after the other the saga's actions would
  // take 600 ms before step 2 could start. Concurrent, both end within one sleep of each other.
  auto action_ok_ms = [&](int step) -> int64_t {
    for (const json& a : got["branches"][step]["history"]) {
      if (a["op"] == "action" && a["result"] == "ok") return a["latency_us"].get<int64_t>() / 1000;
    }
    return -1;
  };
  EXPECT_GE(action_ok_ms(0), 250);
  EXPECT_GE(action_ok_ms(1), 250);
  EXPECT_LT(got["updated_at_ms"].get<int64_t>() - got["created_at_ms"].get<int64_t>(), 3000);
  EXPECT_EQ(Effects("order", id, "compensate"), 1);
  EXPECT_EQ(Effects("payment", id, "compensate"), 1);
  EXPECT_EQ(Effects("shipping", id, "action"), 0);
}

// A step's action is delayed in the network past the saga's deadline: the saga compensates, the
// compensation reaches the participant first (null compensation), and when the old action
// finally arrives it is refused and has no effect.
TEST_F(SagaE2eTest, LateActionAfterNullCompensationIsRefusedWithoutEffect) {
  KillParticipant("payment");
  // Stand in for the network: take payment's action and hold it.
  natsConnection* nc = nullptr;
  ASSERT_EQ(natsConnection_ConnectTo(&nc, nats_.url().c_str()), NATS_OK);
  natsSubscription* sub = nullptr;
  ASSERT_EQ(natsConnection_SubscribeSync(&sub, nc, "txc.participant.payment.action"), NATS_OK);
  ASSERT_EQ(natsConnection_Flush(nc), NATS_OK);

  json steps = {Branch("order"), Branch("payment")};
  const json tx = Post(Saga(steps, /*timeout_ms=*/1500), /*wait=*/false);
  ASSERT_EQ(tx["_status"], 201) << tx.dump();
  const std::string id = tx["id"];
  natsMsg* held = nullptr;
  ASSERT_EQ(natsSubscription_NextMsg(&held, sub, 10000), NATS_OK);
  const std::string action(natsMsg_GetData(held), natsMsg_GetDataLength(held));
  natsMsg_Destroy(held);
  natsSubscription_Unsubscribe(sub);
  natsSubscription_Destroy(sub);
  ASSERT_EQ(natsConnection_Flush(nc), NATS_OK);

  // Past the deadline the saga compensates; payment's compensation is retried until payment
  // is back.
  EXPECT_EQ(WaitForState(id, "compensating")["state"], "compensating");
  StartParticipant("payment");
  EXPECT_EQ(WaitForState(id, "compensated")["state"], "compensated");
  EXPECT_EQ(BranchState("payment", id, 1), "compensated");
  EXPECT_EQ(Effects("payment", id, "compensate"), 0);  // nothing ran: null compensation

  // The held action arrives at last.
  natsMsg* reply = nullptr;
  ASSERT_EQ(natsConnection_RequestString(&reply, nc, "txc.participant.payment.action",
                                         action.c_str(), 5000),
            NATS_OK);
  const json answer =
      json::parse(std::string(natsMsg_GetData(reply), natsMsg_GetDataLength(reply)));
  natsMsg_Destroy(reply);
  natsConnection_Destroy(nc);
  EXPECT_EQ(answer["outcome"], "refused") << answer.dump();
  EXPECT_EQ(Effects("payment", id, "action"), 0);
  EXPECT_EQ(BranchState("payment", id, 1), "compensated");
}

}  // namespace
}  // namespace txc::testing
