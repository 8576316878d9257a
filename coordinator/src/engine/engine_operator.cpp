// Engine: what operators do to live transactions (abort, retry now) and how the needs_attention
// flag is counted and logged.
#include "applog/applog.h"
#include "engine/engine.h"

namespace txc::engine {

void Engine::Operate(const std::string& id, core::Event action,
                     std::function<void(Result<core::Transaction>)> done) {
  Post([this, id, action = std::move(action), done = std::move(done)]() mutable {
    auto it = live_.find(id);
    if (it == live_.end()) {
      done(Status::NotFound("transaction '" + id + "' is not in progress"));
      return;
    }
    if (Status h = Health(); !h.ok()) {
      done(Status::Unavailable("the transaction log cannot be written: " + h.message()));
      return;
    }
    core::Transaction& tx = it->second.tx;
    const bool flagged = tx.needs_attention;
    core::Actions actions = MachineFor(tx.protocol)->On(tx, action, clock_.Now());
    if (!actions.rejected.empty()) {
      done(Status::FailedPrecondition(actions.rejected));
      return;
    }
    NoteAttention(tx, flagged);
    applog::Write(applog::Level::kInfo, "tx.operator",
                  {{"tx", id},
                   {"action", core::OperatorActionName(action)},
                   {"state", core::TxStateName(tx.state)}});
    // As the action left it; the transaction may have moved on by the time this is durable.
    Execute(id, std::move(actions), [done = std::move(done), snapshot = tx](Status s) {
      if (s.ok()) {
        done(snapshot);
      } else {
        done(s.WithContext("logging the operator's action"));
      }
    });
  });
}

void Engine::NoteAttention(const core::Transaction& tx, bool was) {
  if (tx.needs_attention == was) return;
  {
    std::lock_guard<std::mutex> lock(mu_);
    attention_count_ += tx.needs_attention ? 1 : -1;
  }
  nlohmann::json branches = nlohmann::json::array();
  for (const core::Branch& b : tx.branches) {
    if (b.needs_attention) {
      branches.push_back({{"branch", b.index},
                          {"participant", b.participant},
                          {"op", wire::OpName(b.op)},
                          {"attempts", b.op_attempt},
                          {"last_error", b.last_error}});
    }
  }
  if (tx.needs_attention) {
    applog::Write(applog::Level::kWarn, "tx.needs_attention",
                  {{"tx", tx.id}, {"state", core::TxStateName(tx.state)}, {"branches", branches}});
  } else {
    applog::Write(applog::Level::kInfo, "tx.attention_cleared",
                  {{"tx", tx.id}, {"state", core::TxStateName(tx.state)}});
  }
}

}  // namespace txc::engine
