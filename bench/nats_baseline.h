// The baseline txc is measured against: the same NATS request/reply round trips per transaction,
// with the same concurrency, between a driver and plain echo responders: no coordinator logic,
// no log, no participant SDK. What the hardware and nats-server allow, measured in the same run.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

namespace txc::bench {

struct BaselineOptions {
  std::string nats_url;
  std::vector<std::string> participants;  // echo responders, by name
  // Round trips per transaction, in phases: each phase sends one request to every participant
  // at once (2PC: 2 phases, 3PC: 3) or, with `sequential`, one participant after the other
  // (a saga of steps).
  int phases = 2;
  bool sequential = false;
  int in_flight = 256;
  std::chrono::milliseconds duration{10000};
  std::chrono::milliseconds warmup{2000};
};

struct BaselineResult {
  uint64_t completed = 0;
  double seconds = 0;
  std::vector<int64_t> latency_us;
  std::string error;
};

BaselineResult RunBaseline(const BaselineOptions& options);

// Serves `name`'s subjects like a participant that does nothing: every request is answered at
// once with an "ok" reply of the usual size. Blocks until SIGTERM/SIGINT.
int RunEchoResponder(const std::string& nats_url, const std::string& name);

}  // namespace txc::bench
