#include "branch_store.h"

#include <utility>

namespace txc::sdk {
namespace {

constexpr const char* kSchema = R"sql(
CREATE TABLE IF NOT EXISTS txc_branches (
  gid        TEXT    NOT NULL,
  branch     INTEGER NOT NULL,
  protocol   TEXT    NOT NULL,
  state      TEXT    NOT NULL CHECK (state IN ('prepared', 'committed', 'aborted')),
  payload    TEXT,
  updated_at INTEGER NOT NULL,
  PRIMARY KEY (gid, branch)
);
CREATE INDEX IF NOT EXISTS txc_branches_by_state ON txc_branches (state, updated_at);
)sql";

constexpr const char* kSavepoint = "txc_handler";

}  // namespace

const char* BranchStateName(BranchState state) {
  switch (state) {
    case BranchState::kPrepared:
      return "prepared";
    case BranchState::kCommitted:
      return "committed";
    case BranchState::kAborted:
      return "aborted";
  }
  return "unknown";
}

std::optional<BranchState> ParseBranchState(std::string_view name) {
  if (name == "prepared") return BranchState::kPrepared;
  if (name == "committed") return BranchState::kCommitted;
  if (name == "aborted") return BranchState::kAborted;
  return std::nullopt;
}

int64_t WallClockMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

Result<std::unique_ptr<BranchStore>> BranchStore::Open(const std::string& path,
                                                       std::chrono::milliseconds busy_timeout) {
  sqlite3* raw = nullptr;
  const int rc =
      sqlite3_open_v2(path.c_str(), &raw,
                      SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX, nullptr);
  SqlitePtr db(raw);  // sqlite3_open_v2 allocates a handle even on failure
  if (rc != SQLITE_OK) return SqliteError(db.get(), rc, "open " + path);
  sqlite3_busy_timeout(db.get(), static_cast<int>(busy_timeout.count()));
  // WAL: readers do not block the writer; FULL: a commit (our yes vote) is on disk when
  // COMMIT returns, which is what lets us reply ok afterwards.
  TXC_RETURN_IF_ERROR(Exec(db.get(), "PRAGMA journal_mode=WAL").WithContext(path));
  TXC_RETURN_IF_ERROR(Exec(db.get(), "PRAGMA synchronous=FULL").WithContext(path));
  TXC_RETURN_IF_ERROR(Exec(db.get(), kSchema).WithContext(path));
  return std::unique_ptr<BranchStore>(new BranchStore(std::move(db)));
}

Status BranchStore::Begin() { return Exec(db(), "BEGIN IMMEDIATE"); }

Status BranchStore::Commit() { return Exec(db(), "COMMIT"); }

void BranchStore::Rollback() {
  if (InTransaction()) (void)Exec(db(), "ROLLBACK");
}

bool BranchStore::InTransaction() { return sqlite3_get_autocommit(db()) == 0; }

Status BranchStore::Savepoint() {
  return Exec(db(), (std::string("SAVEPOINT ") + kSavepoint).c_str());
}

Status BranchStore::RollbackToSavepoint() {
  TXC_RETURN_IF_ERROR(Exec(db(), (std::string("ROLLBACK TO ") + kSavepoint).c_str()));
  return ReleaseSavepoint();
}

Status BranchStore::ReleaseSavepoint() {
  return Exec(db(), (std::string("RELEASE ") + kSavepoint).c_str());
}

Result<std::optional<BranchRecord>> BranchStore::Find(const std::string& gid, int branch) {
  TXC_ASSIGN_OR_RETURN(auto stmt, SqliteStatement::Prepare(db(), R"sql(
      SELECT protocol, state, payload, updated_at FROM txc_branches
      WHERE gid = ?1 AND branch = ?2)sql"));
  stmt.Bind(1, gid).Bind(2, int64_t{branch});
  TXC_ASSIGN_OR_RETURN(bool row, stmt.Step());
  if (!row) return std::optional<BranchRecord>();
  auto state = ParseBranchState(stmt.ColumnText(1));
  if (!state) {
    return Status::DataLoss("txc_branches(" + gid + ", " + std::to_string(branch) +
                            ") has unknown state '" + stmt.ColumnText(1) + "'");
  }
  return std::optional<BranchRecord>(
      BranchRecord{gid, branch, stmt.ColumnText(0), *state, stmt.ColumnText(2), stmt.ColumnInt(3)});
}

Status BranchStore::Insert(const BranchRecord& r) {
  TXC_ASSIGN_OR_RETURN(auto stmt, SqliteStatement::Prepare(db(), R"sql(
      INSERT INTO txc_branches (gid, branch, protocol, state, payload, updated_at)
      VALUES (?1, ?2, ?3, ?4, ?5, ?6))sql"));
  stmt.Bind(1, r.gid)
      .Bind(2, int64_t{r.branch})
      .Bind(3, r.protocol)
      .Bind(4, BranchStateName(r.state))
      .Bind(5, r.payload)
      .Bind(6, r.updated_at_ms);
  TXC_ASSIGN_OR_RETURN(bool row, stmt.Step());
  (void)row;
  return Status::Ok();
}

Status BranchStore::SetState(const std::string& gid, int branch, BranchState state) {
  TXC_ASSIGN_OR_RETURN(auto stmt, SqliteStatement::Prepare(db(), R"sql(
      UPDATE txc_branches SET state = ?3, updated_at = ?4 WHERE gid = ?1 AND branch = ?2)sql"));
  stmt.Bind(1, gid).Bind(2, int64_t{branch}).Bind(3, BranchStateName(state)).Bind(4, WallClockMs());
  TXC_ASSIGN_OR_RETURN(bool row, stmt.Step());
  (void)row;
  if (sqlite3_changes(db()) != 1) {
    return Status::Internal("txc_branches(" + gid + ", " + std::to_string(branch) +
                            ") vanished during the update");
  }
  return Status::Ok();
}

Result<std::vector<BranchRecord>> BranchStore::ListPrepared(int64_t updated_before_ms, int limit) {
  TXC_ASSIGN_OR_RETURN(auto stmt, SqliteStatement::Prepare(db(), R"sql(
      SELECT gid, branch, protocol, payload, updated_at FROM txc_branches
      WHERE state = 'prepared' AND updated_at < ?1
      ORDER BY updated_at LIMIT ?2)sql"));
  stmt.Bind(1, updated_before_ms).Bind(2, int64_t{limit});
  std::vector<BranchRecord> out;
  while (true) {
    TXC_ASSIGN_OR_RETURN(bool row, stmt.Step());
    if (!row) break;
    out.push_back(BranchRecord{stmt.ColumnText(0), static_cast<int>(stmt.ColumnInt(1)),
                               stmt.ColumnText(2), BranchState::kPrepared, stmt.ColumnText(3),
                               stmt.ColumnInt(4)});
  }
  return out;
}

}  // namespace txc::sdk
