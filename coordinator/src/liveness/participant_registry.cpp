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
  std::optional<Overflow> report;
  {
    std::unique_lock lock(mu_);
    if (!last_forget_ || now - *last_forget_ >= options_.sweep_every) {
      last_forget_ = now;
      // Never forget one that is still live, whatever its interval.
      DropLocked(
          [&](const Entry& e) { return now - e.heard > options_.forget_after && !Live(e, now); });
    }
    auto p = participants_.find(heartbeat.participant);
    auto i = p == participants_.end() ? Instances::iterator() : p->second.find(heartbeat.instance);
    const bool known = p != participants_.end() && i != p->second.end();
    if (heartbeat.leaving) {
      if (known) {
        p->second.erase(i);
        --instances_;
        if (p->second.empty()) participants_.erase(p);
      }
    } else if (known) {
      i->second = Entry{now, clock_.Now(), heartbeat.interval_ms};
    } else {
      report = AddLocked(heartbeat, now);
    }
  }
  if (report && options_.on_full) options_.on_full(*report);
}

std::optional<ParticipantRegistry::Overflow> ParticipantRegistry::AddLocked(
    const wire::Heartbeat& heartbeat, engine::SteadyTime now) {
  // Making room scans every instance: at most once per sweep_every, or a flood of new ids would
  // cost a scan each.
  if (instances_ >= options_.max_instances &&
      (!last_make_room_ || now - *last_make_room_ >= options_.sweep_every)) {
    last_make_room_ = now;
    DropLocked([&](const Entry& e) { return !Live(e, now); });
  }
  if (instances_ < options_.max_instances) {
    participants_[heartbeat.participant][heartbeat.instance] =
        Entry{now, clock_.Now(), heartbeat.interval_ms};
    ++instances_;
    return std::nullopt;
  }
  // Live instances keep their places: evicting them for newcomers would let anyone who can
  // publish heartbeats make real participants look dead.
  ++unreported_drops_;
  if (last_report_ && now - *last_report_ < options_.full_report_every) return std::nullopt;
  last_report_ = now;
  Overflow overflow{unreported_drops_, options_.max_instances, heartbeat.participant,
                    heartbeat.instance};
  unreported_drops_ = 0;
  return overflow;
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

template <typename Pred>
void ParticipantRegistry::DropLocked(Pred drop) {
  for (auto p = participants_.begin(); p != participants_.end();) {
    Instances& instances = p->second;
    for (auto i = instances.begin(); i != instances.end();) {
      if (drop(i->second)) {
        i = instances.erase(i);
        --instances_;
      } else {
        ++i;
      }
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
