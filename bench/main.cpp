// txc-bench: how fast txc is on this machine, against what NATS alone allows in the same run.
//
// It starts a nats-server, a txc-coordinator (durable log, synchronous=FULL unless told) and
// participant processes whose handlers do no business work, drives transactions through the REST
// API (POST ?wait=true, so a transaction counts once it is committed/completed; with --wait
// decision, POST ?wait=decision: once its outcome is decided and durable), then runs the
// baseline: the same NATS round trips per transaction between plain echo responders, and the
// bound: the same round trips to the same participants, with no coordinator (nats_baseline.h).
//
//   txc-bench [--protocol 2pc|3pc|saga|all] [--participants N] [--in-flight C] [--rate R]
//             [--duration-s S] [--warmup-s S] [--no-baseline] [--synchronous FULL|NORMAL]
//             [--wait end|decision] [--api http|nats]
//   txc-bench --scaling                  2PC: participants 2,4,8 x in flight 1,16,256,1024
//   txc-bench --recovery N               time to finish N unfinished transactions after a restart
//   txc-bench --transactions N           run until N transactions, report the coordinator's RSS
//                                        and the log's size (try with --retention 30s)
//   txc-bench --smoke                    a few seconds of everything; fails only if something does
// --api nats starts transactions with NATS requests on txc.coordinator.begin (the coordinator's
// --nats-api) instead of POST /v1/transactions: rows marked -n.
// --retention D is passed to the coordinator. --coordinator-bin and --participant-bin run other
// builds (e.g. one with frame pointers for perf).
//
// --nats-url URL --coordinator-url http://HOST:PORT (together) connect to a nats-server and a
// coordinator connected to it that run already (taking requests without a token) instead of
// starting them; the participants and echo responders are still started here, on that NATS,
// under names of this run's own (bench-<random>-p0 ...). The coordinator's CPU, switches and
// memory are then not measured ("-"), `all us` counts only what this run started, --recovery is
// refused, and --synchronous, --retention and --coordinator-bin do not apply. Each run waits
// for its outstanding answers before it stops its participants; its transactions stay in that
// coordinator's log. The smoke runs once more connected to what it started.
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <map>
#include <string>
#include <vector>

#include "bench_topology.h"
#include "crash_report.h"
#include "http_load.h"
#include "nats_baseline.h"
#include "nats_load.h"

namespace {

using namespace txc::bench;

struct Flags {
  std::map<std::string, std::string> values = {
      {"protocol", "all"},   {"participants", "2"},   {"in-flight", "256"},    {"rate", "0"},
      {"duration-s", "10"},  {"warmup-s", "2"},       {"synchronous", "FULL"}, {"recovery", "0"},
      {"transactions", "0"}, {"coordinator-bin", ""}, {"participant-bin", ""}, {"retention", ""},
      {"wait", "end"},       {"nats-url", ""},        {"coordinator-url", ""}, {"name", ""},
      {"api", "http"}};
  std::map<std::string, bool> switches = {
      {"no-baseline", false}, {"scaling", false}, {"smoke", false}, {"echo", false}};
  int Int(const std::string& k) const { return std::atoi(values.at(k).c_str()); }
};

int64_t Percentile(std::vector<int64_t>& v, double p) {
  if (v.empty()) return 0;
  const size_t i = std::min(v.size() - 1, static_cast<size_t>(p * static_cast<double>(v.size())));
  std::nth_element(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(i), v.end());
  return v[i];
}

std::string Ms(int64_t us) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%.2f", static_cast<double>(us) / 1000.0);
  return buf;
}

struct Row {
  std::string protocol;
  int participants = 0;
  int in_flight = 0;
  double tps = 0;
  int64_t p50 = 0, p90 = 0, p99 = 0, max = 0;
  double baseline_tps = 0;
  double bound_tps = 0;
  int64_t bound_p50 = 0;
  double bound_us_per_tx = 0;  // CPU of participants and nats-server per transaction of the bound
  int64_t rss_kb = 0;
  uint64_t failed = 0;
  bool open_loop = false;    // driven at a rate: its tx/s is that rate at most, not a capacity
  uint64_t not_started = 0;  // open loop: due while every slot was busy, so never sent
  bool coordinator_measured = true;        // false: connected to a coordinator this did not start
  double coordinator_us_per_tx = 0;        // CPU time per transaction of the measured period
  double system_us_per_tx = 0;             // the same for coordinator, participants and nats-server
  double coordinator_switches_per_tx = 0;  // context switches of all its threads
  double system_switches_per_tx = 0;
};

