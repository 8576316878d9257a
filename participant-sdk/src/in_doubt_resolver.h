// InDoubtResolver: a participant that voted yes never decides alone. This thread finds prepared
// branches that have waited too long for an outcome (or that a previous run left prepared),
// asks the coordinator what was decided, and applies commit/abort through the Dispatcher, the
// same path a commit/abort message takes. "pending" or no answer: ask again next round.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include "branch_store.h"
#include "counters.h"
#include "dispatcher.h"
#include "txc/wire.h"

namespace txc::sdk {

class InDoubtResolver {
 public:
  // Asks the coordinator for gid's decision; nullopt when there was no usable answer (timeout,
  // no responders, disconnected, garbage). Called on the resolver thread only.
  using AskFn = std::function<std::optional<wire::Decision>(const std::string& gid)>;

  struct Options {
    std::string participant;
    std::chrono::milliseconds in_doubt_after{2000};
    std::chrono::milliseconds interval{500};
    int batch = 256;  // branches looked at per round
  };

  // store, dispatcher and counters must outlive the resolver.
  InDoubtResolver(Options options, BranchStore* store, Dispatcher* dispatcher, AskFn ask,
                  CounterSet* counters);
  ~InDoubtResolver();  // calls Stop()
  InDoubtResolver(const InDoubtResolver&) = delete;
  InDoubtResolver& operator=(const InDoubtResolver&) = delete;

  // Starts the thread; its first round runs at once and covers every branch prepared before
  // Start (a restart in doubt).
  void Start();
  // Wakes and joins the thread. A round in progress stops before its next question; a question
  // in flight finishes (bounded by the ask timeout). Idempotent.
  void Stop();

 private:
  void Run();
  void RunOnce();

  const Options options_;
  BranchStore* const store_;
  Dispatcher* const dispatcher_;
  const AskFn ask_;
  CounterSet* const counters_;
  int64_t started_at_ms_ = 0;  // written before the thread starts

  std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;  // guarded by mu_
  std::thread thread_;
};

}  // namespace txc::sdk
