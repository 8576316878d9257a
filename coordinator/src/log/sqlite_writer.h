// SqliteWriter: the log's write connection and its cached statements. It applies groups of log
// records inside one transaction; the group-commit queue and thread live in SqliteTxLog.
// Not thread-safe: after Open, only the log-writer thread uses it.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "core/actions.h"
#include "log/sqlite_statement.h"
#include "txc/status.h"

namespace txc::log {

class SqliteWriter {
 public:
  // Opens (creating if needed) the database at `path`, switches it to WAL with the given
  // synchronous level ("FULL" or "NORMAL"), enables foreign keys, migrates the schema and
  // prepares the statements.
  static Result<std::unique_ptr<SqliteWriter>> Open(const std::string& path,
                                                    const std::string& synchronous,
                                                    int busy_timeout_ms);

  // Applies every record of every batch, in order, between BEGIN IMMEDIATE and COMMIT, leaving
  // out the statements a later record of the group overwrites (GroupPlan). On any
  // failure the transaction is rolled back (nothing of the group is applied) and the error,
  // naming the record that failed, is returned.
  Status ApplyGroup(const std::vector<const std::vector<core::LogRecord>*>& batches);

  // Deletes, in one transaction, up to `limit` terminal transactions created and last updated
  // before `before_ms` (ms since the Unix epoch), oldest first, with their branches, attempts
  // and events. Returns how many transactions were deleted; kDataLoss if COMMIT failed (the file
  // is then in doubt), another error if the purge was rolled back.
  Result<size_t> PurgeFinished(int64_t before_ms, size_t limit);

 private:
  SqliteWriter() = default;
  // `branch_state`: GroupPlan::branch_state of this record (used by TxCreated only).
  Status Apply(const core::LogRecord& record,
               const std::vector<const core::BranchChanged*>& branch_state);
  Status Apply(const core::TxCreated& r,
               const std::vector<const core::BranchChanged*>& branch_state);
  Status Apply(const core::TxStateChanged& r);
  Status Apply(const core::BranchChanged& r);
  Status Apply(const core::AttemptRecorded& r);
  Status Apply(const core::AttentionChanged& r);
  Status Apply(const core::OperatorActed& r);
  Status InsertEvent(const std::string& id, const core::TxEvent& e);
  Status LoadHistorySeq();
  // An UPDATE that matched no row means the record refers to something never created.
  Status ExpectOneChange();

  SqliteDb db_;
  std::unique_ptr<SqliteStatement> begin_;
  std::unique_ptr<SqliteStatement> commit_;
  std::unique_ptr<SqliteStatement> rollback_;
  std::unique_ptr<SqliteStatement> insert_tx_;
  std::unique_ptr<SqliteStatement> insert_branch_;
  std::unique_ptr<SqliteStatement> update_tx_state_;
  std::unique_ptr<SqliteStatement> update_branch_;
  std::unique_ptr<SqliteStatement> insert_attempt_;
  std::unique_ptr<SqliteStatement> update_branch_attention_;
  std::unique_ptr<SqliteStatement> update_tx_attention_;
  std::unique_ptr<SqliteStatement> insert_event_;
  std::unique_ptr<SqliteStatement> load_history_seq_;
  std::unique_ptr<SqliteStatement> store_history_seq_;
  int64_t history_seq_ = 0;  // the last seq given to an attempt or event (log_counters)
  std::unique_ptr<SqliteStatement> select_purge_;
  std::vector<std::unique_ptr<SqliteStatement>> purge_steps_;  // run in order after select_purge_
  std::vector<const core::LogRecord*> records_;  // ApplyGroup's, kept for its capacity
};

}  // namespace txc::log
