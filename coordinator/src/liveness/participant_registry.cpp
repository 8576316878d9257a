#include "liveness/participant_registry.h"

#include <algorithm>
#include <mutex>

namespace txc::liveness {
namespace {

template <typename D>
int64_t Millis(D d) {
  return std::chrono::duration_cast<core::Duration>(d).count();
}

// "3 s" for whole seconds, else "1500 ms".
std::string Human(core::Duration d) {
  const int64_t ms = Millis(d);
  return ms % 1000 == 0 ? std::to_string(ms / 1000) + " s" : std::to_string(ms) + " ms";
}

}  // namespace

ParticipantRegistry::ParticipantRegistry(const engine::Clock& clock)
    : ParticipantRegistry(clock, Options{}) {}

ParticipantRegistry::ParticipantRegistry(const engine::Clock& clock, Options options)
    : clock_(clock), options_(options) {}

core::Duration ParticipantRegistry::Window(const Entry& e) const {
  return core::Duration(int64_t{e.interval_ms} * options_.window_factor);
}

bool ParticipantRegistry::Live(const Entry& e, engine::SteadyTime now) const {
  return now - e.heard <= Window(e);
}

void ParticipantRegistry::Heard(const wire::Heartbeat& heartbeat) {
  const engine::SteadyTime now = clock_.Steady();
  std::unique_lock lock(mu_);
  ForgetLocked(now);
  if (heartbeat.leaving) {
    auto it = participants_.find(heartbeat.participant);
    if (it == participants_.end()) return;
    it->second.erase(heartbeat.instance);
    if (it->second.empty()) participants_.erase(it);
    return;
  }
  participants_[heartbeat.participant][heartbeat.instance] =
      Entry{now, clock_.Now(), heartbeat.interval_ms};
}

void ParticipantRegistry::ConnectionChanged(bool up) {
  const engine::SteadyTime now = clock_.Steady();
  std::unique_lock lock(mu_);
  if (up) {
    connected_at_ = now;
  } else {
    connected_at_.reset();
  }
}

void ParticipantRegistry::ForgetLocked(engine::SteadyTime now) {
  for (auto p = participants_.begin(); p != participants_.end();) {
    Instances& instances = p->second;
    for (auto i = instances.begin(); i != instances.end();) {
      // Never forget one that is still live, whatever its interval.
      const bool forget = now - i->second.heard > options_.forget_after && !Live(i->second, now);
      i = forget ? instances.erase(i) : std::next(i);
    }
    p = instances.empty() ? participants_.erase(p) : std::next(p);
  }
}

std::vector<ParticipantRegistry::Participant> ParticipantRegistry::Snapshot() const {
  const engine::SteadyTime now = clock_.Steady();
  std::shared_lock lock(mu_);
  std::vector<Participant> out;
  for (const auto& [name, instances] : participants_) {
    Participant p{name, false, {}};
    for (const auto& [id, e] : instances) {
      if (now - e.heard > options_.forget_after && !Live(e, now)) continue;  // forgotten
      const bool live = Live(e, now);
      p.live = p.live || live;
      p.instances.push_back(Instance{id, e.heard_wall, Millis(now - e.heard), e.interval_ms, live});
    }
    if (!p.instances.empty()) out.push_back(std::move(p));
  }
  return out;
}

std::map<std::string, int> ParticipantRegistry::LiveInstances() const {
  const engine::SteadyTime now = clock_.Steady();
  std::shared_lock lock(mu_);
  std::map<std::string, int> out;
  for (const auto& [name, instances] : participants_) {
    int live = 0;
    for (const auto& [id, e] : instances) live += Live(e, now) ? 1 : 0;
    out[name] = live;
  }
  return out;
}

Status ParticipantRegistry::CheckLive(const std::vector<std::string>& names) const {
  const engine::SteadyTime now = clock_.Steady();
  std::shared_lock lock(mu_);
  // Right after (re)connecting nobody has been heard yet; while disconnected nothing can be.
  if (!connected_at_ || now - *connected_at_ < options_.startup_grace) return Status::Ok();
  for (const std::string& name : names) {
    auto it = participants_.find(name);
    // The window the participant's instances announced; the default one for a stranger.
    core::Duration window = options_.default_interval * options_.window_factor;
    bool live = false;
    if (it != participants_.end()) {
      window = core::Duration(0);
      for (const auto& [id, e] : it->second) {
        live = live || Live(e, now);
        window = std::max(window, Window(e));
      }
    }
    if (!live) {
      return Status::FailedPrecondition("participant \"" + name +
                                        "\" has no live instance (no heartbeat within " +
                                        Human(window) + ")");
    }
  }
  return Status::Ok();
}

}  // namespace txc::liveness
