#include "liveness/admission.h"

namespace txc::liveness {

Status AdmitTransaction(const ParticipantRegistry& registry, log::TxLog& log,
                        const std::vector<std::string>& participants,
                        const std::string& idempotency_key) {
  Status live = registry.CheckLive(participants);
  if (live.ok() || idempotency_key.empty()) return live;
  auto earlier = log.FindByIdempotencyKey(idempotency_key);
  if (!earlier.ok() || earlier->has_value()) return Status::Ok();
  return live;
}

}  // namespace txc::liveness
