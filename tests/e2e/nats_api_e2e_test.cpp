// The coordinator's API over NATS as a process serves it (--nats-api): off unless asked for, the
// REST API's token, and a shutdown that answers the clients still waiting (docs/protocol.md,
// "Starting a transaction over NATS").
#include <nats/nats.h>
#include <signal.h>
#include <sys/wait.h>

#include <future>

#include "e2e_fixture.h"

namespace txc::testing {
namespace {

class NatsApiE2eTest : public E2eTest {
 protected:
  void SetUp() override {
    E2eTest::SetUp();
    ASSERT_EQ(natsConnection_ConnectTo(&client_, nats_.url().c_str()), NATS_OK);
  }
  void TearDown() override {
    natsConnection_Destroy(client_);
    E2eTest::TearDown();
  }

  // A request on txc.coordinator.begin: {"_status": Txc-Status or the NATS status, body...}.
  json Begin(const json& body, const std::vector<std::pair<std::string, std::string>>& headers,
             int64_t timeout_ms = 15000) {
    const std::string text = body.dump();
    natsMsg* request = nullptr;
    natsMsg_Create(&request, "txc.coordinator.begin", nullptr, text.data(),
                   static_cast<int>(text.size()));
    for (const auto& [k, v] : headers) natsMsgHeader_Set(request, k.c_str(), v.c_str());
    natsMsg* reply = nullptr;
    const natsStatus s = natsConnection_RequestMsg(&reply, client_, request, timeout_ms);
    natsMsg_Destroy(request);
    if (s == NATS_NO_RESPONDERS) return {{"_status", "no responders"}};
    if (s != NATS_OK) return {{"_status", natsStatus_GetText(s)}};
    json out = json::parse(
        std::string(natsMsg_GetData(reply), static_cast<size_t>(natsMsg_GetDataLength(reply))),
        nullptr, false);
    if (!out.is_object()) out = json::object();
    const char* status = nullptr;
    out["_status"] =
        natsMsgHeader_Get(reply, "Txc-Status", &status) == NATS_OK ? std::atoi(status) : 0;
    natsMsg_Destroy(reply);
    return out;
  }

  natsConnection* client_ = nullptr;
};

TEST_F(NatsApiE2eTest, OffUnlessAskedFor) {
  StartParticipant("order");
  StartCoordinator();
  const json body = {{"protocol", "2pc"}, {"branches", {Branch("order")}}};
  EXPECT_EQ(Begin(body, {}, 2000)["_status"], "no responders");
}

TEST_F(NatsApiE2eTest, TakesTheRestApisTokenAndDecidesLikeIt) {
  StartParticipant("order");
  StartParticipant("inventory");
  StartCoordinator({}, {}, {"--nats-api", "true", "--api-token", "t0ken"});
  const json body = {{"protocol", "saga"},
                     {"branches", {Branch("order"), Branch("inventory", {{"refuse", true}})}}};
  EXPECT_EQ(Begin(body, {{"Txc-Wait", "true"}})["_status"], 401);
  EXPECT_EQ(Begin(body, {{"Txc-Wait", "true"}, {"Authorization", "Bearer nope"}})["_status"], 401);
  const json done = Begin(body, {{"Txc-Wait", "true"}, {"Authorization", "Bearer t0ken"}});
  ASSERT_EQ(done["_status"], 201) << done.dump();
  EXPECT_EQ(done["state"], "compensated") << done.dump();
  const std::string id = done["id"];
  EXPECT_EQ(Effects("order", id, "action"), 1);
  EXPECT_EQ(Effects("order", id, "compensate"), 1);
  EXPECT_EQ(Effects("inventory", id, "action"), 0);
}

TEST_F(NatsApiE2eTest, SigtermAnswersAClientStillWaitingWithTheStateThen) {
  StartParticipant("order");
  StartParticipant("inventory");
  StartCoordinator({}, {}, {"--nats-api", "true"});
  auto waiting = std::async(std::launch::async, [&] {
    return Begin({{"protocol", "2pc"},
                  {"timeout_ms", 20000},
                  {"branches", {Branch("order"), Branch("inventory", {{"sleep_ms", 6000}})}}},
                 {{"Txc-Wait", "true"}});
  });
  // Its transaction is logged (the list reads the log) before it waits for the outcome.
  ASSERT_TRUE(WaitFor([&] {
    auto res = Client().Get("/v1/transactions?limit=10");
    return res && res->status == 200 && json::parse(res->body, nullptr, false)["items"].size() == 1;
  }));
  const auto signalled = std::chrono::steady_clock::now();
  coordinator_->Signal(SIGTERM);
  const json answered = waiting.get();
  EXPECT_LT(std::chrono::steady_clock::now() - signalled, std::chrono::seconds(5))
      << "the waiting client was held until the transaction ended";
  ASSERT_EQ(answered["_status"], 201) << answered.dump();
  EXPECT_FALSE(answered.value("terminal", true)) << "answered with the state at shutdown";
  const std::optional<int> status = coordinator_->Wait(std::chrono::seconds(15));
  ASSERT_TRUE(status.has_value()) << "the coordinator did not stop";
  EXPECT_TRUE(WIFEXITED(*status) && WEXITSTATUS(*status) == 0) << *status;
  // The next start finishes it (undecided at the stop: presumed abort), the same way everywhere.
  StartCoordinator({}, {}, {"--nats-api", "true"});
  const std::string id = answered["id"];
  const json tx = WaitForTerminal(id);
  ASSERT_TRUE(tx.value("terminal", false)) << tx.dump();
  const int commits = tx["state"] == "committed" ? 1 : 0;
  EXPECT_EQ(Effects("order", id, "commit"), commits) << tx.dump();
  EXPECT_EQ(Effects("inventory", id, "commit"), commits) << tx.dump();
}

}  // namespace
}  // namespace txc::testing
