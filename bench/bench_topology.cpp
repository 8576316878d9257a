#include "bench_topology.h"

#include <httplib.h>
#include <signal.h>
#include <stdlib.h>
#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <iterator>
#include <nlohmann/json.hpp>
#include <random>
#include <sstream>
#include <thread>

#include "http_load.h"
#include "nats_load.h"
#include "wait_for.h"

namespace txc::bench {
namespace {

int64_t StatusField(const std::string& status_path, const std::string& field) {
  std::ifstream in(status_path);
  for (std::string line; std::getline(in, line);) {
    if (line.rfind(field + ":", 0) == 0) return std::atoll(line.c_str() + field.size() + 1);
  }
  return 0;
}

std::string ProcStatus(pid_t pid) { return "/proc/" + std::to_string(pid) + "/status"; }

// Context switches (voluntary and not) of every thread of `pid` so far (0 if it is gone). Threads
// that have exited are not counted: the processes measured keep theirs (pools) for their life.
int64_t SwitchesOf(pid_t pid) {
  int64_t n = 0;
  std::error_code ec;
  std::filesystem::directory_iterator it("/proc/" + std::to_string(pid) + "/task", ec);
  for (; !ec && it != std::filesystem::directory_iterator(); it.increment(ec)) {
    const std::string status = it->path().string() + "/status";
    n += StatusField(status, "voluntary_ctxt_switches") +
         StatusField(status, "nonvoluntary_ctxt_switches");
  }
  return n;
}

// utime + stime of `pid`, in seconds (0 if it is gone).
double CpuSecondsOf(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string stat((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  // Fields after the command (which may hold spaces): state is field 3, utime 14, stime 15.
  const size_t close = stat.rfind(')');
  if (close == std::string::npos) return 0;
  std::istringstream fields(stat.substr(close + 2));
  std::string field;
  long long utime = 0, stime = 0;
  for (int i = 3; i <= 15 && fields >> field; ++i) {
    if (i == 14) utime = std::atoll(field.c_str());
    if (i == 15) stime = std::atoll(field.c_str());
  }
  return static_cast<double>(utime + stime) / static_cast<double>(sysconf(_SC_CLK_TCK));
}

}  // namespace

BenchTopology::BenchTopology(std::string self_path, std::string synchronous,
                             std::string coordinator_bin, std::string participant_bin)
    : self_path_(std::move(self_path)),
      synchronous_(std::move(synchronous)),
      coordinator_bin_(coordinator_bin.empty() ? TXC_COORDINATOR_BIN : std::move(coordinator_bin)),
      participant_bin_(participant_bin.empty() ? TXC_TEST_PARTICIPANT_BIN
                                               : std::move(participant_bin)) {
  std::string tmpl = (std::filesystem::temp_directory_path() / "txc-bench-XXXXXX").string();
  if (mkdtemp(tmpl.data()) != nullptr) dir_ = tmpl;
  api_port_ = testing::FreePort();
}

BenchTopology::~BenchTopology() {
  coordinator_.reset();
  participants_.clear();
  echoes_.clear();
  std::error_code ec;
  if (!dir_.empty()) std::filesystem::remove_all(dir_, ec);
}

bool BenchTopology::WaitReady(testing::Process* p) {
  const bool up =
      testing::WaitFor([p] { return p->Log().find("ready") != std::string::npos || !p->Running(); },
                       std::chrono::seconds(30));
  if (up && p->Running()) return true;
  std::cerr << "txc-bench: a process did not start:\n" << p->Log() << "\n";
  return false;
}

bool BenchTopology::Connect(const std::string& nats_url, const std::string& coordinator_url) {
  if (nats_url.empty() && coordinator_url.empty()) return true;
  if (nats_url.empty() || coordinator_url.empty()) {
    // A coordinator of this run's own on a shared NATS would answer the other coordinator's
    // participants' status queries (abort, by presumed abort: it never heard of their
    // transactions); one elsewhere would not see this run's participants.
    std::cerr << "txc-bench: --nats-url and --coordinator-url go together (the coordinator's "
                 "own nats-server)\n";
    return false;
  }
  std::string rest = coordinator_url;
  if (rest.rfind("http://", 0) == 0) rest = rest.substr(7);
  if (!rest.empty() && rest.back() == '/') rest.pop_back();
  const size_t colon = rest.rfind(':');
  int port = 0;
  const bool port_ok =
      colon != std::string::npos &&
      std::from_chars(rest.data() + colon + 1, rest.data() + rest.size(), port).ptr ==
          rest.data() + rest.size() &&
      port > 0 && port <= 65535;
  const std::string host = port_ok ? rest.substr(0, colon) : "";
  if (!port_ok || host.empty() || host.find_first_of("/:[]@") != std::string::npos) {
    std::cerr << "txc-bench: --coordinator-url is http://HOST:PORT (IPv4 or a name; no TLS), not "
              << coordinator_url << "\n";
    return false;
  }
  external_nats_url_ = nats_url;
  external_api_host_ = host;
  api_host_ = host;
  api_port_ = port;
  // Names of this run's own: other benchmarks, or the services themselves, may use this NATS,
  // and two participants of one name must share one database.
  std::random_device random;
  char suffix[16];
  std::snprintf(suffix, sizeof(suffix), "%08x", static_cast<unsigned>(random()));
  name_prefix_ = std::string("bench-") + suffix + "-";
  return true;
}

std::string BenchTopology::ParticipantName(int i) const {
  return name_prefix_ + "p" + std::to_string(i);
}

BenchTopology::Probe BenchTopology::ProbeCoordinator(int participants) const {
  httplib::Client c(api_host_, api_port_);
  c.set_connection_timeout(2);
  c.set_read_timeout(5);
  auto ready = c.Get("/readyz");
  if (!ready || ready->status != 200) return Probe::kWait;
  if (participants == 0) return Probe::kReady;
  auto res = c.Get("/v1/participants");
  if (!res) return Probe::kWait;
  if (res->status == 401 || res->status == 403) return Probe::kNeedsToken;
  if (res->status == 404 || res->status == 503) return Probe::kReady;  // liveness not tracked
  if (res->status != 200) return Probe::kWait;                         // 429, say
  const auto doc = nlohmann::json::parse(res->body, nullptr, false);
  if (!doc.is_object() || !doc.contains("participants")) return Probe::kWait;
  for (int i = 0; i < participants; ++i) {
    const auto& list = doc["participants"];
    const bool live = std::any_of(list.begin(), list.end(), [&](const nlohmann::json& p) {
      return p.value("name", "") == ParticipantName(i) && p.value("live", false);
    });
    if (!live) return Probe::kWait;
  }
  return Probe::kReady;
}

bool BenchTopology::AwaitCoordinator(int participants) const {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (true) {
    const Probe p = ProbeCoordinator(participants);
    if (p == Probe::kReady) return true;
    if (p == Probe::kNeedsToken) {
      std::cerr << "txc-bench: the coordinator at " << api_host_ << ":" << api_port_
                << " wants a token; txc-bench sends none\n";
      return false;
    }
    if (std::chrono::steady_clock::now() >= deadline) {
      std::cerr << "txc-bench: the coordinator at " << api_host_ << ":" << api_port_
                << " is not ready, or does not see this benchmark's participants live on "
                << nats_url() << "\n";
      return false;
    }
    // Someone else's coordinator, maybe rate limited: a few probes a second.
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
}

bool BenchTopology::Start(int participants, int http_threads) {
  http_threads_ = http_threads;
  if (external_nats_url_.empty()) nats_ = std::make_unique<testing::NatsServer>();
  if ((nats_ && !nats_->Running()) || dir_.empty()) {
    std::cerr << "txc-bench: cannot start nats-server or create a temp directory\n";
    return false;
  }
  // Someone else's coordinator: reachable at all, before anything is started for it.
  if (!started_coordinator() && !AwaitCoordinator(0)) return false;
  for (int i = 0; i < participants; ++i) {
    const std::string name = ParticipantName(i);
    participants_.push_back(testing::Process::Start(
        {participant_bin_, "--name", name, "--db", dir_ + "/" + name + ".db", "--nats-url",
         nats_url(), "--null-handlers", "1"},
        {}, dir_ + "/" + name + ".log"));
    if (!participants_.back() || !WaitReady(participants_.back().get())) return false;
  }
  if (started_coordinator()) return StartCoordinator();
  // It may refuse transactions naming participants it has not heard from yet.
  return AwaitCoordinator(participants);
}

bool BenchTopology::StartCoordinator() {
  coordinator_.reset();
  std::vector<std::string> args = {coordinator_bin_, "--nats-url", nats_url(), "--http-addr",
                                   "127.0.0.1:" + std::to_string(api_port_), "--db-path",
                                   dir_ + "/txc.db", "--synchronous", synchronous_,
                                   "--http-threads", std::to_string(http_threads_),
                                   // MeasureRecovery freezes the participants (SIGSTOP) while it
                                   // creates transactions: they stop heartbeating, and must not
                                   // be refused for it.
                                   "--require-live-participants", "false"};
  if (!retention_.empty()) args.insert(args.end(), {"--retention", retention_});
  if (nats_api_) args.insert(args.end(), {"--nats-api", "true"});
  coordinator_ = testing::Process::Start(args, {}, dir_ + "/coordinator.log");
  if (!coordinator_) return false;
  const bool up = testing::WaitFor(
      [&] {
        httplib::Client c(api_host_, api_port_);
        auto res = c.Get("/readyz");
        return (res && res->status == 200) || !coordinator_->Running();
      },
      std::chrono::seconds(60));
  if (up && coordinator_->Running()) return true;
  std::cerr << "txc-bench: the coordinator did not become ready:\n" << coordinator_->Log() << "\n";
  return false;
}

std::string BenchTopology::TransactionBody(const std::string& protocol, int participants) const {
  nlohmann::json branches = nlohmann::json::array();
  for (int i = 0; i < participants; ++i) {
    branches.push_back(
        {{"participant", ParticipantName(i)}, {"payload", nlohmann::json::object()}});
  }
  return nlohmann::json{{"protocol", protocol}, {"timeout_ms", 30000}, {"branches", branches}}
      .dump();
}

std::vector<std::string> BenchTopology::ParticipantNames(int n) const {
  std::vector<std::string> names;
  for (int i = 0; i < n; ++i) names.push_back(ParticipantName(i));
  return names;
}

std::vector<std::string> BenchTopology::EchoResponders(int n) {
  std::vector<std::string> names;
  for (int i = 0; i < n; ++i) {
    const std::string name = name_prefix_ + "echo" + std::to_string(i);
    names.push_back(name);
    if (static_cast<int>(echoes_.size()) > i) continue;
    echoes_.push_back(
        testing::Process::Start({self_path_, "--echo", "--nats-url", nats_url(), "--name", name},
                                {}, dir_ + "/" + name + ".log"));
    if (echoes_.back()) WaitReady(echoes_.back().get());
  }
  return names;
}

int64_t BenchTopology::CoordinatorPeakRssKb() const {
  return coordinator_ ? StatusField(ProcStatus(coordinator_->pid()), "VmHWM") : 0;
}

int64_t BenchTopology::CoordinatorRssKb() const {
  return coordinator_ ? StatusField(ProcStatus(coordinator_->pid()), "VmRSS") : 0;
}

BenchTopology::CpuSeconds BenchTopology::Cpu() const {
  CpuSeconds cpu;
  if (coordinator_) {
    cpu.coordinator = CpuSecondsOf(coordinator_->pid());
    cpu.coordinator_switches = SwitchesOf(coordinator_->pid());
  }
  const bool nats = nats_ && nats_->Running();
  cpu.system = cpu.coordinator + (nats ? CpuSecondsOf(nats_->pid()) : 0);
  cpu.system_switches = cpu.coordinator_switches + (nats ? SwitchesOf(nats_->pid()) : 0);
  for (const auto& p : participants_) {
    cpu.system += CpuSecondsOf(p->pid());
    cpu.system_switches += SwitchesOf(p->pid());
  }
  return cpu;
}

bool BenchTopology::NoneUnfinished() {
  httplib::Client c(api_host_, api_port_);
  for (const char* state :
       {"preparing", "precommitting", "committing", "aborting", "running", "compensating"}) {
    auto res = c.Get(std::string("/v1/transactions?limit=1&state=") + state);
    if (!res || res->status != 200) return false;
    if (!nlohmann::json::parse(res->body, nullptr, false)["items"].empty()) return false;
  }
  return true;
}

double BenchTopology::MeasureRecovery(int n) {
  if (!started_coordinator()) return -1;
  // Frozen participants receive the prepares but cannot vote: every transaction stays
  // undecided until the coordinator dies.
  for (auto& p : participants_) p->Signal(SIGSTOP);
  LoadOptions load;
  load.host = api_host_;
  load.port = api_port_;
  load.in_flight = 64;
  load.wait = false;
  load.max_transactions = static_cast<uint64_t>(n);
  load.warmup = std::chrono::milliseconds(0);
  load.duration = std::chrono::minutes(10);
  const std::string body = TransactionBody("2pc", 2);
  load.body = [&body](uint64_t) { return body; };
  const LoadResult created = RunHttpLoad(load, [](const std::string&) { return true; });
  if (created.completed != static_cast<uint64_t>(n)) {
    std::cerr << "txc-bench: only " << created.completed << " of " << n
              << " transactions created\n";
    return -1;
  }
  coordinator_->Kill();
  for (auto& p : participants_) p->Signal(SIGCONT);
  const auto start = std::chrono::steady_clock::now();
  if (!StartCoordinator()) return -1;
  if (!testing::WaitFor([&] { return NoneUnfinished(); }, std::chrono::minutes(5))) return -1;
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

BenchTopology::RunResult BenchTopology::RunUntil(int64_t n, int in_flight, bool over_nats) {
  RunResult r;
  LoadOptions load;
  load.host = api_host_;
  load.port = api_port_;
  load.in_flight = in_flight;
  if (!started_coordinator()) load.drain = std::chrono::seconds(30);
  load.max_transactions = static_cast<uint64_t>(n);
  load.warmup = std::chrono::milliseconds(0);
  load.duration = std::chrono::hours(10);
  const std::string body = TransactionBody("2pc", 2);
  load.body = [&body](uint64_t) { return body; };
  auto committed = [](const std::string& b) {
    return b.find("\"state\":\"committed\"") != std::string::npos;
  };
  const LoadResult res =
      over_nats ? RunNatsLoad(load, nats_url(), committed) : RunHttpLoad(load, committed);
  r.ok = res.completed == static_cast<uint64_t>(n) && res.failed == 0;
  for (const auto& e : res.errors) std::cerr << "  " << e << "\n";
  if (!res.latency_us.empty()) {
    r.max_latency_us = *std::max_element(res.latency_us.begin(), res.latency_us.end());
  }
  r.seconds = res.seconds;
  r.peak_rss_kb = CoordinatorPeakRssKb();
  r.end_rss_kb = CoordinatorRssKb();
  for (const char* file : {"/txc.db", "/txc.db-wal"}) {
    std::error_code ec;
    const auto size = std::filesystem::file_size(dir_ + file, ec);
    if (!ec) r.log_bytes += static_cast<int64_t>(size);
  }
  return r;
}

}  // namespace txc::bench
