// What a load generator is asked to do (closed or open loop, for how long, which bodies) and what
// it measured: shared by the HTTP and the NATS load (http_load.h, nats_load.h).
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace txc::bench {

struct LoadOptions {
  std::string host = "127.0.0.1";  // HTTP: the coordinator's IPv4 address or name
  int port = 8080;
  int in_flight = 256;
  int rate = 0;  // transactions per second; 0: closed loop
  std::chrono::milliseconds duration{10000};
  std::chrono::milliseconds warmup{2000};  // answers in this first period are not recorded
  bool wait = true;                // POST ?wait=true: a transaction ends when it is terminal
  bool wait_for_decision = false;  // with `wait`: ?wait=decision, it ends once decided
  uint64_t max_transactions = 0;   // stop once this many are answered; 0: run for `duration`
  // Once over, wait up to this long for the answers still outstanding (not counted): a
  // coordinator this benchmark did not start must not be left retrying its transactions towards
  // participants that are gone.
  std::chrono::milliseconds drain{0};
  // The body of transaction n.
  std::function<std::string(uint64_t n)> body;
  // Called once, when the measured period (after the warmup) begins.
  std::function<void()> on_measure_start;
};

struct LoadResult {
  uint64_t completed = 0;           // answered 200/201 with the expected terminal state
  uint64_t failed = 0;              // answered otherwise (kept in `errors`, a few)
  uint64_t not_started = 0;         // open loop: due while every connection was busy
  std::vector<int64_t> latency_us;  // of each completed transaction after the warmup
  double seconds = 0;               // measured period (after warmup)
  std::vector<std::string> errors;
};

}  // namespace txc::bench
