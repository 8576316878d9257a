#include "api/tx_json.h"

namespace txc::api {
namespace {

void WriteHistory(JsonText& out, const std::vector<core::Attempt>& history) {
  out.Key("history").BeginArray();
  for (const core::Attempt& a : history) {
    out.BeginObject()
        .Member("at", core::ToIso8601(a.at))
        .Member("attempt", a.number)
        .Member("error", a.error)
        .Member("latency_us", a.latency_us)
        .Member("op", wire::OpName(a.op))
        .Member("result", core::AttemptResultName(a.result))
        .EndObject();
  }
  out.EndArray();
}

void WriteBranches(JsonText& out, const core::Transaction& tx) {
  out.Key("branches").BeginArray();
  for (const core::Branch& b : tx.branches) {
    out.BeginObject();
    if (tx.protocol == core::Protocol::kSaga) {
      out.Key("after").BeginArray();
      for (int i : b.after) out.Int(i);
      out.EndArray();
    }
    out.Member("attempts", b.attempts);
    if (!b.history.empty()) WriteHistory(out, b.history);
    out.Member("index", b.index)
        .Member("last_error", b.last_error)
        .Member("needs_attention", b.needs_attention)
        .Member("participant", b.participant)
        .Key("payload")
        .Value(b.payload)
        .Member("state", core::BranchStateName(b.state))
        .EndObject();
  }
  out.EndArray();
}

void WriteEvents(JsonText& out, const core::Transaction& tx) {
  out.Key("events").BeginArray();
  out.BeginObject()
      .Member("at", core::ToIso8601(tx.created_at))
      .Member("kind", "created")
      .EndObject();
  const std::string* last_state_reason = nullptr;
  for (const core::TxEvent& e : tx.events) {
    out.BeginObject().Member("at", core::ToIso8601(e.at));
    if (e.branch >= 0) out.Member("branch", e.branch);
    out.Member("kind", core::TxEventKindName(e.kind));
    // A transaction keeps one reason: its end repeats its decision's, which says it once.
    const bool repeated = e.state && last_state_reason != nullptr && *last_state_reason == e.detail;
    if (!e.detail.empty() && !repeated) out.Member("reason", e.detail);
    if (e.state) {
      out.Member("state", core::TxStateName(*e.state));
      last_state_reason = &e.detail;
    }
    out.EndObject();
  }
  out.EndArray();
}

// Members in alphabetical order, as the nlohmann objects this replaced wrote them.
void WriteTransaction(JsonText& out, const core::Transaction& tx, bool with_events) {
  out.BeginObject();
  WriteBranches(out, tx);
  out.Member("created_at", core::ToIso8601(tx.created_at))
      .Member("created_at_ms", core::ToMillis(tx.created_at));
  if (with_events) WriteEvents(out, tx);
  out.Member("id", tx.id)
      .Member("needs_attention", tx.needs_attention)
      .Member("protocol", core::ProtocolName(tx.protocol))
      .Member("reason", tx.reason)
      .Key("retry_budget")
      .BeginObject()
      .Member("deadline_ms", int64_t{tx.retry_budget.deadline.count()})
      .Member("max_attempts", tx.retry_budget.max_attempts)
      .EndObject()
      .Member("state", core::TxStateName(tx.state))
      .Member("terminal", core::IsTerminal(tx.state))
      .Member("timeout_ms", int64_t{tx.timeout.count()})
      .Member("traceparent", tx.traceparent)
      .Member("updated_at", core::ToIso8601(tx.updated_at))
      .Member("updated_at_ms", core::ToMillis(tx.updated_at))
      .EndObject();
}

}  // namespace

void WriteTransactionJson(JsonText& out, const core::Transaction& tx) {
  WriteTransaction(out, tx, /*with_events=*/false);
}

std::string TransactionJson(const core::Transaction& tx) {
  JsonText out;
  WriteTransaction(out, tx, /*with_events=*/false);
  return out.Take();
}

std::string TransactionDetailJson(const core::Transaction& tx) {
  JsonText out;
  WriteTransaction(out, tx, /*with_events=*/true);
  return out.Take();
}

}  // namespace txc::api
