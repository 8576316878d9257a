#include "in_doubt_resolver.h"

#include <algorithm>
#include <exception>
#include <map>
#include <utility>
#include <vector>

#include "log.h"

namespace txc::sdk {

InDoubtResolver::InDoubtResolver(Options options, BranchStore* store, Dispatcher* dispatcher,
                                 AskFn ask, CounterSet* counters)
    : options_(std::move(options)),
      store_(store),
      dispatcher_(dispatcher),
      ask_(std::move(ask)),
      counters_(counters) {}

InDoubtResolver::~InDoubtResolver() { Stop(); }

void InDoubtResolver::Start() {
  if (thread_.joinable()) return;
  started_at_ms_ = WallClockMs();
  thread_ = std::thread([this] { Run(); });
}

void InDoubtResolver::Stop() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void InDoubtResolver::Run() {
  while (true) {
    try {
      RunOnce();
    } catch (const std::exception& e) {
      LogLine(options_.participant, std::string("in-doubt resolver round failed: ") + e.what());
    } catch (...) {
      LogLine(options_.participant, "in-doubt resolver round failed: unknown exception");
    }
    std::unique_lock lock(mu_);
    if (cv_.wait_for(lock, options_.interval, [this] { return stopping_; })) return;
  }
}

void InDoubtResolver::RunOnce() {
  // In doubt: prepared longer ago than in_doubt_after, or prepared before this run started
  // (whatever the previous run was waiting for, nobody is going to tell us unasked).
  const int64_t cutoff =
      std::max(started_at_ms_, WallClockMs() - int64_t{options_.in_doubt_after.count()});
  std::vector<BranchRecord> in_doubt;
  {
    auto lock = store_->Lock();
    auto rows = store_->ListPrepared(cutoff, options_.batch);
    if (!rows.ok()) {
      LogLine(options_.participant, "in-doubt scan failed: " + rows.status().ToString());
      return;
    }
    in_doubt = std::move(rows).value();
  }

  std::map<std::string, std::optional<wire::Decision>> decisions;  // one question per gid
  for (const BranchRecord& record : in_doubt) {
    {
      std::lock_guard lock(mu_);
      if (stopping_) return;
    }
    auto it = decisions.find(record.gid);
    if (it == decisions.end()) {
      counters_->status_queries++;
      it = decisions.emplace(record.gid, ask_(record.gid)).first;
    }
    const std::optional<wire::Decision> decision = it->second;
    if (!decision || *decision == wire::Decision::kPending) continue;

    wire::BranchRequest request;
    request.gid = record.gid;
    request.branch = record.branch;
    request.participant = options_.participant;
    request.protocol = record.protocol;
    request.op = *decision == wire::Decision::kCommit ? wire::Op::kCommit : wire::Op::kAbort;
    request.attempt = 0;  // the SDK acting on its own, not a coordinator send
    request.payload = nlohmann::json::parse(record.payload, nullptr, /*allow_exceptions=*/false);
    if (request.payload.is_discarded()) request.payload = nullptr;

    const wire::BranchReply reply = dispatcher_->Handle(request);
    const std::string where = record.gid + "/" + std::to_string(record.branch);
    if (reply.outcome == wire::Outcome::kOk) {
      counters_->in_doubt_resolved++;
      LogLine(options_.participant,
              "resolved in-doubt branch " + where + ": " + wire::DecisionName(*decision));
    } else {
      LogLine(options_.participant,
              "could not apply " + std::string(wire::DecisionName(*decision)) +
                  " to in-doubt branch " + where + ": " + reply.message + " (will retry)");
    }
  }
}

}  // namespace txc::sdk
