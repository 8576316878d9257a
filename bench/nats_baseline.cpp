#include "nats_baseline.h"

#include <nats/nats.h>
#include <pthread.h>
#include <signal.h>

#include <atomic>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <thread>

#include "nats_event_loop.h"
#include "nats_handles.h"
#include "nats_requester.h"
#include "txc/wire.h"

namespace txc::bench {
namespace {

using Clock = std::chrono::steady_clock;

// A request and a reply shaped like the real ones, so both sides move the same bytes.
std::string SampleRequest(const std::string& participant) {
  wire::BranchRequest r;
  r.gid = "0190f3a2b4c1d2e3f4a5b6c7d8e9f0a1";
  r.participant = participant;
  r.protocol = "2pc";
  r.op = wire::Op::kPrepare;
  r.payload = nlohmann::json::object();
  return wire::Encode(r);
}

struct Slot {
  Clock::time_point started;
  int phase = 0;
  int step = 0;         // sequential: which participant is being asked
  int outstanding = 0;  // replies still expected in this phase
  uint64_t generation = 0;
};

struct Driver {
  const BaselineOptions* options;
  std::unique_ptr<NatsRequester> client;  // set before the first request
  std::vector<std::string> subjects;
  std::vector<std::string> bodies;
  std::vector<Slot> slots;
  std::mutex mu;  // replies arrive on one thread, but Start runs on the caller's
  Clock::time_point measure_from, end;
  std::atomic<bool> stopped{false};
  BaselineResult result;

  void Send(size_t slot, int participant) {
    const std::string reply = client->ReplySubject(slot, slots[slot].generation);
    NatsEventLoop::DeferredFlush defer(client->loop());
    natsConnection_PublishRequest(client->nc(), subjects[participant].c_str(), reply.c_str(),
                                  bodies[participant].data(),
                                  static_cast<int>(bodies[participant].size()));
  }
  void StartPhase(size_t slot) {
    Slot& s = slots[slot];
    if (options->sequential) {
      s.outstanding = 1;
      Send(slot, s.step);
    } else {
      s.outstanding = static_cast<int>(subjects.size());
      for (size_t p = 0; p < subjects.size(); ++p) Send(slot, static_cast<int>(p));
    }
  }
  void StartTx(size_t slot) {
    Slot& s = slots[slot];
    s.started = Clock::now();
    s.phase = 0;
    s.step = 0;
    s.generation++;
    StartPhase(slot);
  }
  void OnReply(const char* subject) {
    size_t slot = 0;
    uint64_t generation = 0;
    client->ParseReplySubject(subject, &slot, &generation);
    std::lock_guard lock(mu);
    if (slot >= slots.size() || slots[slot].generation != generation) return;
    Slot& s = slots[slot];
    if (--s.outstanding > 0) return;
    const int phases = options->sequential ? static_cast<int>(subjects.size()) : options->phases;
    if (options->sequential ? ++s.step < phases : ++s.phase < phases) {
      StartPhase(slot);
      return;
    }
    const auto now = Clock::now();
    if (s.started >= measure_from && now < end) {
      result.completed++;
      result.latency_us.push_back(
          std::chrono::duration_cast<std::chrono::microseconds>(now - s.started).count());
    }
    if (now < end) StartTx(slot);
  }
  static void OnMsg(natsConnection*, natsSubscription* sub, natsMsg* msg, void* closure) {
    auto* d = static_cast<Driver*>(closure);
    d->OnReply(natsMsg_GetSubject(msg));
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
  d.client = std::make_unique<NatsRequester>(options.nats_url, &Driver::OnMsg, &d);
  if (!d.client->error().empty()) {
    d.result.error = d.client->error();
    return d.result;
  }
  for (const auto& p : options.participants) {
    d.subjects.push_back(wire::ParticipantSubject(p, wire::Op::kPrepare));
    d.bodies.push_back(SampleRequest(p));
  }
  d.slots.resize(static_cast<size_t>(options.in_flight));
  const auto start = Clock::now();
  d.measure_from = start + options.warmup;
  d.end = d.measure_from + options.duration;
  {
    std::lock_guard lock(d.mu);
    for (size_t i = 0; i < d.slots.size(); ++i) d.StartTx(i);
  }
  d.client->Flush();
  std::this_thread::sleep_until(d.end);  // the run's length, not a synchronisation
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
