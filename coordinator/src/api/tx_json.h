// How a transaction looks in the REST API.
#pragma once

#include <nlohmann/json.hpp>

#include "core/transaction.h"

namespace txc::api {

// {id, protocol, state, reason, timeout_ms, created_at, updated_at (ISO-8601 UTC), *_ms, branches:
// [{index, participant, state, attempts, last_error, payload, after?, history?}]}. History is
// included when the branches carry it.
nlohmann::json TransactionJson(const core::Transaction& tx);

// GET /v1/transactions/{id}: the above plus `events`, what happened to the transaction as a
// whole, oldest first: [{at, kind, state?, branch?, reason?}], starting with {kind: "created"}.
nlohmann::json TransactionDetailJson(const core::Transaction& tx);

}  // namespace txc::api
