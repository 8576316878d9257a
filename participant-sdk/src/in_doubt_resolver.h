// InDoubtResolver: a participant that voted yes never decides alone. This thread finds branches
// left prepared or pre-committed for too long (or by a previous run), asks the coordinator what
// was decided, and applies the answer through the Dispatcher, the same path a message takes.
// "pending" or no answer: ask again next round.
//
// 3PC only, when the coordinator is known to be down (NATS reports that nobody serves the status
// subject; a mere timeout is not proof), it runs Skeen's termination protocol: it asks every peer
// named in the transaction for its state, concludes with termination_rule.h, and carries the
// conclusion out (pre-committing uncertain peers itself before it commits).
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "branch_store.h"
#include "counters.h"
#include "dispatcher.h"
#include "txc/wire.h"

namespace txc::sdk {

// What asking the coordinator gave.
struct CoordinatorAnswer {
  enum class Kind {
    kDecision,  // `decision` holds the answer (possibly pending)
    kDown,      // nobody serves the status subject: the coordinator is not running
    kUnknown,   // timeout, disconnected, garbage: nothing can be concluded
  };
  Kind kind = Kind::kUnknown;
  wire::Decision decision = wire::Decision::kPending;
};

// The resolver's view of the network; the Participant implements it over NATS. Every call
// blocks for at most its own timeout and runs on the resolver thread only.
struct ResolverLink {
  std::function<CoordinatorAnswer(const std::string& gid)> ask_coordinator;
  // nullopt: the peer did not answer.
  std::function<std::optional<wire::PeerStateReply>(const std::string& peer,
                                                    const std::string& gid)>
      ask_peer;
  // Sends a branch request to another participant; nullopt: no reply.
  std::function<std::optional<wire::BranchReply>(const wire::BranchRequest& request)> send;
};

class InDoubtResolver {
 public:
  struct Options {
    std::string participant;
    std::chrono::milliseconds in_doubt_after{2000};
    std::chrono::milliseconds interval{500};
    int batch = 256;  // branches looked at per round
  };

  // store, dispatcher and counters must outlive the resolver.
  InDoubtResolver(Options options, BranchStore* store, Dispatcher* dispatcher, ResolverLink link,
                  CounterSet* counters);
  ~InDoubtResolver();  // calls Stop()
  InDoubtResolver(const InDoubtResolver&) = delete;
  InDoubtResolver& operator=(const InDoubtResolver&) = delete;

  // Starts the thread; its first round runs at once and covers every branch left in doubt
  // before Start (a restart in doubt).
  void Start();
  // Wakes and joins the thread. A round in progress stops before its next question; a question
  // in flight finishes (bounded by its timeout). Idempotent.
  void Stop();

 private:
  void Run();
  void RunOnce();
  bool Stopping();
  void Resolve(const std::string& gid, const std::vector<BranchRecord>& in_doubt);
  void Terminate(const std::string& gid);
  // Applies commit or abort to each record through the dispatcher; true if all were applied.
  // `unchanged`: only to records still in the state they were read in (see Terminate).
  bool Apply(const std::vector<BranchRecord>& records, bool commit, const std::string& source,
             bool unchanged = false);
  void Note(const std::string& gid, const std::string& line);

  const Options options_;
  BranchStore* const store_;
  Dispatcher* const dispatcher_;
  const ResolverLink link_;
  CounterSet* const counters_;
  int64_t started_at_ms_ = 0;  // written before the thread starts

  std::set<std::string> noted_;  // resolver thread only: gids whose waiting was logged

  std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;  // guarded by mu_
  std::thread thread_;
};

}  // namespace txc::sdk
