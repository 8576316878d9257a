// Engine: how a new transaction is accepted: a replay of a known Idempotency-Key, a fresh id,
// the protocol's first step, and the answer once the transaction is durable.
#include <cstdio>

#include "applog/applog.h"
#include "engine/engine.h"

namespace txc::engine {

void Engine::Begin(core::Transaction draft, std::function<void(Result<BeginOutcome>)> done,
                   Watcher watcher, Until until, std::shared_ptr<const void> wanted_while) {
  Post([this, draft = std::move(draft), done = std::move(done), watcher = std::move(watcher), until,
        wanted_while = std::move(wanted_while)]() mutable {
    DoBegin(std::move(draft), std::move(done), std::move(watcher), until, wanted_while);
  });
}

void Engine::DoBegin(core::Transaction draft, std::function<void(Result<BeginOutcome>)> done,
                     Watcher watcher, Until until,
                     const std::shared_ptr<const void>& wanted_while) {
  if (Status h = Health(); !h.ok()) {
    done(Status::Unavailable("the transaction log cannot be written: " + h.message()));
    return;
  }
  const core::ProtocolMachine* machine = MachineFor(draft.protocol);
  if (machine == nullptr) {
    done(Status::InvalidArgument(std::string("protocol ") + core::ProtocolName(draft.protocol) +
                                 " is not supported by this coordinator yet"));
    return;
  }
  const std::string key = draft.idempotency_key;
  if (!key.empty()) {
    auto replay = [&](const core::Transaction& earlier) -> bool {
      if (earlier.request_hash != draft.request_hash) {
        done(Status::AlreadyExists("Idempotency-Key '" + key +
                                   "' was used for a different request (transaction " + earlier.id +
                                   ")"));
      } else {
        done(BeginOutcome{earlier, /*created=*/false});
      }
      return true;
    };
    if (auto k = live_by_key_.find(key); k != live_by_key_.end()) {
      Live& earlier = live_.at(k->second);
      if (watcher) AddWatcher(earlier, std::move(watcher), until, wanted_while);
      if (earlier.created_durable || earlier.tx.request_hash != draft.request_hash) {
        replay(earlier.tx);
      } else {
        earlier.on_created.push_back(std::move(done));  // answered once the first is durable
      }
      return;
    }
    auto found = log_.FindByIdempotencyKey(key);
    if (!found.ok()) {
      done(found.status().WithContext("looking up the Idempotency-Key"));
      return;
    }
    if (found->has_value()) {
      replay(**found);
      if (watcher) watcher(std::nullopt);  // not driven here any more: the log has it
      return;
    }
  }

  const std::string id = NewId();
  draft.id = id;
  Live& live = live_[id];
  live.tx = std::move(draft);
  live.began = clock_.Steady();
  if (watcher) AddWatcher(live, std::move(watcher), until, wanted_while);
  if (!key.empty()) live_by_key_[key] = id;
  {
    std::lock_guard<std::mutex> lock(mu_);
    live_count_ = live_.size();
  }
  core::Actions actions = machine->On(live.tx, core::Begin{}, clock_.Now());
  Execute(id, std::move(actions), [this, id, done = std::move(done)](Status s) {
    auto it = live_.find(id);
    if (it == live_.end()) return;
    Live& l = it->second;
    if (!s.ok()) {
      const Status error = s.WithContext("logging the new transaction");
      done(error);
      for (auto& waiting : l.on_created) waiting(error);
      if (!l.tx.idempotency_key.empty()) live_by_key_.erase(l.tx.idempotency_key);
      live_.erase(it);
      return;
    }
    l.created_durable = true;
    if (options_.metrics) options_.metrics->TransactionStarted(core::ProtocolName(l.tx.protocol));
    if (applog::Enabled(applog::Level::kDebug)) {
      applog::Write(applog::Level::kDebug, "tx.started",
                    {{"tx", l.tx.id},
                     {"protocol", core::ProtocolName(l.tx.protocol)},
                     {"branches", l.tx.branches.size()},
                     {"traceparent", l.tx.traceparent}});
    }
    done(BeginOutcome{l.tx, /*created=*/true});
    for (auto& waiting : l.on_created) waiting(BeginOutcome{l.tx, /*created=*/false});
    l.on_created.clear();
  });
}

std::string Engine::NewId() {
  // 48 bits of milliseconds then 80 random bits: ids sort by creation time and never repeat.
  const uint64_t ms = static_cast<uint64_t>(core::ToMillis(clock_.Now()));
  const uint64_t r1 = rng_();
  const uint16_t r2 = static_cast<uint16_t>(rng_());
  char buf[33];
  std::snprintf(buf, sizeof(buf), "%012llx%016llx%04x",
                static_cast<unsigned long long>(ms & 0xffffffffffffULL),
                static_cast<unsigned long long>(r1), static_cast<unsigned>(r2));
  return buf;
}

}  // namespace txc::engine
