// BranchStore: the service's SQLite database and, inside it, the SDK's durable branch records
// (table txc_branches). It is the idempotency barrier's storage: one row per (gid, branch) whose
// state moves prepared -> committed | aborted, or is born aborted (null rollback / refused vote).
//
// One connection, guarded by one mutex. Every method except Open/Lock expects the caller to hold
// Lock() for the whole unit of work (typically Begin ... Commit/Rollback), so a handler's writes
// and the record land in one local transaction.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "sqlite_db.h"
#include "txc/status.h"

namespace txc::sdk {

enum class BranchState { kPrepared, kCommitted, kAborted };
const char* BranchStateName(BranchState state);
std::optional<BranchState> ParseBranchState(std::string_view name);

struct BranchRecord {
  std::string gid;
  int branch = 0;
  std::string protocol;
  BranchState state = BranchState::kPrepared;
  std::string payload;        // the request's payload as JSON text
  int64_t updated_at_ms = 0;  // wall clock, milliseconds since the Unix epoch
};

// Wall-clock milliseconds since the epoch: what updated_at stores.
int64_t WallClockMs();

class BranchStore {
 public:
  // Opens (creating if needed) the database with journal_mode=WAL, synchronous=FULL and the
  // given busy timeout, and creates txc_branches. Errors: kUnavailable.
  static Result<std::unique_ptr<BranchStore>> Open(const std::string& path,
                                                   std::chrono::milliseconds busy_timeout);

  std::unique_lock<std::mutex> Lock() { return std::unique_lock<std::mutex>(mu_); }
  sqlite3* db() { return db_.get(); }  // guarded by mu_

  // Local transaction control. Begin() is BEGIN IMMEDIATE: it takes the write lock up front, so
  // two instances sharing the file serialise here (waiting up to busy_timeout) rather than fail
  // on a lock upgrade half-way through a handler.
  Status Begin();
  Status Commit();
  void Rollback();  // if a transaction is open; best effort (logs nothing, cannot fail usefully)
  bool InTransaction();

  // A savepoint inside the open transaction, so a refused handler's writes can be undone while
  // the same transaction records the refusal.
  Status Savepoint();
  Status RollbackToSavepoint();  // also releases it
  Status ReleaseSavepoint();

  Result<std::optional<BranchRecord>> Find(const std::string& gid, int branch);
  Status Insert(const BranchRecord& record);
  Status SetState(const std::string& gid, int branch, BranchState state);

  // Prepared records last updated before `updated_before_ms`, oldest first.
  Result<std::vector<BranchRecord>> ListPrepared(int64_t updated_before_ms, int limit);

 private:
  explicit BranchStore(SqlitePtr db) : db_(std::move(db)) {}

  std::mutex mu_;
  SqlitePtr db_;  // guarded by mu_
};

}  // namespace txc::sdk
