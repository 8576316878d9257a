// SqliteReader: the log's read connection and its cached queries. Each call runs in its own read
// transaction, so it sees one committed snapshot (a transaction and its branches always agree)
// and never anything the writer has not committed yet.
// Thread-safe: calls are serialised by an internal mutex.
#pragma once

#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "core/transaction.h"
#include "log/sqlite_statement.h"
#include "log/tx_log.h"
#include "txc/status.h"

namespace txc::log {

inline constexpr int kMaxListLimit = 1000;

class SqliteReader {
 public:
  // Opens an existing, already migrated database read-only (query_only).
  static Result<std::unique_ptr<SqliteReader>> Open(const std::string& path, int busy_timeout_ms);

  Result<std::vector<core::Transaction>> LoadUnfinished();
  Result<std::optional<core::Transaction>> Find(const std::string& id, bool with_history);
  Result<std::optional<core::Transaction>> FindByIdempotencyKey(const std::string& key);
  Result<TxPage> List(const TxFilter& filter);

 private:
  // Indexes into list_: which optional filters the query has.
  static constexpr int kByState = 1;
  static constexpr int kByProtocol = 2;
  static constexpr int kByAttention = 4;
  static constexpr int kListQueries = 8;

  SqliteReader() = default;
  // Runs `fn` between BEGIN and COMMIT on the read connection. Caller holds mu_.
  template <typename Fn>
  auto InSnapshot(Fn&& fn) -> decltype(fn());
  // Reads every row of a transactions query (columns as in kTxColumns), then their branches.
  Result<std::vector<core::Transaction>> ReadTransactions(SqliteStatement& query,
                                                          std::vector<int64_t>* seqs);
  Status ReadBranches(core::Transaction& tx);
  Status ReadHistory(core::Transaction& tx);
  Status ReadEvents(core::Transaction& tx);
  Result<std::optional<core::Transaction>> FindOne(SqliteStatement& query, const std::string& key,
                                                   bool with_history);

  std::mutex mu_;
  SqliteDb db_;                                          // guarded by mu_
  std::unique_ptr<SqliteStatement> begin_;               // guarded by mu_
  std::unique_ptr<SqliteStatement> commit_;              // guarded by mu_
  std::unique_ptr<SqliteStatement> unfinished_;          // guarded by mu_
  std::unique_ptr<SqliteStatement> by_id_;               // guarded by mu_
  std::unique_ptr<SqliteStatement> by_key_;              // guarded by mu_
  std::unique_ptr<SqliteStatement> list_[kListQueries];  // guarded by mu_
  std::unique_ptr<SqliteStatement> branches_;            // guarded by mu_
  std::unique_ptr<SqliteStatement> history_;             // guarded by mu_
  std::unique_ptr<SqliteStatement> events_;              // guarded by mu_
};

// List cursors: opaque to clients, they carry the seq of the last item returned.
std::string EncodeCursor(int64_t seq);
Result<int64_t> DecodeCursor(const std::string& cursor);  // kInvalidArgument when malformed

}  // namespace txc::log
