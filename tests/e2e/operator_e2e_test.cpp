// Operator actions against a real coordinator: a commit that keeps failing exhausts its retry
// budget and flags the transaction (API, list filter, metrics) while it is still retried; "retry"
// re-sends it at once despite a long back-off; "abort" ends a transaction stuck before its
// decision and is refused once a commit decision exists.
#include "e2e_fixture.h"

namespace txc::testing {
namespace {

class OperatorTest : public E2eTest {
 protected:
  json Action(const std::string& id, const std::string& action, const std::string& body = "") {
    auto res = Client().Post("/v1/transactions/" + id + "/" + action, body, "application/json");
    if (!res) return {{"_status", 0}};
    json out = json::parse(res->body, nullptr, false);
    if (!out.is_object()) out = json::object();
    out["_status"] = res->status;
    return out;
  }

  // The value of an unlabelled metric, or -1 if it is not exported.
  double Metric(const std::string& name) {
    auto res = Client().Get("/metrics");
    if (!res) return -1;
    std::istringstream lines(res->body);
    for (std::string line; std::getline(lines, line);) {
      if (line.rfind(name + " ", 0) == 0) return std::stod(line.substr(name.size() + 1));
    }
    return -1;
  }

  std::vector<std::string> FlaggedIds() {
    auto res = Client().Get("/v1/transactions?needs_attention=true");
    std::vector<std::string> ids;
    if (!res || res->status != 200) return ids;
    const json page = json::parse(res->body, nullptr, false);
    if (!page.is_object()) return ids;
    for (const json& tx : page["items"]) ids.push_back(tx["id"]);
    return ids;
  }

