#include "nats_load.h"

#include <nats/nats.h>

#include <algorithm>
#include <condition_variable>
#include <cstdlib>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>

#include "nats_event_loop.h"
#include "nats_handles.h"
#include "nats_requester.h"
#include "txc/wire.h"

namespace txc::bench {
namespace {

using Clock = std::chrono::steady_clock;

struct Slot {
  bool busy = false;
  Clock::time_point started;
  uint64_t generation = 0;
};

struct Driver {
  const LoadOptions* options = nullptr;
  const std::function<bool(const std::string&)>* terminal_ok = nullptr;
  std::unique_ptr<NatsRequester> client;  // set before the first request
  std::vector<Slot> slots;
  std::mutex mu;
  std::condition_variable idle_cv;  // a slot became idle
  std::deque<size_t> idle;          // guarded by mu
  uint64_t next = 0;                // guarded by mu; transactions started
  uint64_t answered = 0;            // guarded by mu
  bool over = false;                // guarded by mu; start nothing more
  Clock::time_point measure_from;
  LoadResult result;  // guarded by mu

  // With mu held.
  void Start(size_t slot) {
    Slot& s = slots[slot];
    s.generation++;
    s.busy = true;
    s.started = Clock::now();
    const std::string body = options->body(next++);
    const std::string reply = client->ReplySubject(slot, s.generation);
    natsMsg* msg = nullptr;
    natsMsg_Create(&msg, std::string(wire::kBeginSubject).c_str(), reply.c_str(), body.data(),
                   static_cast<int>(body.size()));
    if (options->wait) {
      natsMsgHeader_Set(msg, "Txc-Wait", options->wait_for_decision ? "decision" : "true");
    }
    NatsEventLoop::DeferredFlush defer(client->loop());
    natsConnection_PublishMsg(client->nc(), msg);
    natsMsg_Destroy(msg);
  }
  // With mu held: closed loop, everything idle starts again.
  void StartIdle() {
    while (!over && options->rate <= 0 && !idle.empty() &&
           (options->max_transactions == 0 || next < options->max_transactions)) {
      const size_t slot = idle.front();
      idle.pop_front();
      Start(slot);
    }
  }
  void OnAnswer(natsMsg* msg) {
    size_t slot = 0;
    uint64_t generation = 0;
    client->ParseReplySubject(natsMsg_GetSubject(msg), &slot, &generation);
    const auto now = Clock::now();
    std::lock_guard lock(mu);
    if (slot >= slots.size() || slots[slot].generation != generation || !slots[slot].busy) return;
    Slot& s = slots[slot];
    const char* status_text = nullptr;
    const int status =
        natsMsgHeader_Get(msg, "Txc-Status", &status_text) == NATS_OK ? std::atoi(status_text) : 0;
    const char* data = natsMsg_GetData(msg);
    const std::string body(data != nullptr ? data : "",
                           static_cast<size_t>(natsMsg_GetDataLength(msg)));
    if (s.started >= measure_from && !over) {
      if ((status == 200 || status == 201) && (*terminal_ok)(body)) {
        result.completed++;
        result.latency_us.push_back(
            std::chrono::duration_cast<std::chrono::microseconds>(now - s.started).count());
      } else {
        result.failed++;
        if (result.errors.size() < 5) {
          result.errors.push_back(natsMsg_IsNoResponders(msg)
                                      ? std::string("no responders on txc.coordinator.begin "
                                                    "(is the coordinator's --nats-api on?)")
                                      : "Txc-Status " + std::to_string(status) + ": " + body);
        }
      }
    }
    s.busy = false;
    answered++;
    idle.push_back(slot);
    StartIdle();
    // The closed loop starts the next one here; only the open loop and the drain need the
    // driver's thread to know (a wake-up per answer would cost the machine a thread switch).
    if (over || options->rate > 0) idle_cv.notify_one();
  }
  static void OnMsg(natsConnection*, natsSubscription* sub, natsMsg* msg, void* closure) {
    auto* d = static_cast<Driver*>(closure);
    d->OnAnswer(msg);
    FreeNatsMsg(msg);
    // At the end of each burst of answers, as the coordinator's engine flushes after a batch.
    int pending = 0;
    if (natsSubscription_GetPending(sub, &pending, nullptr) != NATS_OK || pending == 0) {
      d->client->Flush();
    }
  }
};

}  // namespace

LoadResult RunNatsLoad(const LoadOptions& options, const std::string& nats_url,
                       const std::function<bool(const std::string& body)>& terminal_ok) {
  Driver d;
  d.options = &options;
  d.terminal_ok = &terminal_ok;
  d.client = std::make_unique<NatsRequester>(nats_url, &Driver::OnMsg, &d);
  if (!d.client->error().empty()) {
    d.result.errors.push_back(d.client->error());
  } else {
    d.slots.resize(static_cast<size_t>(options.in_flight));
    const auto start = Clock::now();
    d.measure_from = start + options.warmup;
    const auto end = d.measure_from + options.duration;
    bool measuring = false;
    std::optional<Clock::time_point> drain_until;
    std::unique_lock lock(d.mu);
    for (size_t i = 0; i < d.slots.size(); ++i) d.idle.push_back(i);
    while (true) {
      const auto now = Clock::now();
      if (!drain_until && (now >= end || (options.max_transactions > 0 &&
                                          d.answered >= options.max_transactions))) {
        drain_until = now + options.drain;
        d.over = true;
      }
      if (drain_until) {
        const bool busy =
            std::any_of(d.slots.begin(), d.slots.end(), [](const Slot& sl) { return sl.busy; });
        if (!busy || now >= *drain_until) break;
      }
      if (!measuring && now >= d.measure_from) {
        measuring = true;
        if (options.on_measure_start) {
          lock.unlock();
          options.on_measure_start();
          lock.lock();
        }
      }
      if (!d.over && options.rate > 0) {
        const uint64_t due = static_cast<uint64_t>(
            std::chrono::duration<double>(now - start).count() * options.rate);
        while (d.next + d.result.not_started < due) {
          if (d.idle.empty()) {
            d.result.not_started++;
            continue;
          }
          const size_t slot = d.idle.front();
          d.idle.pop_front();
          d.Start(slot);
        }
      } else {
        d.StartIdle();
      }
      lock.unlock();
      d.client->Flush();
      lock.lock();
      // Paces the open loop and notices the end; answers wake it too.
      d.idle_cv.wait_for(lock, std::chrono::milliseconds(1));
    }
    d.result.seconds =
        std::chrono::duration<double>(std::min(Clock::now(), end) - d.measure_from).count();
  }
  d.client->Close();  // no answer handler runs after this
  return std::move(d.result);
}

}  // namespace txc::bench
