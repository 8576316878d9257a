#include "api/participants_json.h"

namespace txc::api {

nlohmann::json ParticipantsJson(const std::vector<liveness::ParticipantRegistry::Participant>& ps) {
  nlohmann::json participants = nlohmann::json::array();
  for (const auto& p : ps) {
    nlohmann::json instances = nlohmann::json::array();
    for (const auto& i : p.instances) {
      instances.push_back({{"id", i.id},
                           {"live", i.live},
                           {"last_seen", core::ToIso8601(i.last_seen)},
                           {"last_seen_ms", core::ToMillis(i.last_seen)},
                           {"age_ms", i.age_ms},
                           {"interval_ms", i.interval_ms}});
    }
    participants.push_back(
        {{"name", p.name}, {"live", p.live}, {"instances", std::move(instances)}});
  }
  return {{"participants", std::move(participants)}};
}

}  // namespace txc::api
