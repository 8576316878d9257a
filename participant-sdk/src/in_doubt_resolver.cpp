#include "in_doubt_resolver.h"

#include <algorithm>
#include <exception>
#include <map>
#include <utility>

#include "log.h"
#include "termination_rule.h"

namespace txc::sdk {
namespace {

constexpr const char* kThreePhase = "3pc";

wire::BranchRequest RequestFor(const BranchRecord& record, const std::string& participant,
                               wire::Op op) {
  wire::BranchRequest request;
  request.gid = record.gid;
  request.branch = record.branch;
  request.participant = participant;
  request.protocol = record.protocol;
  request.op = op;
  request.attempt = 0;  // the SDK acting on its own, not a coordinator send
  request.payload = nlohmann::json::parse(record.payload, nullptr, /*allow_exceptions=*/false);
  if (request.payload.is_discarded()) request.payload = nullptr;
  request.participants = record.participants;
  return request;
}

}  // namespace

InDoubtResolver::InDoubtResolver(Options options, BranchStore* store, Dispatcher* dispatcher,
                                 ResolverLink link, CounterSet* counters)
    : options_(std::move(options)),
      store_(store),
      dispatcher_(dispatcher),
      link_(std::move(link)),
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

bool InDoubtResolver::Stopping() {
  std::lock_guard lock(mu_);
  return stopping_;
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
  // In doubt: unchanged for in_doubt_after, or left by a previous run (whatever it was waiting
  // for, nobody is going to tell us unasked).
  const int64_t cutoff =
      std::max(started_at_ms_, WallClockMs() - int64_t{options_.in_doubt_after.count()});
  std::vector<BranchRecord> rows;
  {
    auto lock = store_->Lock();
    auto found = store_->ListInDoubt(cutoff, options_.batch);
    if (!found.ok()) {
      LogLine(options_.participant, "in-doubt scan failed: " + found.status().ToString());
      return;
    }
    rows = std::move(found).value();
  }
  // One question per transaction, in the order its oldest branch went into doubt.
  std::vector<std::string> order;
  std::map<std::string, std::vector<BranchRecord>> by_gid;
  for (auto& r : rows) {
    auto& group = by_gid[r.gid];
    if (group.empty()) order.push_back(r.gid);
    group.push_back(std::move(r));
  }
  for (const std::string& gid : order) {
    if (Stopping()) return;
    Resolve(gid, by_gid[gid]);
  }
}

void InDoubtResolver::Resolve(const std::string& gid, const std::vector<BranchRecord>& in_doubt) {
  counters_->status_queries++;
  const CoordinatorAnswer answer = link_.ask_coordinator(gid);
  if (answer.kind == CoordinatorAnswer::Kind::kDecision &&
      answer.decision != wire::Decision::kPending) {
    Apply(in_doubt, answer.decision == wire::Decision::kCommit, "the coordinator");
    return;
  }
  // Pending: the coordinator is alive and will decide. Unknown: it may be alive. Either way only
  // it may decide. A 2PC participant waits for it whatever happens.
  if (answer.kind != CoordinatorAnswer::Kind::kDown || in_doubt.front().protocol != kThreePhase) {
    return;
  }
  Terminate(gid);
}

void InDoubtResolver::Terminate(const std::string& gid) {
  std::vector<BranchRecord> own;
  {
    auto lock = store_->Lock();
    auto found = store_->FindAll(gid);
    if (!found.ok()) {
      LogLine(options_.participant,
              "termination protocol: cannot read " + gid + ": " + found.status().ToString());
      return;
    }
    own = std::move(found).value();
  }
  std::vector<std::string> participants;
  bool restarted = false;
  std::vector<BranchRecord> in_doubt;
  for (const BranchRecord& r : own) {
    if (participants.empty()) participants = r.participants;
    if (!IsInDoubt(r.state)) continue;
    in_doubt.push_back(r);
    if (r.updated_at_ms < started_at_ms_) restarted = true;
  }
  if (in_doubt.empty()) return;  // settled since the scan
  if (participants.empty()) {
    Note(gid, "termination protocol: " + gid +
                  " has no participant list; waiting for the "
                  "coordinator");
    return;
  }

  // Ask each other participant once; our own branches we read ourselves.
  std::map<std::string, std::optional<wire::PeerStateReply>> answers;
  for (const std::string& peer : participants) {
    if (peer == options_.participant || answers.count(peer)) continue;
    counters_->peer_queries++;
    std::optional<wire::PeerStateReply> reply = link_.ask_peer(peer, gid);
    if (reply && (reply->gid != gid || reply->participant != peer)) reply.reset();
    answers[peer] = std::move(reply);
  }
  std::vector<PeerBranchView> views;
  for (size_t i = 0; i < participants.size(); ++i) {
    PeerBranchView view{static_cast<int>(i), participants[i], wire::PeerState::kNone};
    if (participants[i] == options_.participant) {
      for (const BranchRecord& r : own) {
        if (r.branch == view.branch) view.state = PeerStateOf(r.state);
      }
    } else if (const auto& reply = answers[participants[i]]; !reply) {
      view.state.reset();
    } else {
      for (const auto& b : reply->branches) {
        if (b.branch == view.branch) view.state = b.state;
      }
    }
    views.push_back(std::move(view));
  }

  const Termination t = ConcludeTermination(views, restarted);
  const std::string source = "the termination protocol (" + t.why + ")";
  switch (t.verdict) {
    case Termination::Verdict::kKeepAsking:
      Note(gid, "termination protocol for " + gid + ": waiting: " + t.why);
      return;
    case Termination::Verdict::kCommit:
      if (Apply(in_doubt, /*commit=*/true, source)) counters_->terminated++;
      return;
    case Termination::Verdict::kAbort:
      // The peers' states were read earlier: meanwhile a peer holding a pre_commit may have
      // brought our branch to pre-committed and committed itself. Aborting must then fail, so it
      // only applies to a branch still as we read it (checked in the same local transaction).
      if (Apply(in_doubt, /*commit=*/false, source, /*unchanged=*/true)) counters_->terminated++;
      return;
    case Termination::Verdict::kPreCommitThenCommit:
      break;
  }
  // Bring every uncertain branch to pre-committed first: once one branch commits, a peer that
  // is still uncertain must not be able to conclude abort.
  for (int branch : t.to_pre_commit) {
    const std::string& owner = participants[static_cast<size_t>(branch)];
    BranchRecord target{gid, branch, kThreePhase, BranchState::kPrepared, "null", 0, participants};
    wire::BranchRequest request = RequestFor(target, owner, wire::Op::kPreCommit);
    std::optional<wire::BranchReply> reply =
        owner == options_.participant ? dispatcher_->Handle(request) : link_.send(request);
    if (!reply || reply->outcome != wire::Outcome::kOk) {
      Note(gid, "termination protocol for " + gid + ": pre_commit of branch " +
                    std::to_string(branch) + " (" + owner + ") not acknowledged" +
                    (reply ? ": " + reply->message : std::string()) + "; will ask again");
      return;
    }
  }
  if (Apply(in_doubt, /*commit=*/true, source)) counters_->terminated++;
}

bool InDoubtResolver::Apply(const std::vector<BranchRecord>& records, bool commit,
                            const std::string& source, bool unchanged) {
  bool all = true;
  for (const BranchRecord& record : records) {
    const wire::Op op = !commit                          ? wire::Op::kAbort
                        : record.protocol == kThreePhase ? wire::Op::kDoCommit
                                                         : wire::Op::kCommit;
    const wire::BranchReply reply =
        dispatcher_->Handle(RequestFor(record, options_.participant, op),
                            unchanged ? std::optional<BranchState>(record.state) : std::nullopt);
    const std::string where = record.gid + "/" + std::to_string(record.branch);
    if (reply.outcome == wire::Outcome::kOk) {
      counters_->in_doubt_resolved++;
      LogLine(options_.participant, "resolved in-doubt branch " + where + ": " +
                                        (commit ? "commit" : "abort") + ", from " + source);
    } else {
      all = false;
      LogLine(options_.participant, "could not apply " + std::string(commit ? "commit" : "abort") +
                                        " to in-doubt branch " + where + ": " + reply.message +
                                        " (will retry)");
    }
  }
  if (!records.empty()) noted_.erase(records.front().gid);
  return all;
}

void InDoubtResolver::Note(const std::string& gid, const std::string& line) {
  // Once per transaction: the resolver asks every round and would otherwise fill the log.
  if (noted_.insert(gid).second) LogLine(options_.participant, line);
}

}  // namespace txc::sdk
