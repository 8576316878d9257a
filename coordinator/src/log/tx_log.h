// TxLog: the coordinator's durable transaction log. The SQLite implementation is the only source
// of truth about decisions; everything in memory can be rebuilt from it.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "core/actions.h"
#include "core/transaction.h"
#include "txc/status.h"

namespace txc::log {

struct TxFilter {
  std::optional<core::TxState> state;
  std::optional<core::Protocol> protocol;
  std::optional<bool> needs_attention;
  int limit = 50;
  std::string cursor;  // opaque; empty for the first page
};

struct TxPage {
  std::vector<core::Transaction> items;  // newest first; branches filled, history not
  std::string next_cursor;               // empty when there is no further page
};

class TxLog {
 public:
  using Done = std::function<void(Status)>;
  virtual ~TxLog() = default;

  // Queues `records` to be applied in order, atomically, and made durable. `done` (if not empty)
  // runs exactly once, on an internal thread, with Ok only after the records, and everything
  // appended before them, are on disk (synchronous=FULL). An empty batch is a barrier.
  // Concurrent appends are batched into one commit (group commit). After a write or sync fails
  // the log is poisoned: that append and every later one fail with kDataLoss.
  // kUrgent: someone waits for this (a decision before its messages, a barrier): commit as soon
  // as possible. kLazy: it may wait a moment for an urgent append to share its commit (one
  // fsync instead of two); `done`, if any, then runs with that commit.
  enum class Urgency { kUrgent, kLazy };
  virtual void Append(std::vector<core::LogRecord> records, Done done,
                      Urgency urgency = Urgency::kUrgent) = 0;

  // Every transaction not in a terminal state, with branches (no history), oldest first.
  virtual Result<std::vector<core::Transaction>> LoadUnfinished() = 0;

  // One transaction with its branches; with `with_history`, each branch's attempts too.
  virtual Result<std::optional<core::Transaction>> Find(const std::string& id,
                                                        bool with_history) = 0;
  virtual Result<std::optional<core::Transaction>> FindByIdempotencyKey(const std::string& key) = 0;
  virtual Result<TxPage> List(const TxFilter& filter) = 0;

  // Ok while appends can still succeed; the error that poisoned the log otherwise.
  virtual Status Health() = 0;
};

}  // namespace txc::log
