// ParticipantRegistry: which participant instances the coordinator has heard from, and when
// (docs/protocol.md, "Heartbeat"). Heartbeats come in from the NATS delivery thread; the REST API
// reads from its threads. Pure bookkeeping: time comes from the injected Clock, nothing here does
// I/O.
//
// An instance is live while its last heartbeat is at most window_factor × its announced interval
// old; a participant is live while one of its instances is. A leaving heartbeat removes the
// instance at once. Instances silent for forget_after are dropped, and a participant with no
// instance left is dropped with its last one.
//
// Bounded: heartbeats are not authenticated (whoever may publish on txc.heartbeat.> can send
// them; restrict that with NATS permissions), so at most max_instances are tracked. A new
// instance that finds the registry full first makes room by dropping every instance that is not
// live; if all are live, it is not tracked (the instances already known keep their places) and
// on_full is told.
//
// Thread safety: every method may be called from any thread.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <shared_mutex>
#include <string>
#include <vector>

#include "core/transaction.h"
#include "engine/clock.h"
#include "txc/status.h"
#include "txc/wire.h"

namespace txc::liveness {

class ParticipantRegistry {
 public:
  struct Overflow {
    size_t dropped = 0;        // heartbeats of new instances not tracked since the last report
    size_t max_instances = 0;  // the limit (Options::max_instances)
    std::string participant;   // the last one not tracked
    std::string instance;
  };

  struct Options {
    int window_factor = 3;
    // The interval assumed for a participant never heard from (only in error messages).
    core::Duration default_interval{1000};
    // After the NATS connection comes up, refuse nothing for this long: nobody has been heard
    // yet. One window of the SDK's default 1 s interval.
    core::Duration startup_grace{3000};
    core::Duration forget_after{10 * 60 * 1000};
    // The most instances tracked, over all participants.
    size_t max_instances = 10'000;
    // Scans of every instance (to forget the silent ones, or to make room) run at most this
    // often, so that a heartbeat does not cost a scan of them all.
    core::Duration sweep_every{1000};
    // Called when heartbeats of new instances were not tracked for want of room: at the first
    // such heartbeat, then at most once per full_report_every, with how many since the last call.
    // Runs on the caller of Heard, without the registry's lock held.
    std::function<void(const Overflow&)> on_full;
    core::Duration full_report_every{60 * 1000};
  };

  struct Instance {
    std::string id;
    core::TimePoint last_seen;  // wall clock, for people
    int64_t age_ms = 0;         // since the last heartbeat (steady clock)
    int interval_ms = 0;
    bool live = false;
  };
  struct Participant {
    std::string name;
    bool live = false;
    std::vector<Instance> instances;  // sorted by id
  };

  // `clock` must outlive the registry.
  explicit ParticipantRegistry(const engine::Clock& clock);
  ParticipantRegistry(const engine::Clock& clock, Options options);

  // Records a heartbeat (already decoded and checked against its subject).
  void Heard(const wire::Heartbeat& heartbeat);
  // The NATS connection came up (true) or went down (false). Until it is up, and for
  // startup_grace after, CheckLive refuses nothing.
  void ConnectionChanged(bool up);

  // Every participant heard from and not yet forgotten, sorted by name.
  std::vector<Participant> Snapshot() const;
  // Live instances per participant name (for the metrics gauge).
  std::map<std::string, int> LiveInstances() const;

  // Ok if each of `names` has a live instance, or if nothing can be known yet (see
  // ConnectionChanged). Otherwise kFailedPrecondition naming the first participant without one:
  //   participant "payments" has no live instance (no heartbeat within 3 s)
  Status CheckLive(const std::vector<std::string>& names) const;

 private:
  struct Entry {
    engine::SteadyTime heard;
    core::TimePoint heard_wall;
    int interval_ms = 0;
  };
  using Instances = std::map<std::string, Entry>;  // by instance id

  core::Duration Window(const Entry& e) const;
  bool Live(const Entry& e, engine::SteadyTime now) const;
  // Drops the instances `drop` selects. Caller holds mu_ exclusively.
  template <typename Pred>
  void DropLocked(Pred drop);
  // Records a heartbeat of an instance not tracked yet, if there is room (or room can be made);
  // returns what to report to on_full, if anything. Caller holds mu_ exclusively.
  std::optional<Overflow> AddLocked(const wire::Heartbeat& heartbeat, engine::SteadyTime now);

  const engine::Clock& clock_;
  const Options options_;
  mutable std::shared_mutex mu_;
  std::map<std::string, Instances> participants_;     // guarded by mu_
  size_t instances_ = 0;                              // guarded by mu_; over all participants
  std::optional<engine::SteadyTime> connected_at_;    // guarded by mu_; nullopt: disconnected
  std::optional<engine::SteadyTime> last_forget_;     // guarded by mu_
  std::optional<engine::SteadyTime> last_make_room_;  // guarded by mu_
  std::optional<engine::SteadyTime> last_report_;     // guarded by mu_
  size_t unreported_drops_ = 0;                       // guarded by mu_
};

}  // namespace txc::liveness
