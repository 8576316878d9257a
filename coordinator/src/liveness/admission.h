// Admission: the liveness check POST /v1/transactions runs before anything is logged. Every
// participant a transaction names must have a live instance (ParticipantRegistry::CheckLive).
#pragma once

#include <string>
#include <vector>

#include "liveness/participant_registry.h"
#include "log/tx_log.h"
#include "txc/status.h"

namespace txc::liveness {

// Ok, or the registry's kFailedPrecondition. A request whose Idempotency-Key is already logged
// is let through whatever the registry says: it is a client's retry, and it must get the
// transaction it started (which may commit), never a refusal that reads "nothing happened".
// Errors reading the log let the request through too (Begin then reports them).
Status AdmitTransaction(const ParticipantRegistry& registry, log::TxLog& log,
                        const std::vector<std::string>& participants,
                        const std::string& idempotency_key);

}  // namespace txc::liveness