void PrintHeader() {
  std::printf("%-7s %3s %6s %10s %8s %8s %8s %8s %12s %7s %9s %10s %10s %10s %8s %9s %8s %8s %9s\n",
              "proto", "n", "flight", "tx/s", "p50 ms", "p90 ms", "p99 ms", "max ms", "baseline/s",
              "ratio", "rss MB", "coord us", "all us", "coord csw", "all csw", "bound/s",
              "of bound", "bound us", "bound p50");
}

std::string Percent(double part, double whole) {
  return whole > 0 ? std::to_string(static_cast<int>(100 * part / whole)) + "%" : "-";
}

std::string Fixed(double v, int decimals, bool measured = true) {
  if (!measured) return "-";
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%.*f", decimals, v);
  return buf;
}

void PrintRow(const Row& r) {
  const bool c = r.coordinator_measured;
  const bool b = r.bound_tps > 0;
  // An open loop's tx/s is capped by its rate; the baseline and the bound run closed-loop.
  const auto of = [&r](double whole) { return r.open_loop ? "-" : Percent(r.tps, whole); };
  std::string notes;
  if (r.failed) notes += " (" + std::to_string(r.failed) + " failed)";
  if (r.not_started) {
    notes += " (" + std::to_string(r.not_started) +
             " due but not started, warmup included: every slot busy)";
  }
  std::printf(
      "%-7s %3d %6d %10.0f %8s %8s %8s %8s %12.0f %7s %9s %10s %10.0f %10s %8.1f %9s %8s %8s "
      "%9s%s\n",
      r.protocol.c_str(), r.participants, r.in_flight, r.tps, Ms(r.p50).c_str(), Ms(r.p90).c_str(),
      Ms(r.p99).c_str(), Ms(r.max).c_str(), r.baseline_tps, of(r.baseline_tps).c_str(),
      Fixed(static_cast<double>(r.rss_kb) / 1024.0, 1, c).c_str(),
      Fixed(r.coordinator_us_per_tx, 0, c).c_str(), r.system_us_per_tx,
      Fixed(r.coordinator_switches_per_tx, 1, c).c_str(), r.system_switches_per_tx,
      Fixed(r.bound_tps, 0, b).c_str(), of(r.bound_tps).c_str(),
      Fixed(r.bound_us_per_tx, 0, b && c).c_str(), b ? Ms(r.bound_p50).c_str() : "-",
      notes.c_str());
  std::fflush(stdout);
}

// One measurement: txc, then (unless disabled) its baseline and its bound. A transaction answered
// at its decision has no bound: the bound runs the whole protocol.
Row Measure(BenchTopology& topo, const std::string& protocol, int participants, int in_flight,
            int rate, std::chrono::milliseconds duration, std::chrono::milliseconds warmup,
            bool baseline, bool until_decision, bool over_nats, bool* ok) {
  Row row{protocol + (over_nats ? "-n" : "") + (until_decision ? "-d" : ""), participants,
          in_flight};
  row.coordinator_measured = topo.started_coordinator();
  LoadOptions load;
  load.host = topo.api_host();
  load.port = topo.api_port();
  if (!topo.started_coordinator()) load.drain = std::chrono::seconds(30);
  load.in_flight = in_flight;
  load.rate = rate;
  load.duration = duration;
  load.warmup = warmup;
  load.wait_for_decision = until_decision;
  const std::string body = topo.TransactionBody(protocol, participants);
  load.body = [&body](uint64_t) { return body; };
  // A saga's last action decides and ends it at once; a commit decision comes a phase earlier.
  std::vector<std::string> done = {protocol == "saga" ? "completed" : "committed"};
  if (until_decision && protocol != "saga") done.push_back("committing");
  BenchTopology::CpuSeconds cpu_start;
  load.on_measure_start = [&] { cpu_start = topo.Cpu(); };
  auto terminal_ok = [&done](const std::string& b) {
    return std::any_of(done.begin(), done.end(), [&b](const std::string& state) {
      return b.find("\"state\":\"" + state + "\"") != std::string::npos;
    });
  };
  LoadResult r =
      over_nats ? RunNatsLoad(load, topo.nats_url(), terminal_ok) : RunHttpLoad(load, terminal_ok);
  const BenchTopology::CpuSeconds cpu_end = topo.Cpu();
  if (r.completed > 0) {
    const double n = static_cast<double>(r.completed);
    row.coordinator_us_per_tx = 1e6 * (cpu_end.coordinator - cpu_start.coordinator) / n;
    row.system_us_per_tx = 1e6 * (cpu_end.system - cpu_start.system) / n;
    row.coordinator_switches_per_tx =
        static_cast<double>(cpu_end.coordinator_switches - cpu_start.coordinator_switches) / n;
    row.system_switches_per_tx =
        static_cast<double>(cpu_end.system_switches - cpu_start.system_switches) / n;
  }
  row.tps = static_cast<double>(r.completed) / std::max(r.seconds, 0.001);
  row.p50 = Percentile(r.latency_us, 0.50);
  row.p90 = Percentile(r.latency_us, 0.90);
  row.p99 = Percentile(r.latency_us, 0.99);
  row.max = r.latency_us.empty() ? 0 : *std::max_element(r.latency_us.begin(), r.latency_us.end());
  row.failed = r.failed;
  row.open_loop = rate > 0;
  row.not_started = r.not_started;
  row.rss_kb = topo.CoordinatorPeakRssKb();
  for (const auto& e : r.errors) std::cerr << "  " << protocol << ": " << e << "\n";
  if (r.completed == 0 || r.failed > 0) *ok = false;
  BaselineOptions b;
  b.nats_url = topo.nats_url();
  b.protocol = protocol;
  b.in_flight = in_flight;
  b.duration = duration;
  b.warmup = warmup;
  if (baseline) {
    b.participants = topo.EchoResponders(participants);
    const BaselineResult br = RunBaseline(b);
    if (!br.error.empty()) {
      std::cerr << "baseline: " << br.error << "\n";
      *ok = false;
    }
    row.baseline_tps = static_cast<double>(br.completed) / std::max(br.seconds, 0.001);
  }
  if (baseline && !until_decision) {
    // The same round trips, to the participants txc drove, with no coordinator.
    b.participants = topo.ParticipantNames(participants);
    b.real_participants = true;
    const BenchTopology::CpuSeconds before = topo.Cpu();
    BaselineResult br = RunBaseline(b);
    const BenchTopology::CpuSeconds after = topo.Cpu();
    if (!br.error.empty()) {
      std::cerr << "bound: " << br.error << "\n";
      *ok = false;
    }
    row.bound_tps = static_cast<double>(br.completed) / std::max(br.seconds, 0.001);
    row.bound_p50 = Percentile(br.latency_us, 0.50);
    if (br.finished > 0) {
      // Everything but the coordinator, which has nothing to do meanwhile.
      row.bound_us_per_tx =
          1e6 * ((after.system - after.coordinator) - (before.system - before.coordinator)) /
          static_cast<double>(br.finished);
    }
  }
  return row;
}

}  // namespace

