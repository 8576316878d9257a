// The JSON of GET /v1/participants (docs/openapi.yaml, ParticipantList).
#pragma once

#include <vector>

#include <nlohmann/json.hpp>

#include "liveness/participant_registry.h"

namespace txc::api {

nlohmann::json ParticipantsJson(const std::vector<liveness::ParticipantRegistry::Participant>& ps);

}  // namespace txc::api
