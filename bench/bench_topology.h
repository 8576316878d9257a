// BenchTopology: the processes a benchmark runs against, all on this machine: a nats-server, a
// txc-coordinator with its log in a temp directory, participant processes with no business work
// (txc-test-participant --null-handlers 1) and, for the baseline, echo responders (this binary
// in --echo mode). Everything it started is killed and removed when it goes out of scope.
//
// Or it connects to a nats-server and a coordinator that run already (Connect): it then starts
// only the participants and echo responders, on that NATS, under names of their own, and cannot
// measure what it did not start (the coordinator's CPU and memory, its recovery).
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "nats_server.h"
#include "process.h"

namespace txc::bench {

class BenchTopology {
 public:
  // Empty binary paths: the ones built with this benchmark.
  BenchTopology(std::string self_path, std::string synchronous, std::string coordinator_bin = "",
                std::string participant_bin = "");
  ~BenchTopology();

  // The coordinator's --retention (empty: its default). Set before Start.
  void set_retention(std::string retention) { retention_ = std::move(retention); }
  // Starts the coordinator with --nats-api true (for --api nats). Set before Start.
  void set_nats_api(bool on) { nats_api_ = on; }
  // Use a running nats-server and a coordinator connected to it (http://host:port) instead of
  // starting them; both empty: start them. False, with the reason on stderr, if a URL cannot be
  // read or only one is given. Call before Start.
  bool Connect(const std::string& nats_url, const std::string& coordinator_url);
  bool started_coordinator() const { return external_api_host_.empty(); }

  // Starts nats-server, the coordinator (serving `http_threads` connections) and
  // `participants` participants. False, with the reason on stderr, if anything fails.
  bool Start(int participants, int http_threads);

  const std::string& api_host() const { return api_host_; }
  int api_port() const { return api_port_; }
  std::string nats_url() const { return nats_ ? nats_->url() : external_nats_url_; }
  // A transaction over the first `participants` participants, empty payloads.
  std::string TransactionBody(const std::string& protocol, int participants) const;
  // The names of the first `n` participants (started by Start).
  std::vector<std::string> ParticipantNames(int n) const;
  // The names of `n` echo responders, started on first use.
  std::vector<std::string> EchoResponders(int n);
  // The coordinator's peak resident set (VmHWM), in KiB; 0 if this did not start it.
  int64_t CoordinatorPeakRssKb() const;
  int64_t CoordinatorRssKb() const;
  // CPU time (user + system) used so far by the coordinator, and by it together with the
  // participants and nats-server (everything but this driver), in seconds; and the context
  // switches of all their threads. On a machine whose cores are all busy, CPU per transaction
  // is steadier than throughput, and switches per transaction steadier still: on this
  // project's VMs a thread hand-off is among the dearest things a transaction does.
  struct CpuSeconds {
    double coordinator = 0;
    double system = 0;
    int64_t coordinator_switches = 0;
    int64_t system_switches = 0;
  };
  CpuSeconds Cpu() const;

  // Leaves `n` transactions unfinished in the log (participants frozen, coordinator killed),
  // restarts the coordinator and returns the seconds from its start until every one is
  // terminal; -1 on failure, or if this did not start the coordinator.
  double MeasureRecovery(int n);

  struct RunResult {
    bool ok = false;
    double seconds = 0;
    int64_t peak_rss_kb = 0;
    int64_t end_rss_kb = 0;
    int64_t log_bytes = 0;  // the log's file and WAL at the end
    int64_t max_latency_us = 0;
  };
  // 2PC over two participants until `n` transactions have committed (started over NATS with
  // `over_nats`, which needs set_nats_api).
  RunResult RunUntil(int64_t n, int in_flight, bool over_nats = false);

 private:
  bool StartCoordinator();
  bool WaitReady(testing::Process* p);
  bool NoneUnfinished();
  std::string ParticipantName(int i) const;
  // Someone else's coordinator: ready, and seeing the first `participants` of this run live.
  enum class Probe { kReady, kWait, kNeedsToken };
  Probe ProbeCoordinator(int participants) const;
  bool AwaitCoordinator(int participants) const;

  const std::string self_path_;
  const std::string synchronous_;
  const std::string coordinator_bin_;
  const std::string participant_bin_;
  std::unique_ptr<testing::NatsServer> nats_;  // null when connected to another
  std::string external_nats_url_;
  std::string external_api_host_;  // empty: this starts the coordinator
  // Prefix of the participants' and echo responders' names: empty when this owns the NATS,
  // random when it is shared.
  std::string name_prefix_;
  std::string dir_;
  std::string api_host_ = "127.0.0.1";
  int api_port_ = 0;
  int http_threads_ = 64;
  std::string retention_;
  bool nats_api_ = false;
  std::unique_ptr<testing::Process> coordinator_;
  std::vector<std::unique_ptr<testing::Process>> participants_;
  std::vector<std::unique_ptr<testing::Process>> echoes_;
};

}  // namespace txc::bench
