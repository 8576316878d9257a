#include "topology.h"

#include <httplib.h>

#include <iostream>

#include "wait_for.h"

namespace txc::fault {

Topology::Topology(TopologyOptions options)
    : options_(std::move(options)),
      nats_url_(nats_.url()),
      api_port_(testing::FreePort()),
      participants_(static_cast<size_t>(options_.participants)) {}

std::string Topology::DbPath(int participant) const {
  return options_.dir + "/" + ParticipantName(participant) + ".db";
}

bool Topology::Start() {
  if (!nats_.Running()) {
    std::cerr << "fault: nats-server did not start\n";
    return false;
  }
  for (int i = 0; i < options_.participants; ++i) {
    if (!StartParticipant(i)) return false;
  }
  return StartCoordinator();
}

bool Topology::StartCoordinator() {
  coordinator_.reset();  // SIGKILL a running one: the port and the log must be free
  coordinator_ = testing::Process::Start(
      {options_.coordinator_bin, "--nats-url", nats_url_, "--http-addr",
       "127.0.0.1:" + std::to_string(api_port_), "--db-path", options_.dir + "/txc.db",
       "--reply-timeout-ms", "1000", "--backoff-base-ms", "50", "--backoff-cap-ms", "1000"},
      {}, options_.dir + "/coordinator.log");
  if (!coordinator_) return false;
  // Ready once it serves HTTP; /readyz may lag while NATS restarts, which is not our concern.
  const bool up = testing::WaitFor(
      [&] {
        httplib::Client c("127.0.0.1", api_port_);
        c.set_connection_timeout(0, 200000);
        auto res = c.Get("/healthz");
        return (res && res->status == 200) || !coordinator_->Running();
      },
      std::chrono::seconds(30));
  if (!up || !coordinator_->Running()) {
    std::cerr << "fault: the coordinator did not start; its log:\n" << coordinator_->Log() << "\n";
    return false;
  }
  return true;
}

bool Topology::StartParticipant(int i) {
  auto& slot = participants_[static_cast<size_t>(i)];
  slot.reset();
  std::string accounts;
  for (int a = 0; a < options_.accounts; ++a) {
    accounts += (a ? "," : "") + std::string("a") + std::to_string(a) + "=" +
                std::to_string(options_.initial_balance);
  }
  std::vector<std::string> argv = {options_.participant_bin,
                                   "--name",
                                   ParticipantName(i),
                                   "--db",
                                   DbPath(i),
                                   "--nats-url",
                                   nats_url_,
                                   "--accounts",
                                   accounts,
                                   "--in-doubt-ms",
                                   "1000",
                                   "--resolve-ms",
                                   "200"};
  if (options_.flaky_last && i == options_.participants - 1) {
    // Lost replies make the coordinator re-send (duplicates at the participant); duplicated
    // replies reach it twice; slow handlers outlive the coordinator's 1 s reply timeout.
    for (const char* f :
         {"--drop-reply", "0.02", "--duplicate-reply", "0.02", "--slow", "0.001:1500"}) {
      argv.emplace_back(f);
    }
  }
  const std::string log = options_.dir + "/" + ParticipantName(i) + ".log";
  const size_t logged = testing::ReadFile(log).size();  // earlier runs' lines stay in the log
  slot = testing::Process::Start(argv, {}, log);
  if (!slot) return false;
  testing::Process* p = slot.get();
  const bool up = testing::WaitFor(
      [&] { return p->Log().find("ready", logged) != std::string::npos || !p->Running(); },
      std::chrono::seconds(30));
  if (!up || !p->Running()) {
    std::cerr << "fault: participant " << ParticipantName(i) << " did not start:\n"
              << p->Log() << "\n";
    return false;
  }
  return true;
}

bool Topology::RestartCoordinator() { return StartCoordinator(); }

bool Topology::RestartParticipant(int i) { return StartParticipant(i); }

bool Topology::RestartNats() {
  nats_.Kill();
  return nats_.Start();
}

bool Topology::EnsureRunning() {
  if (!nats_.Running() && !nats_.Start()) return false;
  for (int i = 0; i < options_.participants; ++i) {
    if (!participants_[static_cast<size_t>(i)]->Running() && !StartParticipant(i)) return false;
  }
  if (!coordinator_->Running()) return StartCoordinator();
  return true;
}

}  // namespace txc::fault