  // The transaction's events as "kind", "kind:state", "kind:operator's reason" or "kind#branch".
  std::vector<std::string> Events(const std::string& id) {
    std::vector<std::string> out;
    const json tx = Get(id);  // kept alive for the loop (a temporary's member would dangle)
    for (const json& e : tx["events"]) {
      std::string s = e["kind"];
      if (e.contains("state")) {
        s += ":" + e["state"].get<std::string>();
      } else if (e.contains("reason")) {
        s += ":" + e["reason"].get<std::string>();
      }
      if (e.contains("branch")) s += "#" + std::to_string(e["branch"].get<int>());
      out.push_back(s);
    }
    return out;
  }
};

TEST_F(OperatorTest, ACommitPastItsRetryBudgetIsFlaggedAndRetryNowResendsIt) {
  StartParticipant("order");
  StartParticipant("inventory");
  // A back-off far longer than the test waits: only the operator's retry can re-send in time.
  StartCoordinator({}, {}, {"--backoff-base-ms", "60000", "--backoff-cap-ms", "60000"});
  json begun =
      Post({{"protocol", "2pc"},
            {"retry_budget", {{"max_attempts", 1}}},
            {"branches", {Branch("order"), Branch("inventory", {{"fail_until_attempt", 3}})}}},
           /*wait=*/false);
  ASSERT_EQ(begun["_status"], 201) << begun.dump();
  EXPECT_EQ(begun["retry_budget"]["max_attempts"], 1);
  const std::string id = begun["id"];

  json tx;
  ASSERT_TRUE(WaitFor([&] {
    tx = Get(id);
    return tx.value("needs_attention", false);
  })) << tx.dump();
  EXPECT_EQ(tx["state"], "committing");
  EXPECT_TRUE(tx["branches"][1]["needs_attention"]);
  EXPECT_FALSE(tx["branches"][0]["needs_attention"]);
  EXPECT_NE(tx["branches"][1]["last_error"].get<std::string>().find("failing on purpose"),
            std::string::npos);
  // The list reads the log, where the flag lands with the next group commit.
  EXPECT_TRUE(WaitFor([&] { return FlaggedIds() == std::vector<std::string>{id}; }));
  EXPECT_EQ(Metric("txc_transactions_needing_attention"), 1);
  EXPECT_EQ(Effects("inventory", id, "commit"), 0);

  // Attempt 2 fails too (still flagged); attempt 3 succeeds and clears the flag.
  json retried = Action(id, "retry");
  ASSERT_EQ(retried["_status"], 200) << retried.dump();
  ASSERT_TRUE(WaitFor([&] { return Get(id)["branches"][1].value("attempts", 0) >= 3; }))
      << Get(id).dump();  // prepare, then commit #2
  ASSERT_TRUE(WaitFor([&] {
    const json b = Get(id)["branches"][1];
    return !b["history"].empty() && b["history"].back().value("attempt", 0) == 2;
  })) << Get(id).dump();
  EXPECT_TRUE(Get(id)["needs_attention"]);
  ASSERT_EQ(Action(id, "retry")["_status"], 200);
  tx = WaitForState(id, "committed", std::chrono::seconds(10));
  ASSERT_EQ(tx["state"], "committed") << tx.dump();
  EXPECT_FALSE(tx["needs_attention"]);
  EXPECT_FALSE(tx["branches"][1]["needs_attention"]);
  EXPECT_EQ(Effects("inventory", id, "commit"), 1);
  EXPECT_TRUE(WaitFor([&] { return FlaggedIds().empty(); }));
  EXPECT_EQ(Metric("txc_transactions_needing_attention"), 0);
  // The story, as the transaction's events tell it.
  EXPECT_EQ(Events(id), (std::vector<std::string>{
                            "created", "state:committing", "needs_attention#1", "operator_retry",
                            "operator_retry", "state:committed", "attention_cleared#1"}));

  json again = Action(id, "retry");
  EXPECT_EQ(again["_status"], 409) << again.dump();
  EXPECT_EQ(again["error"]["code"], "failed_precondition");
}

TEST_F(OperatorTest, AbortEndsATransactionStuckBeforeItsDecisionAndNotOneAfter) {
  StartParticipant("order");
  StartParticipant("inventory");
  StartCoordinator();
  // inventory takes 2 s to vote; the transaction would wait up to a minute for it.
  json begun = Post({{"protocol", "2pc"},
                     {"timeout_ms", 60000},
                     {"branches", {Branch("order"), Branch("inventory", {{"sleep_ms", 2000}})}}},
                    /*wait=*/false);
  ASSERT_EQ(begun["_status"], 201) << begun.dump();
  const std::string id = begun["id"];
  json aborted = Action(id, "abort", R"({"reason":"customer gave up"})");
  ASSERT_EQ(aborted["_status"], 200) << aborted.dump();
  EXPECT_TRUE(aborted["state"] == "aborting" || aborted["state"] == "aborted") << aborted.dump();
  EXPECT_EQ(aborted["reason"], "aborted by operator: customer gave up");
  json tx = WaitForState(id, "aborted");
  ASSERT_EQ(tx["state"], "aborted") << tx.dump();
  EXPECT_EQ(BranchState("order", id, 0), "aborted");
  EXPECT_TRUE(WaitFor([&] { return BranchState("inventory", id, 1) == "aborted"; }))
      << BranchState("inventory", id, 1);
  EXPECT_EQ(Effects("order", id, "commit"), 0);
  EXPECT_EQ(Action(id, "abort")["_status"], 200) << "aborting an aborted one changes nothing";
  EXPECT_EQ(Events(id), (std::vector<std::string>{"created", "operator_abort:customer gave up",
                                                  "state:aborting", "state:aborted"}));
  const json events = Get(id)["events"];
  EXPECT_EQ(events[2].value("reason", ""), "aborted by operator: customer gave up");
  EXPECT_FALSE(events[3].contains("reason")) << "the end does not repeat the decision's reason";

  json committed = Post({{"protocol", "2pc"}, {"branches", {Branch("order")}}});
  ASSERT_EQ(committed["state"], "committed");
  json refused = Action(committed["id"], "abort");
  EXPECT_EQ(refused["_status"], 409) << refused.dump();
  EXPECT_EQ(refused["error"]["code"], "failed_precondition");
  EXPECT_EQ(Get(committed["id"])["state"], "committed");
  EXPECT_EQ(Action("no-such-tx", "abort")["_status"], 404);
}

}  // namespace
}  // namespace txc::testing
