// The baseline txc is measured against: the same NATS request/reply round trips per transaction,
// with the same concurrency, between a driver and plain echo responders: no coordinator logic,
// no log, no participant SDK. What the hardware and nats-server allow, measured in the same run.
//
// And the bound: the same round trips to the run's own participants (the SDK, recording and
// fsyncing every vote and outcome), each request a real one of a fresh transaction, sent by this
// driver with no coordinator in between: what a coordinator that cost nothing would reach with
// these participants on this machine.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

namespace txc::bench {

struct BaselineOptions {
  std::string nats_url;
  // Echo responders, or with `real_participants` the SDK's participants, by name.
  std::vector<std::string> participants;
  bool real_participants = false;
  // Round trips per transaction, the protocol's: 2PC two phases (prepare, commit) and 3PC three
  // (can-commit, pre-commit, do-commit), each sent to every participant at once; a saga each
  // participant's action in turn.
  std::string protocol = "2pc";
  int in_flight = 256;
  std::chrono::milliseconds duration{10000};
  std::chrono::milliseconds warmup{2000};
};

struct BaselineResult {
  uint64_t completed = 0;  // in the measured period
  uint64_t finished = 0;   // warmup and the end's stragglers too
  double seconds = 0;
  std::vector<int64_t> latency_us;
  std::string error;  // also the first reply that was not "ok"
};

BaselineResult RunBaseline(const BaselineOptions& options);

// Serves `name`'s subjects like a participant that does nothing: every request is answered at
// once with an "ok" reply of the usual size. Blocks until SIGTERM/SIGINT.
int RunEchoResponder(const std::string& nats_url, const std::string& name);

}  // namespace txc::bench
