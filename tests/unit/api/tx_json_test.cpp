// The REST body of a transaction is written as text (JsonText); it must read as the same JSON,
// in the same canonical form, that the nlohmann tree it replaced dumped.
#include "api/tx_json.h"

#include <gtest/gtest.h>

namespace txc::api {
namespace {

using nlohmann::json;

std::string Canonical(const std::string& text) {
  return json::parse(text).dump(-1, ' ', false, json::error_handler_t::replace);
}

core::Transaction Saga() {
  core::Transaction tx;
  tx.id = "019ab0c1d2e3f4a5b6c7d8e9f0a1b2c3";
  tx.protocol = core::Protocol::kSaga;
  tx.state = core::TxState::kCompensated;
  tx.created_at = core::FromMillis(1795517890628);
  tx.updated_at = core::FromMillis(1795517890731);
  tx.reason = "branch 1 (inventory) failed: \"sku-9\" out of stock";
  tx.traceparent = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";
  tx.retry_budget = {5, core::Duration(60000)};
  for (int i = 0; i < 2; ++i) {
    core::Branch b;
    b.index = i;
    b.participant = i == 0 ? "order" : "inventory";
    b.payload = {{"sku", "caf\xc3\xa9"}, {"qty", i + 1}, {"tags", json::array()}};
    b.state = i == 0 ? core::BranchState::kCompensated : core::BranchState::kFailed;
    b.attempts = 2 - i;
    b.last_error = i == 1 ? "action attempt 1: refused: bad \xff byte" : "";
    b.after = i == 1 ? std::vector<int>{0} : std::vector<int>{};
    b.history.push_back({wire::Op::kAction, 1, core::FromMillis(1795517890700),
                         i == 0 ? core::AttemptResult::kOk : core::AttemptResult::kRefused,
                         i == 0 ? "" : "out of stock", 1234});
    tx.branches.push_back(std::move(b));
  }
  tx.events.push_back({core::FromMillis(1795517890710), core::TxEventKind::kState,
                       core::TxState::kCompensating, -1, tx.reason});
  tx.events.push_back({core::FromMillis(1795517890731), core::TxEventKind::kState,
                       core::TxState::kCompensated, -1, tx.reason});
  return tx;
}

TEST(TxJson, DetailIsCanonicalJsonWithEveryField) {
  const std::string text = TransactionDetailJson(Saga());
  EXPECT_EQ(text, Canonical(text)) << "keys sorted, no spaces: as nlohmann dumped it";
  const json j = json::parse(text);
  EXPECT_EQ(j["protocol"], "saga");
  EXPECT_EQ(j["state"], "compensated");
  EXPECT_EQ(j["terminal"], true);
  EXPECT_EQ(j["created_at"], "2026-11-24T10:58:10.628Z");
  EXPECT_EQ(j["updated_at_ms"], 1795517890731);
  EXPECT_EQ(j["retry_budget"], json({{"deadline_ms", 60000}, {"max_attempts", 5}}));
  EXPECT_EQ(j["reason"], "branch 1 (inventory) failed: \"sku-9\" out of stock");
  ASSERT_EQ(j["branches"].size(), 2u);
  EXPECT_EQ(j["branches"][0]["after"], json::array());
  EXPECT_EQ(j["branches"][1]["after"], json::array({0}));
  EXPECT_EQ(j["branches"][0]["payload"], Saga().branches[0].payload);
  EXPECT_EQ(j["branches"][1]["last_error"], "action attempt 1: refused: bad \xef\xbf\xbd byte");
  EXPECT_EQ(j["branches"][1]["history"][0], json({{"at", "2026-11-24T10:58:10.700Z"},
                                                  {"attempt", 1},
                                                  {"error", "out of stock"},
                                                  {"latency_us", 1234},
                                                  {"op", "action"},
                                                  {"result", "refused"}}));
  // Created, then the decision with its reason; the end repeats that reason, so it is left out.
  EXPECT_EQ(j["events"], json::parse(R"([
      {"at":"2026-11-24T10:58:10.628Z","kind":"created"},
      {"at":"2026-11-24T10:58:10.710Z","kind":"state","state":"compensating",
       "reason":"branch 1 (inventory) failed: \"sku-9\" out of stock"},
      {"at":"2026-11-24T10:58:10.731Z","kind":"state","state":"compensated"}])"));
}

TEST(TxJson, ListItemsAndTheSummaryAgree) {
  core::Transaction tx = Saga();
  tx.protocol = core::Protocol::kTwoPhase;        // no `after` outside sagas
  for (auto& b : tx.branches) b.history.clear();  // no `history` when there is none
  JsonText out;
  out.BeginArray();
  WriteTransactionJson(out, tx);
  WriteTransactionJson(out, tx);
  out.EndArray();
  const std::string one = TransactionJson(tx);
  EXPECT_EQ(out.str(), "[" + one + "," + one + "]");
  EXPECT_EQ(one, Canonical(one));
  const json j = json::parse(one);
  EXPECT_FALSE(j.contains("events"));
  EXPECT_FALSE(j["branches"][0].contains("after"));
  EXPECT_FALSE(j["branches"][0].contains("history"));
}

}  // namespace
}  // namespace txc::api
