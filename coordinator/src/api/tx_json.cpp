#include "api/tx_json.h"

namespace txc::api {

nlohmann::json TransactionJson(const core::Transaction& tx) {
  nlohmann::json branches = nlohmann::json::array();
  for (const core::Branch& b : tx.branches) {
    nlohmann::json branch = {{"index", b.index},
                             {"participant", b.participant},
                             {"state", core::BranchStateName(b.state)},
                             {"attempts", b.attempts},
                             {"last_error", b.last_error},
                             {"needs_attention", b.needs_attention},
                             {"payload", b.payload}};
    if (tx.protocol == core::Protocol::kSaga) branch["after"] = b.after;
    if (!b.history.empty()) {
      nlohmann::json history = nlohmann::json::array();
      for (const core::Attempt& a : b.history) {
        history.push_back({{"op", wire::OpName(a.op)},
                           {"attempt", a.number},
                           {"at", core::ToIso8601(a.at)},
                           {"result", core::AttemptResultName(a.result)},
                           {"error", a.error},
                           {"latency_us", a.latency_us}});
      }
      branch["history"] = std::move(history);
    }
    branches.push_back(std::move(branch));
  }
  return {{"id", tx.id},
          {"protocol", core::ProtocolName(tx.protocol)},
          {"state", core::TxStateName(tx.state)},
          {"terminal", core::IsTerminal(tx.state)},
          {"reason", tx.reason},
          {"needs_attention", tx.needs_attention},
          {"traceparent", tx.traceparent},
          {"timeout_ms", tx.timeout.count()},
          {"retry_budget",
           {{"max_attempts", tx.retry_budget.max_attempts},
            {"deadline_ms", tx.retry_budget.deadline.count()}}},
          {"created_at", core::ToIso8601(tx.created_at)},
          {"updated_at", core::ToIso8601(tx.updated_at)},
          {"created_at_ms", core::ToMillis(tx.created_at)},
          {"updated_at_ms", core::ToMillis(tx.updated_at)},
          {"branches", std::move(branches)}};
}

nlohmann::json TransactionDetailJson(const core::Transaction& tx) {
  nlohmann::json out = TransactionJson(tx);
  nlohmann::json events = nlohmann::json::array();
  events.push_back({{"at", core::ToIso8601(tx.created_at)}, {"kind", "created"}});
  const std::string* last_state_reason = nullptr;
  for (const core::TxEvent& e : tx.events) {
    nlohmann::json event = {{"at", core::ToIso8601(e.at)}, {"kind", core::TxEventKindName(e.kind)}};
    if (e.state) event["state"] = core::TxStateName(*e.state);
    if (e.branch >= 0) event["branch"] = e.branch;
    // A transaction keeps one reason: its end repeats its decision's, which says it once.
    const bool repeated = e.state && last_state_reason != nullptr && *last_state_reason == e.detail;
    if (!e.detail.empty() && !repeated) event["reason"] = e.detail;
    if (e.state) last_state_reason = &e.detail;
    events.push_back(std::move(event));
  }
  out["events"] = std::move(events);
  return out;
}

}  // namespace txc::api
