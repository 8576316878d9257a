#include "nats_baseline.h"

#include <nats/nats.h>
#include <pthread.h>
#include <signal.h>

#include <condition_variable>
#include <cstdio>
#include <memory>
#include <mutex>
#include <random>
#include <string_view>
#include <thread>

#include "nats_event_loop.h"
#include "nats_handles.h"
#include "nats_requester.h"
#include "txc/wire.h"

namespace txc::bench {
namespace {

using Clock = std::chrono::steady_clock;

// What an echo responder is sent: a request shaped like the real ones, so both sides move the
// same bytes.
std::string SampleRequest(const std::string& participant) {
  wire::BranchRequest r;
  r.gid = "0190f3a2b4c1d2e3f4a5b6c7d8e9f0a1";
  r.participant = participant;
  r.protocol = "2pc";
  r.op = wire::Op::kPrepare;
  r.payload = nlohmann::json::object();
  return wire::Encode(r);
}

// The protocol's requests, phase by phase: 2PC and 3PC send each phase's op to every participant
// at once; a saga runs one action per participant, in turn (phase i: participant i).
std::vector<wire::Op> PhaseOps(const std::string& protocol, size_t participants) {
  if (protocol == "3pc") return {wire::Op::kCanCommit, wire::Op::kPreCommit, wire::Op::kDoCommit};
  if (protocol == "saga") return std::vector<wire::Op>(participants, wire::Op::kAction);
  return {wire::Op::kPrepare, wire::Op::kCommit};
}

// A transaction id no coordinator has used: the run's random half, then a count.
std::string RunIdPrefix() {
  std::random_device random;
  char prefix[17];
  std::snprintf(prefix, sizeof(prefix), "%08x%08x", static_cast<unsigned>(random()),
                static_cast<unsigned>(random()));
  return prefix;
}

struct Slot {
  Clock::time_point started;
  std::string gid;  // with real participants: this transaction's
  size_t phase = 0;
  int outstanding = 0;  // replies still expected in this phase
  uint64_t generation = 0;
};

struct Driver {
  const BaselineOptions* options;
  std::unique_ptr<NatsRequester> client;  // set before the first request
  bool sequential = false;
  std::vector<wire::Op> ops;                       // by phase
  std::vector<std::vector<std::string>> subjects;  // by phase, then participant
  std::vector<std::string> echo_bodies;            // by participant
  std::string gid_prefix;
  uint64_t gids = 0;
  std::vector<Slot> slots;
  std::mutex mu;  // replies arrive on one thread, but Start runs on the caller's
  std::condition_variable idle_cv;
  size_t active = 0;  // guarded by mu: transactions under way
  Clock::time_point measure_from, end;
  BaselineResult result;

