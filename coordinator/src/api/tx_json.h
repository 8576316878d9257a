// How a transaction looks in the REST API.
#pragma once

#include <string>

#include "core/transaction.h"
#include "txc/json_text.h"

namespace txc::api {

// {id, protocol, state, reason, timeout_ms, created_at, updated_at (ISO-8601 UTC), *_ms, branches:
// [{index, participant, state, attempts, last_error, payload, after?, history?}]}. History is
// included when the branches carry it. Written as text (JsonText): every POST answers with it.
std::string TransactionJson(const core::Transaction& tx);
// The same object written as the next value of `out` (an element of the list's `items`).
void WriteTransactionJson(JsonText& out, const core::Transaction& tx);

// GET /v1/transactions/{id}: the above plus `events`, what happened to the transaction as a
// whole, oldest first: [{at, kind, state?, branch?, reason?}], starting with {kind: "created"}.
std::string TransactionDetailJson(const core::Transaction& tx);

}  // namespace txc::api
