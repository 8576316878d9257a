// Graceful shutdown: SIGTERM while transactions are in every phase. The coordinator answers the
// client waiting for an outcome at once, stops taking requests, exits 0 with every decision it
// made on disk, and the next start finishes what was left: every transaction terminal, the same
// outcome at every participant, no effect twice.
#include <signal.h>
#include <sys/wait.h>

#include <future>
#include <thread>

#include "e2e_fixture.h"

namespace txc::testing {
namespace {

class ShutdownTest : public E2eTest {};

TEST_F(ShutdownTest, SigtermLetsInFlightWorkReachTheLogAndTheNextStartFinishesIt) {
  StartParticipant("order");
  StartParticipant("inventory");
  StartCoordinator();

  // Slow votes keep transactions in phase one; fast ones are deciding or committing.
  std::vector<std::string> ids;
  for (int i = 0; i < 30; ++i) {
    json body = {
        {"protocol", i % 3 == 2 ? "saga" : "2pc"},
        {"timeout_ms", 20000},
        {"branches", {Branch("order"), Branch("inventory", {{"sleep_ms", i % 2 == 0 ? 150 : 0}})}}};
    json begun = Post(body, /*wait=*/false);
    ASSERT_EQ(begun["_status"], 201) << begun.dump();
    ids.push_back(begun["id"]);
  }
  // A client waiting for the outcome of one more, slow, transaction.
  auto waiting = std::async(std::launch::async, [&] {
    return Post({{"protocol", "2pc"},
                 {"timeout_ms", 20000},
                 {"branches", {Branch("order"), Branch("inventory", {{"sleep_ms", 3000}})}}});
  });
  // Its transaction is logged (the list reads the log) before it waits for the outcome.
  ASSERT_TRUE(WaitFor([&] {
    auto res = Client().Get("/v1/transactions?limit=100");
    return res && res->status == 200 &&
           json::parse(res->body, nullptr, false)["items"].size() == ids.size() + 1;
  }));

  const auto signalled = std::chrono::steady_clock::now();
  coordinator_->Signal(SIGTERM);
  // Once it says it is stopping (the signal is handled asynchronously: a request racing it may
  // still start), a new transaction is refused (503) or not connected, never started.
  ASSERT_TRUE(WaitFor([&] {
    return ReadFile(Path("coordinator.log")).find("coordinator.stopping") != std::string::npos;
  }));
  const json late = Post({{"protocol", "2pc"}, {"branches", {Branch("order")}}}, /*wait=*/false);
  EXPECT_NE(late["_status"], 201) << "a transaction was started after SIGTERM: " << late.dump();
  const std::optional<int> status = coordinator_->Wait(std::chrono::seconds(15));
  ASSERT_TRUE(status.has_value()) << "the coordinator did not stop";
  EXPECT_TRUE(WIFEXITED(*status) && WEXITSTATUS(*status) == 0) << *status;
  EXPECT_LT(std::chrono::steady_clock::now() - signalled, std::chrono::seconds(5))
      << "a waiting client or a slow participant held the exit";
  const json answered = waiting.get();
  ASSERT_EQ(answered["_status"], 201) << "answered with the state at shutdown: " << answered.dump();
  EXPECT_FALSE(answered.value("terminal", true)) << answered.dump();
  const std::string log = ReadFile(Path("coordinator.log"));
  EXPECT_NE(log.find("coordinator.stopping"), std::string::npos);
  EXPECT_NE(log.find("coordinator.stopped"), std::string::npos) << log;
  ids.push_back(answered["id"]);

  StartCoordinator();
  for (const std::string& id : ids) {
    const json tx = WaitForTerminal(id);
    ASSERT_TRUE(tx.value("terminal", false)) << id << " " << tx.dump();
    const std::string state = tx["state"];
    for (int branch = 0; branch < 2; ++branch) {
      const std::string participant = branch == 0 ? "order" : "inventory";
      if (state == "committed") {
        EXPECT_EQ(Effects(participant, id, "commit"), 1) << id;
      } else if (state == "completed") {
        EXPECT_EQ(Effects(participant, id, "action"), 1) << id;
      } else {
        EXPECT_EQ(Effects(participant, id, "commit"), 0) << id;
        EXPECT_LE(Effects(participant, id, "compensate"), 1) << id;
      }
    }
  }
}

}  // namespace
}  // namespace txc::testing