  std::string RealRequest(const Slot& s, size_t participant) const {
    wire::BranchRequest r;
    r.gid = s.gid;
    r.branch = static_cast<int>(participant);
    r.participant = options->participants[participant];
    r.protocol = options->protocol;
    r.op = ops[s.phase];
    r.payload = nlohmann::json::object();
    if (options->protocol == "3pc") r.participants = options->participants;
    return wire::Encode(r);
  }
  void Send(size_t slot, size_t participant) {
    const Slot& s = slots[slot];
    const std::string reply = client->ReplySubject(slot, s.generation);
    const std::string real = options->real_participants ? RealRequest(s, participant) : "";
    const std::string& body = options->real_participants ? real : echo_bodies[participant];
    NatsEventLoop::DeferredFlush defer(client->loop());
    natsConnection_PublishRequest(client->nc(), subjects[s.phase][participant].c_str(),
                                  reply.c_str(), body.data(), static_cast<int>(body.size()));
  }
  void StartPhase(size_t slot) {
    Slot& s = slots[slot];
    s.generation++;  // a late or duplicate reply of an earlier phase is not one of this phase's
    if (sequential) {
      s.outstanding = 1;
      Send(slot, s.phase);
    } else {
      s.outstanding = static_cast<int>(options->participants.size());
      for (size_t p = 0; p < options->participants.size(); ++p) Send(slot, p);
    }
  }
  void StartTx(size_t slot) {
    Slot& s = slots[slot];
    s.started = Clock::now();
    s.phase = 0;
    if (options->real_participants) {
      char count[17];
      std::snprintf(count, sizeof(count), "%016llx", static_cast<unsigned long long>(gids++));
      s.gid = gid_prefix + count;
    }
    StartPhase(slot);
  }
  // A real participant's answer must be a yes: anything else means the bound measured something
  // other than the protocol's work.
  void CheckReply(std::string_view body) {
    Result<wire::BranchReply> reply = wire::DecodeBranchReply(body);
    if (reply.ok() && reply->outcome == wire::Outcome::kOk) return;
    if (result.error.empty()) {
      result.error =
          "a participant answered " +
          (reply.ok() ? std::string(wire::OutcomeName(reply->outcome)) + " (" + reply->message + ")"
                      : reply.status().ToString());
    }
  }
  void OnReply(const char* subject, std::string_view body) {
    size_t slot = 0;
    uint64_t generation = 0;
    client->ParseReplySubject(subject, &slot, &generation);
    std::lock_guard lock(mu);
    if (slot >= slots.size() || slots[slot].generation != generation) return;
    if (options->real_participants) CheckReply(body);
    Slot& s = slots[slot];
    if (--s.outstanding > 0) return;
    if (++s.phase < ops.size()) {
      StartPhase(slot);
      return;
    }
    const auto now = Clock::now();
    result.finished++;
    if (s.started >= measure_from && now < end) {
      result.completed++;
      result.latency_us.push_back(
          std::chrono::duration_cast<std::chrono::microseconds>(now - s.started).count());
    }
    if (now < end) {
      StartTx(slot);
    } else if (--active == 0) {
      idle_cv.notify_all();
    }
  }
  static void OnMsg(natsConnection*, natsSubscription* sub, natsMsg* msg, void* closure) {
    auto* d = static_cast<Driver*>(closure);
    d->OnReply(
        natsMsg_GetSubject(msg),
        std::string_view(natsMsg_GetData(msg), static_cast<size_t>(natsMsg_GetDataLength(msg))));
    FreeNatsMsg(msg);
    // At the end of each burst of replies, as the engine flushes after each batch of work.
    int pending = 0;
    if (natsSubscription_GetPending(sub, &pending, nullptr) != NATS_OK || pending == 0) {
      d->client->Flush();
    }
  }
};

}  // namespace

BaselineResult RunBaseline(const BaselineOptions& options) {
  Driver d;
  d.options = &options;
  d.sequential = options.protocol == "saga";
  d.ops = PhaseOps(options.protocol, options.participants.size());
  d.gid_prefix = RunIdPrefix();
  d.client = std::make_unique<NatsRequester>(options.nats_url, &Driver::OnMsg, &d);
  if (!d.client->error().empty()) {
    d.result.error = d.client->error();
    return d.result;
  }
  for (wire::Op op : d.ops) {
    auto& phase = d.subjects.emplace_back();
    for (const auto& p : options.participants) phase.push_back(wire::ParticipantSubject(p, op));
  }
  for (const auto& p : options.participants) d.echo_bodies.push_back(SampleRequest(p));
  d.slots.resize(static_cast<size_t>(options.in_flight));
  const auto start = Clock::now();
  d.measure_from = start + options.warmup;
  d.end = d.measure_from + options.duration;
  {
    std::lock_guard lock(d.mu);
    for (size_t i = 0; i < d.slots.size(); ++i) d.StartTx(i);
    d.active = d.slots.size();
  }
  d.client->Flush();
  std::this_thread::sleep_until(d.end);  // the run's length, not a synchronisation
  if (options.real_participants) {
    // Lets the transactions under way finish, so that no participant is left prepared: it would
    // ask the coordinator about them later, during another measurement.
    std::unique_lock lock(d.mu);
    d.idle_cv.wait_until(lock, d.end + std::chrono::seconds(10), [&] { return d.active == 0; });
    // Nothing re-sends a request a participant dropped (its queue full, say): such a slot stood
    // still and the run had fewer transactions in flight than it says.
    if (d.active > 0 && d.result.error.empty()) {
      d.result.error = std::to_string(d.active) + " transactions never finished";
    }
  }
  d.result.seconds = std::chrono::duration<double>(options.duration).count();
  d.client->Close();  // no reply handler runs after this
  return d.result;
}

int RunEchoResponder(const std::string& nats_url, const std::string& name) {
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  natsOptions* opts = nullptr;
  natsOptions_Create(&opts);
  natsOptions_SetURL(opts, nats_url.c_str());
  natsOptions_SetSendAsap(opts, true);  // each reply written at once
  natsConnection* nc = nullptr;
  if (natsConnection_Connect(&nc, opts) != NATS_OK) return 1;
  natsOptions_Destroy(opts);
  static std::string reply;
  reply = wire::Encode(wire::BranchReply{"0190f3a2b4c1d2e3f4a5b6c7d8e9f0a1", 0, wire::Op::kPrepare,
                                         wire::Outcome::kOk, ""});
  natsSubscription* sub = nullptr;
  natsConnection_QueueSubscribe(
      &sub, nc, wire::ParticipantWildcardSubject(name).c_str(), name.c_str(),
      [](natsConnection* c, natsSubscription*, natsMsg* msg, void*) {
        if (const char* to = natsMsg_GetReply(msg)) {
          natsConnection_Publish(c, to, reply.data(), static_cast<int>(reply.size()));
        }
        FreeNatsMsg(msg);
      },
      nullptr);
  natsSubscription_SetPendingLimits(sub, -1, -1);
  natsConnection_Flush(nc);
  std::printf("ready\n");
  std::fflush(stdout);
  int sig = 0;
  sigwait(&signals, &sig);
  natsSubscription_Destroy(sub);
  natsConnection_Close(nc);
  natsConnection_Destroy(nc);
  return 0;
}

}  // namespace txc::bench
