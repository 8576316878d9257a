// 2PC end to end: the coordinator binary, two participant processes with their own databases,
// REST calls; a committed and an aborted transaction observed through GET /v1/transactions/{id}
// and in each participant's database.
#include <nats/nats.h>

#include <algorithm>
#include <sstream>

#include "e2e_fixture.h"

namespace txc::testing {
namespace {

TEST_F(E2eTest, TwoPhaseCommitIsVisibleInTheApiAndAtEveryParticipant) {
  StartParticipant("order");
  StartParticipant("inventory");
  StartCoordinator();
  const json tx = Post({{"protocol", "2pc"},
                        {"timeout_ms", 5000},
                        {"branches", {Branch("order"), Branch("inventory")}}});
  ASSERT_EQ(tx["_status"], 201) << tx.dump();
  EXPECT_EQ(tx["state"], "committed");

  const json got = Get(tx["id"]);
  EXPECT_EQ(got["state"], "committed");
  EXPECT_EQ(got["protocol"], "2pc");
  ASSERT_EQ(got["branches"].size(), 2u);
  for (const json& b : got["branches"]) {
    EXPECT_EQ(b["state"], "committed");
    EXPECT_EQ(b["attempts"], 2);  // prepare, commit
    ASSERT_EQ(b["history"].size(), 2u) << b.dump();
    EXPECT_EQ(b["history"][0]["op"], "prepare");
    EXPECT_EQ(b["history"][0]["result"], "ok");
    EXPECT_EQ(b["history"][1]["op"], "commit");
  }
  const std::string id = tx["id"];
  EXPECT_EQ(BranchState("order", id, 0), "committed");
  EXPECT_EQ(BranchState("inventory", id, 1), "committed");
  EXPECT_EQ(Effects("order", id, "prepare"), 1);
  EXPECT_EQ(Effects("inventory", id, "commit"), 1);
}

TEST_F(E2eTest, TwoPhaseRefusalAbortsWithItsReasonAndReleasesTheYesVoter) {
  StartParticipant("order");
  StartParticipant("inventory");
  StartCoordinator();
  const json tx = Post({{"protocol", "2pc"},
                        {"branches", {Branch("order"), Branch("inventory", {{"refuse", true}})}}});
  ASSERT_EQ(tx["_status"], 201) << tx.dump();
  EXPECT_EQ(tx["state"], "aborted");
  const std::string id = tx["id"];
  const json got = Get(id);
  EXPECT_EQ(got["state"], "aborted");
  EXPECT_NE(got["reason"].get<std::string>().find("branch 1 (inventory) refused"),
            std::string::npos)
      << got["reason"];
  EXPECT_EQ(got["branches"][0]["state"], "aborted");
  EXPECT_EQ(got["branches"][1]["state"], "refused");
  EXPECT_EQ(BranchState("order", id, 0), "aborted");
  EXPECT_EQ(Effects("order", id, "abort"), 1);  // the yes voter released its hold
  EXPECT_EQ(BranchState("inventory", id, 1), "aborted");
  EXPECT_EQ(Effects("inventory", id, "prepare"), 0);  // the refusal left no effect
}

// The value of the sample `series` (name with its labels, as rendered) in a /metrics page; -1
// when absent.
double Sample(const std::string& page, const std::string& series) {
  std::istringstream lines(page);
  for (std::string line; std::getline(lines, line);) {
    if (line.rfind(series + " ", 0) == 0) return std::stod(line.substr(series.size() + 1));
  }
  return -1;
}

TEST_F(E2eTest, MetricsCountTransactionsByOutcomeAndPhase) {
  StartParticipant("order");
  StartParticipant("inventory");
  StartCoordinator();
  ASSERT_EQ(
      Post({{"protocol", "2pc"}, {"branches", {Branch("order"), Branch("inventory")}}})["state"],
      "committed");
  ASSERT_EQ(
      Post({{"protocol", "2pc"},
            {"branches", {Branch("order"), Branch("inventory", {{"refuse", true}})}}})["state"],
      "aborted");
  auto res = Client().Get("/metrics");
  ASSERT_TRUE(res);
  ASSERT_EQ(res->status, 200);
  EXPECT_EQ(res->get_header_value("Content-Type").rfind("text/plain; version=0.0.4", 0), 0u);
  const std::string& page = res->body;
  EXPECT_EQ(Sample(page, R"(txc_transactions_started_total{protocol="2pc"})"), 2) << page;
  EXPECT_EQ(Sample(page, R"(txc_transactions_finished_total{protocol="2pc",outcome="committed"})"),
            1);
  EXPECT_EQ(Sample(page, R"(txc_transactions_finished_total{protocol="2pc",outcome="aborted"})"),
            1);
  EXPECT_EQ(Sample(page, R"(txc_transaction_duration_seconds_count{protocol="2pc"})"), 2);
  EXPECT_EQ(Sample(page, "txc_transactions_in_flight"), 0);
  // Two prepares each; one commit pair and one abort (the refusing branch needs none).
  EXPECT_EQ(Sample(page, R"(txc_phase_reply_seconds_count{op="prepare"})"), 4);
  EXPECT_EQ(Sample(page, R"(txc_phase_reply_seconds_count{op="commit"})"), 2);
  EXPECT_EQ(Sample(page, R"(txc_phase_reply_seconds_count{op="abort"})"), 1);
  EXPECT_GE(Sample(page, "txc_log_commit_seconds_count"), 2);
  EXPECT_EQ(Sample(page, "txc_nats_connected"), 1);
  EXPECT_EQ(Sample(page, "txc_log_healthy"), 1);
  EXPECT_EQ(Sample(page, "txc_nats_reconnects_total"), 0);
}

TEST_F(E2eTest, TheCoordinatorLogsJsonLinesThatNameTheirTransaction) {
  StartParticipant("order");
  StartParticipant("inventory");
  StartCoordinator({"TXC_LOG_LEVEL=debug"});
  const json tx = Post({{"protocol", "2pc"},
                        {"branches", {Branch("order"), Branch("inventory", {{"refuse", true}})}}});
  ASSERT_EQ(tx["state"], "aborted") << tx.dump();
  const std::string id = tx["id"];
  std::vector<std::string> events;  // of this transaction, in order
  ASSERT_TRUE(WaitFor([&] {
    events.clear();
    std::istringstream lines(ReadFile(Path("coordinator.log")));
    for (std::string line; std::getline(lines, line);) {
      const json j = json::parse(line, nullptr, false);
      EXPECT_TRUE(j.is_object() && j.contains("ts") && j.contains("level") && j.contains("event"))
          << "not a JSON log line: " << line;
      if (j.is_object() && j.value("tx", "") == id) events.push_back(j["event"]);
    }
    return !events.empty() && events.back() == "tx.finished";
  })) << ReadFile(Path("coordinator.log"));
  EXPECT_EQ(events.front(), "tx.started");
  EXPECT_NE(std::find(events.begin(), events.end(), "tx.logged"), events.end())
      << "the abort decision";
}

TEST_F(E2eTest, TheTraceparentOfThePostTravelsInEveryMessageAndIsLogged) {
  StartParticipant("order");
  StartParticipant("inventory");
  StartCoordinator();
  // Listen beside inventory (not in its queue group) to see what the coordinator sends it.
  natsConnection* nc = nullptr;
  ASSERT_EQ(natsConnection_ConnectTo(&nc, nats_.url().c_str()), NATS_OK);
  natsSubscription* sub = nullptr;
  ASSERT_EQ(natsConnection_SubscribeSync(&sub, nc, "txc.participant.inventory.*"), NATS_OK);
  ASSERT_EQ(natsConnection_Flush(nc), NATS_OK);

  const std::string tp = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
  auto res = Client().Post(
      "/v1/transactions?wait=true", {{"traceparent", tp}},
      json{{"protocol", "2pc"}, {"branches", {Branch("order"), Branch("inventory")}}}.dump(),
      "application/json");
  ASSERT_TRUE(res);
  const json tx = json::parse(res->body);
  ASSERT_EQ(tx["state"], "committed") << res->body;
  for (const char* op : {"prepare", "commit"}) {
    natsMsg* msg = nullptr;
    ASSERT_EQ(natsSubscription_NextMsg(&msg, sub, 5000), NATS_OK) << op;
    const json request = json::parse(std::string(natsMsg_GetData(msg), natsMsg_GetDataLength(msg)));
    natsMsg_Destroy(msg);
    EXPECT_EQ(request["op"], op);
    EXPECT_EQ(request["traceparent"], tp) << request.dump();
  }
  natsSubscription_Destroy(sub);
  natsConnection_Destroy(nc);
  EXPECT_TRUE(WaitFor([&] {
    return ReadFile(Path("coordinator.log")).find("\"traceparent\":\"" + tp + "\"") !=
           std::string::npos;
  })) << ReadFile(Path("coordinator.log"));
}

// ?wait=decision answers once the commit decision is durable, while the commits are still being
// retried (inventory fails them until the 4th attempt, at least 350 ms of back-off away).
TEST_F(E2eTest, WaitDecisionAnswersAtTheDecisionBeforeTheCommitsAreAcknowledged) {
  StartParticipant("order");
  StartParticipant("inventory");
  StartCoordinator();
  const json slow = Branch("inventory", {{"fail_until_attempt", 4}});
  auto res = Client().Post("/v1/transactions?wait=decision",
                           json{{"protocol", "2pc"}, {"branches", {Branch("order"), slow}}}.dump(),
                           "application/json");
  ASSERT_TRUE(res);
  ASSERT_EQ(res->status, 201) << res->body;
  const json tx = json::parse(res->body);
  EXPECT_EQ(tx["state"], "committing") << res->body;
  EXPECT_EQ(WaitForState(tx["id"], "committed")["state"], "committed");
  EXPECT_EQ(BranchState("inventory", tx["id"], 1), "committed");
}

// The liveness check would refuse "nobody" up front (liveness_e2e_test.cpp); without it, the
// protocol's own answer is an abort as soon as NATS reports no responders.
TEST_F(E2eTest, ParticipantWithNoRespondersAbortsAtOnce) {
  StartParticipant("order");
  StartCoordinator({"TXC_REQUIRE_LIVE_PARTICIPANTS=false"});
  const json tx = Post({{"protocol", "2pc"}, {"branches", {Branch("order"), Branch("nobody")}}});
  ASSERT_EQ(tx["_status"], 201);
  EXPECT_EQ(tx["state"], "aborted");
  EXPECT_NE(tx["reason"].get<std::string>().find("no responders"), std::string::npos)
      << tx["reason"];
}

TEST_F(E2eTest, CommitDecidedBeforeACoordinatorCrashIsFinishedAfterRestart) {
  StartParticipant("order");
  StartParticipant("inventory");
  // Dies once the commit decision is durable, before any commit message leaves.
  StartCoordinator({"TXC_CRASH_AT=after_append"});
  const json body = {{"protocol", "2pc"}, {"branches", {Branch("order"), Branch("inventory")}}};
  // The creation record shares the decision's commit, so the 201 may or may not have left
  // before the crash; the client's retry under the same key finds the transaction either way.
  Post(body, /*wait=*/false, "order-9");
  ExpectCoordinatorCrash();
  StartCoordinator();
  const json tx = Post(body, /*wait=*/true, "order-9");
  ASSERT_EQ(tx["_status"], 200) << tx.dump();
  const std::string id = tx["id"];
  EXPECT_EQ(WaitForState(id, "committed")["state"], "committed");
  EXPECT_EQ(BranchState("order", id, 0), "committed");
  EXPECT_EQ(BranchState("inventory", id, 1), "committed");
}

// The participant dies after its yes vote is durable but before the vote leaves (DTM #453's
// shape). The coordinator re-sends the prepare; the restarted participant answers it from its
// record, without running the handler again, and the transaction commits.
TEST_F(E2eTest, ParticipantKilledBetweenRecordingItsVoteAndReplyingVotesOnce) {
  StartParticipant("order");
  StartParticipant("inventory", {}, {"TXC_CRASH_AT=participant_after_commit"});
  StartCoordinator();
  const json tx = Post({{"protocol", "2pc"},
                        {"timeout_ms", 10000},
                        {"branches", {Branch("order"), Branch("inventory")}}},
                       /*wait=*/false);
  ASSERT_EQ(tx["_status"], 201) << tx.dump();
  const std::string id = tx["id"];
  ExpectParticipantCrash("inventory");
  EXPECT_EQ(BranchState("inventory", id, 1), "prepared");
  StartParticipant("inventory");
  EXPECT_EQ(WaitForState(id, "committed")["state"], "committed");
  EXPECT_EQ(Effects("inventory", id, "prepare"), 1);
  EXPECT_EQ(Effects("inventory", id, "commit"), 1);
}

// The participant dies after applying the commit, before acknowledging it: the re-sent commit
// is acknowledged as done and not applied again.
TEST_F(E2eTest, ParticipantKilledAfterApplyingCommitAppliesItOnce) {
  StartParticipant("order");
  StartParticipant("inventory", {}, {"TXC_CRASH_AT=participant_after_commit@2"});
  StartCoordinator();
  const json tx = Post({{"protocol", "2pc"}, {"branches", {Branch("order"), Branch("inventory")}}},
                       /*wait=*/false);
  ASSERT_EQ(tx["_status"], 201) << tx.dump();
  const std::string id = tx["id"];
  ExpectParticipantCrash("inventory");
  EXPECT_EQ(BranchState("inventory", id, 1), "committed");
  StartParticipant("inventory");
  EXPECT_EQ(WaitForState(id, "committed")["state"], "committed");
  EXPECT_EQ(Effects("inventory", id, "commit"), 1);
  const json got = Get(id);
  EXPECT_GE(got["branches"][1]["attempts"].get<int>(), 3) << got.dump();  // the commit re-sent
}

TEST_F(E2eTest, IdempotencyKeyReturnsTheSameTransactionAcrossARestart) {
  StartParticipant("order");
  StartCoordinator();
  const json body = {{"protocol", "2pc"}, {"branches", {Branch("order")}}};
  const json first = Post(body, true, "key-1");
  ASSERT_EQ(first["_status"], 201);
  StartCoordinator();  // replaces the running one (killed)
  const json again = Post(body, true, "key-1");
  EXPECT_EQ(again["_status"], 200);
  EXPECT_EQ(again["id"], first["id"]);
  const json other =
      Post({{"protocol", "2pc"}, {"branches", {Branch("order", {{"x", 1}})}}}, true, "key-1");
  EXPECT_EQ(other["_status"], 422) << other.dump();
}

}  // namespace
}  // namespace txc::testing
