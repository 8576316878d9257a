// The largest retry budget a transaction may have. A POST body's retry_budget and the
// coordinator's defaults for transactions that set none (--retry-max-attempts,
// --retry-deadline) are held to the same limits, so a default is never a budget the API would
// refuse.
#pragma once

#include <cstdint>

namespace txc::core {

inline constexpr int64_t kMaxRetryBudgetAttempts = 1'000'000;
inline constexpr int64_t kMaxRetryBudgetDeadlineMs = 30LL * 24 * 3600 * 1000;  // 30 days

}  // namespace txc::core
