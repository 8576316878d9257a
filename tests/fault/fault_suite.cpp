// txc-fault-suite: runs a bank-transfer workload (mixed 2PC, 3PC and sagas) against real
// processes while it kills and restarts the coordinator, participants and nats-server, with one
// participant that loses, duplicates and delays replies; then waits until everything is quiet
// and checks the invariants of invariants.h. Prints the figures; exits 1 on any violation, or if
// the run fell short of --min-transactions / --min-faults.
//
//   txc-fault-suite [--transactions N] [--duration-s S] [--rate TX_PER_S] [--clients C]
//                   [--participants P] [--fault-every-ms MIN:MAX] [--faults coordinator,...]
//                   [--min-transactions N] [--min-faults N] [--seed S] [--dir DIR]
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <map>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "bank_workload.h"
#include "invariants.h"
#include "topology.h"

namespace {

using namespace txc::fault;

struct Flags {
  std::map<std::string, std::string> values = {{"transactions", "1000"},
                                               {"duration-s", "0"},
                                               {"rate", "0"},
                                               {"clients", "16"},
                                               {"participants", "4"},
                                               {"fault-every-ms", "1000:2000"},
                                               {"faults", "coordinator,participant,nats"},
                                               {"min-transactions", "0"},
                                               {"min-faults", "0"},
                                               {"seed", "0"},
                                               {"dir", ""},
                                               {"quiesce-s", "120"}};
  int Int(const std::string& k) const { return std::atoi(values.at(k).c_str()); }
};

std::vector<std::string> Split(const std::string& s, char sep) {
  std::vector<std::string> out;
  std::stringstream in(s);
  for (std::string part; std::getline(in, part, sep);) {
    if (!part.empty()) out.push_back(part);
  }
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  Flags flags;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg.rfind("--", 0) != 0 || i + 1 >= argc || !flags.values.count(arg.substr(2))) {
      std::cerr << "usage: see the header of tests/fault/fault_suite.cpp (bad argument " << arg
                << ")\n";
      return 2;
    }
    flags.values[arg.substr(2)] = argv[++i];
  }
  uint64_t seed = static_cast<uint64_t>(std::atoll(flags.values["seed"].c_str()));
  if (seed == 0) seed = std::random_device{}();
  std::string dir = flags.values["dir"];
  const bool keep = !dir.empty();
  if (dir.empty()) {
    std::string tmpl = (std::filesystem::temp_directory_path() / "txc-fault-XXXXXX").string();
    if (mkdtemp(tmpl.data()) == nullptr) return 2;
    dir = tmpl;
  }
  std::filesystem::create_directories(dir);
  std::cout << "fault suite: seed " << seed << ", work dir " << dir << std::endl;

  TopologyOptions topo_options;
  topo_options.dir = dir;
  topo_options.coordinator_bin = TXC_COORDINATOR_BIN;
  topo_options.participant_bin = TXC_TEST_PARTICIPANT_BIN;
  topo_options.participants = flags.Int("participants");
  Topology topology(topo_options);
  if (!topology.Start()) return 1;

  WorkloadOptions work;
  work.api_port = topology.api_port();
  work.clients = flags.Int("clients");
  work.max_transactions = flags.Int("transactions");
  work.duration = std::chrono::seconds(flags.Int("duration-s"));
  work.rate = flags.Int("rate");
  work.seed = seed;
  work.participants = topo_options.participants;
  work.accounts = topo_options.accounts;
  BankWorkload workload(work);
  std::atomic<bool> load_done{false};
  std::thread load([&] {
    workload.Run();
    load_done = true;
  });

  // Faults, one at a time, at random intervals, cycling through the kinds in a shuffled order.
  const std::vector<std::string> kinds = Split(flags.values["faults"], ',');
  const auto every = Split(flags.values["fault-every-ms"], ':');
  const int min_ms = std::atoi(every.at(0).c_str());
  const int max_ms = std::atoi(every.at(every.size() > 1 ? 1 : 0).c_str());
  std::mt19937_64 rng(seed);
  std::map<std::string, int> faults;
  bool topology_ok = true;
  std::vector<std::string> order;
  while (!load_done && topology_ok && !kinds.empty()) {
    const int wait_ms =
        min_ms + static_cast<int>(rng() % static_cast<uint64_t>(max_ms - min_ms + 1));
    // Pacing between faults, not synchronisation: nothing waits on this sleep's length.
    for (int slept = 0; slept < wait_ms && !load_done; slept += 50) {
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    if (load_done) break;
    if (order.empty()) {
      order = kinds;
      std::shuffle(order.begin(), order.end(), rng);
    }
    const std::string kind = order.back();
    order.pop_back();
    if (kind == "coordinator") {
      topology_ok = topology.RestartCoordinator();
    } else if (kind == "participant") {
      const int victim = static_cast<int>(rng() % static_cast<uint64_t>(topo_options.participants));
      topology_ok = topology.RestartParticipant(victim);
    } else if (kind == "nats") {
      topology_ok = topology.RestartNats();
    } else {
      std::cerr << "unknown fault kind " << kind << "\n";
      workload.Stop();
      load.join();
      return 2;
    }
    faults[kind]++;
  }
  if (!topology_ok) workload.Stop();
  load.join();
  const auto accepted = workload.accepted();
  const double load_seconds = workload.seconds();

  // Quiet: every process up, then no transaction unfinished and nothing in doubt anywhere.
  const auto quiet_start = std::chrono::steady_clock::now();
  std::string pending;
  const bool running = topology_ok && topology.EnsureRunning();
  const bool quiet =
      running && WaitQuiet(topology, std::chrono::seconds(flags.Int("quiesce-s")), &pending);
  const double quiesce_s =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - quiet_start).count();
  const CheckResult check = CheckInvariants(topology, accepted);

  int fault_total = 0;
  std::cout << "transactions accepted: " << accepted.size() << " in " << load_seconds << " s ("
            << static_cast<int>(accepted.size() / std::max(load_seconds, 0.001)) << " tx/s), "
            << workload.retries() << " client retries\n";
  std::cout << "transactions in the log: " << check.transactions << "\n";
  for (const auto& [outcome, count] : check.outcomes)
    std::cout << "  " << outcome << ": " << count << "\n";
  std::cout << "faults:";
  for (const auto& [kind, count] : faults) {
    std::cout << " " << kind << " " << count;
    fault_total += count;
  }
  std::cout << " (total " << fault_total << "), plus a flaky participant (2% replies lost, 2% "
            << "duplicated, 0.1% of handlers 1.5 s slow)\n";
  std::cout << "time to quiesce: " << quiesce_s << " s" << (quiet ? "" : " (did not quiesce)")
            << "\n";
  std::vector<std::string> violations = check.violations;
  for (const auto& e : workload.errors()) violations.push_back("client: " + e);
  if (!running) violations.push_back("a process could not be restarted");
  if (!quiet) violations.push_back("T: not quiet after the run: " + pending);
  std::cout << "violations: " << violations.size() << "\n";
  for (const auto& v : violations) std::cout << "  " << v << "\n";

  bool ok = violations.empty();
  if (static_cast<int>(accepted.size()) < flags.Int("min-transactions")) {
    std::cout << "FAILED: fewer than " << flags.Int("min-transactions") << " transactions\n";
    ok = false;
  }
  if (fault_total < flags.Int("min-faults")) {
    std::cout << "FAILED: fewer than " << flags.Int("min-faults") << " faults\n";
    ok = false;
  }
  std::cout << (ok ? "fault suite: OK" : "fault suite: FAILED (logs in " + dir + ")") << std::endl;
  if (ok && !keep) {
    std::error_code ec;
    std::filesystem::remove_all(dir, ec);
  }
  return ok ? 0 : 1;
}
