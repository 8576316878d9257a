// Topology: the real processes of a fault run — one nats-server, one txc-coordinator and N
// bank participants (txc-test-participant), each with its own SQLite database in one work
// directory — and the faults a run injects into them. Not thread-safe: one thread (the fault
// injector, or the main thread between phases) drives it.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "nats_server.h"
#include "process.h"

namespace txc::fault {

struct TopologyOptions {
  std::string dir;  // logs and databases
  std::string coordinator_bin;
  std::string participant_bin;
  int participants = 4;
  int accounts = 8;  // per participant, named a0..a<n-1>
  int64_t initial_balance = 1000;
  bool flaky_last = true;  // the last participant loses, duplicates and delays replies
};

class Topology {
 public:
  explicit Topology(TopologyOptions options);

  // Starts everything and waits until the coordinator is ready. False (and why, on stderr) if
  // something would not start.
  bool Start();

  int api_port() const { return api_port_; }
  const std::string& nats_url() const { return nats_url_; }
  std::string ParticipantName(int i) const { return "bank" + std::to_string(i); }
  std::string DbPath(int participant) const;
  const TopologyOptions& options() const { return options_; }

  // The faults. Each kills with SIGKILL (nothing is flushed or closed) and starts the process
  // again on the same files and ports.
  bool RestartCoordinator();
  bool RestartParticipant(int i);
  bool RestartNats();
  // Makes sure every process runs (after a run, before checking).
  bool EnsureRunning();

 private:
  bool StartCoordinator();
  bool StartParticipant(int i);

  TopologyOptions options_;
  testing::NatsServer nats_;
  std::string nats_url_;
  int api_port_ = 0;
  std::unique_ptr<testing::Process> coordinator_;
  std::vector<std::unique_ptr<testing::Process>> participants_;
};

}  // namespace txc::fault
