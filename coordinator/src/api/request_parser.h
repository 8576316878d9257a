// Parses and validates REST requests into commands before anything runs. Never throws; every
// error is kInvalidArgument with a message naming the field, e.g. "branches[1].participant is
// empty".
#pragma once

#include <map>
#include <string>
#include <string_view>

#include "api/transaction_service.h"
#include "log/tx_log.h"

namespace txc::api {

struct ParseLimits {
  size_t max_branches = 64;
  int max_json_depth = 32;
  core::Duration max_timeout{24LL * 3600 * 1000};
};

// POST /v1/transactions body. Fills protocol, branches (saga steps default to running after the
// previous step), timeout and the retry budget's parts given; the idempotency key and request
// hash are the caller's.
// retry_budget.max_attempts and .deadline_ms are limited by core/retry_budget_limits.h.
Result<BeginCommand> ParseBeginRequest(std::string_view body, const ParseLimits& limits);

// GET /v1/transactions query parameters: state, protocol, needs_attention (true|false),
// limit (1..1000), cursor.
Result<log::TxFilter> ParseListQuery(const std::multimap<std::string, std::string>& params);

// POST /v1/transactions/{id}/abort body: empty, or {"reason": "..."}. Returns the reason.
Result<std::string> ParseAbortRequest(std::string_view body);
inline constexpr size_t kMaxAbortReasonBytes = 1000;

// Transaction ids: 1..64 of [A-Za-z0-9_-].
bool IsValidTransactionId(std::string_view id);
// Idempotency-Key header values: 1..128 printable ASCII characters.
bool IsValidIdempotencyKey(std::string_view key);
// A W3C Trace Context traceparent header: "00-<32 hex trace id>-<16 hex parent id>-<2 hex flags>"
// (lower-case; any version but ff; ids not all zero).
bool IsValidTraceparent(std::string_view traceparent);

// A stable fingerprint of a request body (canonical JSON), to tell a retried request from a
// different one sent under the same Idempotency-Key.
std::string RequestFingerprint(std::string_view body);

// Rejects JSON nested deeper than `max_depth` by scanning the text, before a recursive parser
// could run out of stack on it.
Status CheckJsonDepth(std::string_view text, int max_depth);

}  // namespace txc::api