int main(int argc, char** argv) {
  InstallCrashReport();
  // A line at a time: what was printed before a crash is not lost in the buffer.
  std::setvbuf(stdout, nullptr, _IOLBF, 0);
  Flags flags;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    const std::string key = arg.rfind("--", 0) == 0 ? arg.substr(2) : "";
    if (flags.switches.count(key)) {
      flags.switches[key] = true;
    } else if (flags.values.count(key) && i + 1 < argc) {
      flags.values[key] = argv[++i];
    } else {
      std::cerr << "txc-bench: bad argument " << arg << " (see the header of bench/main.cpp)\n";
      return 2;
    }
  }
  if (flags.switches["echo"])
    return RunEchoResponder(flags.values["nats-url"], flags.values["name"]);

  const bool smoke = flags.switches["smoke"];
  if (flags.values["api"] != "http" && flags.values["api"] != "nats") {
    std::cerr << "txc-bench: --api is http or nats\n";
    return 2;
  }
  const bool over_nats = flags.values["api"] == "nats";
  if (flags.Int("rate") > 0 &&
      (flags.switches["scaling"] || flags.Int("recovery") > 0 || flags.Int("transactions") > 0)) {
    std::cerr << "txc-bench: --rate drives the protocol rows only, not --scaling, --recovery or "
                 "--transactions\n";
    return 2;
  }
  BenchTopology topo(argv[0], flags.values["synchronous"], flags.values["coordinator-bin"],
                     flags.values["participant-bin"]);
  topo.set_retention(flags.values["retention"]);
  topo.set_nats_api(over_nats || smoke);
  if (!topo.Connect(flags.values["nats-url"], flags.values["coordinator-url"])) return 2;
  if (!topo.started_coordinator() && flags.Int("recovery") > 0) {
    std::cerr << "txc-bench: --recovery kills and restarts the coordinator: only one it started\n";
    return 2;
  }
  const int max_participants =
      flags.switches["scaling"] ? 8 : std::max(2, flags.Int("participants"));
  if (!topo.Start(max_participants,
                  flags.switches["scaling"] ? 1024 + 64 : flags.Int("in-flight") + 64)) {
    return 1;
  }
  if (flags.values["nats-url"].empty() && flags.values["coordinator-url"].empty()) {
    std::printf(
        "txc-bench on %ld cores: nats-server, txc-coordinator (synchronous=%s), %d participants "
        "and this driver on one machine\n",
        sysconf(_SC_NPROCESSORS_ONLN), flags.values["synchronous"].c_str(), max_participants);
  } else {
    std::printf(
        "txc-bench on %ld cores, connected to nats %s and coordinator %s; %d participants "
        "and this driver here\n",
        sysconf(_SC_NPROCESSORS_ONLN), topo.nats_url().c_str(),
        flags.values["coordinator-url"].c_str(), max_participants);
  }
  bool ok = true;

  if (const int n = flags.Int("recovery"); n > 0) {
    const double seconds = topo.MeasureRecovery(n);
    std::printf(
        "recovery: %d unfinished transactions terminal %.2f s after the coordinator started\n", n,
        seconds);
    return seconds >= 0 ? 0 : 1;
  }
  if (const int n = flags.Int("transactions"); n > 0) {
    const auto r = topo.RunUntil(n, flags.Int("in-flight"), over_nats);
    std::printf("%d transactions (2pc, %d participants, %d in flight, over %s) in %.1f s; ", n,
                flags.Int("participants"), flags.Int("in-flight"), over_nats ? "NATS" : "REST",
                r.seconds);
    if (topo.started_coordinator()) {
      std::printf(
          "coordinator peak RSS %.1f MB, RSS at the end %.1f MB; log file and WAL %.1f MB; ",
          static_cast<double>(r.peak_rss_kb) / 1024, static_cast<double>(r.end_rss_kb) / 1024,
          static_cast<double>(r.log_bytes) / (1024 * 1024));
    }
    std::printf("slowest %.1f ms\n", static_cast<double>(r.max_latency_us) / 1000);
    return r.ok ? 0 : 1;
  }

  std::vector<std::string> protocols = {"2pc", "3pc", "saga"};
  if (flags.values["protocol"] != "all") protocols = {flags.values["protocol"]};
  const auto duration = std::chrono::milliseconds(smoke ? 1000 : flags.Int("duration-s") * 1000);
  const auto warmup = std::chrono::milliseconds(smoke ? 300 : flags.Int("warmup-s") * 1000);
  const bool baseline = !flags.switches["no-baseline"];
  if (flags.values["wait"] != "end" && flags.values["wait"] != "decision") {
    std::cerr << "txc-bench: --wait is end or decision\n";
    return 2;
  }
  const bool until_decision = flags.values["wait"] == "decision";
  if (until_decision) {
    std::printf(
        "answered at the decision (?wait=decision): rows marked -d; the baseline is the "
        "same\n");
  }
  if (flags.Int("rate") > 0) {
    std::printf(
        "rows driven at %d tx/s (open loop) print no `ratio` or `of bound`: the baseline and the "
        "bound run closed-loop, their tx/s is a capacity and txc's the rate at most\n",
        flags.Int("rate"));
  }
  PrintHeader();
  if (flags.switches["scaling"]) {
    for (int n : {2, 4, 8}) {
      for (int c : {1, 16, 256, 1024}) {
        PrintRow(Measure(topo, "2pc", n, c, 0, duration, warmup, baseline, until_decision,
                         over_nats, &ok));
      }
    }
  } else {
    for (const auto& p : protocols) {
      PrintRow(Measure(topo, p, flags.Int("participants"), smoke ? 16 : flags.Int("in-flight"),
                       flags.Int("rate"), duration, warmup, baseline, until_decision, over_nats,
                       &ok));
    }
    // The smoke also takes the answer-at-the-decision path once, the other API once, and
    // drives the same nats-server and coordinator once more as a benchmark that connects to them.
    if (smoke && !until_decision) {
      PrintRow(Measure(topo, "2pc", flags.Int("participants"), 16, 0, duration, warmup,
                       /*baseline=*/false, /*until_decision=*/true, over_nats, &ok));
    }
    if (smoke) {
      PrintRow(Measure(topo, "2pc", flags.Int("participants"), 16, 0, duration, warmup,
                       /*baseline=*/false, until_decision, !over_nats, &ok));
    }
    if (smoke && flags.values["coordinator-url"].empty()) {
      BenchTopology connected(argv[0], flags.values["synchronous"], "",
                              flags.values["participant-bin"]);
      std::printf("connected to them (--nats-url %s --coordinator-url http://%s:%d):\n",
                  topo.nats_url().c_str(), topo.api_host().c_str(), topo.api_port());
      if (!connected.Connect(topo.nats_url(),
                             "http://" + topo.api_host() + ":" + std::to_string(topo.api_port())) ||
          !connected.Start(2, 0)) {
        return 1;
      }
      PrintRow(
          Measure(connected, "2pc", 2, 16, 0, duration, warmup, baseline, false, over_nats, &ok));
    }
  }
  if (!ok) std::printf("txc-bench: some transactions failed (see above)\n");
  return ok ? 0 : 1;
}
