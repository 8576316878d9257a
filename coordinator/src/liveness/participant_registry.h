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
// Thread safety: every method may be called from any thread.
#pragma once

#include <cstdint>
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
  struct Options {
    int window_factor = 3;
    // The interval assumed for a participant never heard from (only in error messages).
    core::Duration default_interval{1000};
    // After the NATS connection comes up, refuse nothing for this long: nobody has been heard
    // yet. One window of the SDK's default 1 s interval.
    core::Duration startup_grace{3000};
    core::Duration forget_after{10 * 60 * 1000};
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
  // Drops what is past forget_after. Caller holds mu_ exclusively.
  void ForgetLocked(engine::SteadyTime now);

  const engine::Clock& clock_;
  const Options options_;
  mutable std::shared_mutex mu_;
  std::map<std::string, Instances> participants_;   // guarded by mu_
  std::optional<engine::SteadyTime> connected_at_;  // guarded by mu_; nullopt: disconnected
};

}  // namespace txc::liveness
