// BranchStore: the service's SQLite database and, inside it, the SDK's durable branch records
// (table txc_branches). It is the idempotency barrier's storage: one row per (gid, branch) whose
// state only moves forward (see branch_transitions.h for which moves exist).
//
// One connection, guarded by one mutex. Every method except Open/Lock expects the caller to hold
// Lock() for the whole unit of work (typically Begin ... Commit/Rollback), so a handler's writes
// and the record land in one local transaction.
#pragma once

#include <array>
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
#include "txc/wire.h"

namespace txc::sdk {

enum class BranchState {
  kPrepared,      // 2PC: voted yes; 3PC: voted yes, uncertain (Skeen's "w")
  kPreCommitted,  // 3PC: pre_commit received and recorded ("p")
  kCommitted,
  kAborted,      // rolled back, refused, or aborted before any vote (null rollback)
  kDone,         // saga: the action took effect
  kFailed,       // saga: the action was refused (nothing took effect)
  kCompensated,  // saga: undone, or compensated before the action ever ran (null compensation)
};
const char* BranchStateName(BranchState state);
std::optional<BranchState> ParseBranchState(std::string_view name);
// Prepared or pre-committed: the outcome is someone else's to decide.
bool IsInDoubt(BranchState state);
// How a record is reported to a peer's 3PC termination protocol (saga records: kNone).
wire::PeerState PeerStateOf(BranchState state);

struct BranchRecord {
  std::string gid;
  int branch = 0;
  std::string protocol;
  BranchState state = BranchState::kPrepared;
  std::string payload;                    // the request's payload as JSON text
  int64_t updated_at_ms = 0;              // wall clock, milliseconds since the Unix epoch
  std::vector<std::string> participants;  // 3PC: every branch's participant, in branch order
};

// Wall-clock milliseconds since the epoch: what updated_at stores.
int64_t WallClockMs();

class BranchStore {
 public:
  // Opens (creating if needed) the database with journal_mode=WAL, synchronous=FULL and the
  // given busy timeout, and creates or migrates the SDK's tables. Errors: kUnavailable, or
  // kFailedPrecondition for a database written by a newer SDK.
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

  // Savepoints inside the open transaction: kRequest lets one request of a batch be undone
  // without the others, kHandler a refused handler's writes while the same transaction records
  // the refusal.
  enum class SavepointName { kRequest, kHandler };
  Status Savepoint(SavepointName name = SavepointName::kHandler);
  Status RollbackToSavepoint(SavepointName name = SavepointName::kHandler);  // also releases it
  Status ReleaseSavepoint(SavepointName name = SavepointName::kHandler);

  Result<std::optional<BranchRecord>> Find(const std::string& gid, int branch);
  // Every branch of `gid` this participant holds, by branch index.
  Result<std::vector<BranchRecord>> FindAll(const std::string& gid);
  Status Insert(const BranchRecord& record);
  Status SetState(const std::string& gid, int branch, BranchState state);

  // Prepared or pre-committed records last updated before `updated_before_ms`, oldest first.
  Result<std::vector<BranchRecord>> ListInDoubt(int64_t updated_before_ms, int limit);

 private:
  // Every statement the store runs (SqlText has their text).
  enum class Sql {
    kBegin,
    kCommit,
    kRollback,
    kSavepointRequest,
    kReleaseRequest,
    kRollbackToRequest,
    kSavepointHandler,
    kReleaseHandler,
    kRollbackToHandler,
    kFind,
    kFindAll,
    kInsert,
    kSetState,
    kListInDoubt,
    kCount,
  };

  static const char* SqlText(Sql which);

  explicit BranchStore(SqlitePtr db) : db_(std::move(db)) {}
  // The statement, prepared on first use and reset for this one: a request takes about six, and
  // preparing costs more than running. Indexed, not looked up by its text (hashing ~150
  // characters per statement was ~4% of a participant's instructions).
  Result<SqliteStatement*> Statement(Sql which);
  // Runs a statement without results.
  Status Run(Sql which);

  std::mutex mu_;
  SqlitePtr db_;  // guarded by mu_
  std::array<std::optional<SqliteStatement>, static_cast<size_t>(Sql::kCount)>
      statements_;  // guarded by mu_
};

}  // namespace txc::sdk
