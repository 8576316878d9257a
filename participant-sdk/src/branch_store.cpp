#include "branch_store.h"

#include <array>
#include <utility>

#include <nlohmann/json.hpp>

namespace txc::sdk {
namespace {

constexpr std::array<std::pair<BranchState, const char*>, 7> kStates = {{
    {BranchState::kPrepared, "prepared"},
    {BranchState::kPreCommitted, "precommitted"},
    {BranchState::kCommitted, "committed"},
    {BranchState::kAborted, "aborted"},
    {BranchState::kDone, "done"},
    {BranchState::kFailed, "failed"},
    {BranchState::kCompensated, "compensated"},
}};

constexpr int kSchemaVersion = 3;

// Version 3 has version 2's columns; what changed is how SQLite checks and indexes them:
// - The CHECK is a chain of comparisons, not an IN list: SQLite checks a long IN list by
//   building a temporary table on every INSERT and UPDATE, which took 45% of the instructions of
//   a branch's statements (a prepare and its commit: 159k with the list, 88k without, callgrind).
// - The state index holds only the in-doubt branches, the only ones looked up by state
//   (ListInDoubt, whose WHERE must keep naming the same states for SQLite to use it): a commit
//   takes its branch out of the index instead of moving it within.
constexpr const char* kCreateBranches = R"sql(
CREATE TABLE txc_branches (
  gid          TEXT    NOT NULL,
  branch       INTEGER NOT NULL,
  protocol     TEXT    NOT NULL,
  state        TEXT    NOT NULL CHECK (state = 'prepared' OR state = 'precommitted' OR
                         state = 'committed' OR state = 'aborted' OR state = 'done' OR
                         state = 'failed' OR state = 'compensated'),
  payload      TEXT,
  updated_at   INTEGER NOT NULL,
  participants TEXT,
  PRIMARY KEY (gid, branch)
);
CREATE INDEX txc_branches_in_doubt ON txc_branches (updated_at)
  WHERE state IN ('prepared', 'precommitted');
)sql";

// Older tables are rebuilt around their rows: SQLite cannot alter a CHECK constraint. Version 1
// had no schema table, only the 2PC states, and no participants column; version 2 added them
// (the 3PC and saga states, and the peers of a 3PC transaction for the termination protocol).
// The old table is set aside with legacy_alter_table on: otherwise SQLite would rewrite the
// service's views and triggers that name txc_branches to name the table about to be dropped.
constexpr const char* kSetAsideOldTable = R"sql(
PRAGMA legacy_alter_table = ON;
ALTER TABLE txc_branches RENAME TO txc_branches_old;
PRAGMA legacy_alter_table = OFF;
DROP INDEX IF EXISTS txc_branches_by_state;
)sql";
// What the service itself attached to the table: DROP TABLE takes its triggers and indexes
// along, so they are read before the rebuild and created again on the new table.
constexpr const char* kServiceObjectsOnBranches = R"sql(
SELECT sql FROM sqlite_master
 WHERE tbl_name = 'txc_branches' AND type IN ('index', 'trigger') AND sql IS NOT NULL
   AND name NOT IN ('txc_branches_by_state', 'txc_branches_in_doubt'))sql";
constexpr const char* kCopyV1Rows = R"sql(
INSERT INTO txc_branches (gid, branch, protocol, state, payload, updated_at)
  SELECT gid, branch, protocol, state, payload, updated_at FROM txc_branches_old;
DROP TABLE txc_branches_old;
)sql";
constexpr const char* kCopyV2Rows = R"sql(
INSERT INTO txc_branches (gid, branch, protocol, state, payload, updated_at, participants)
  SELECT gid, branch, protocol, state, payload, updated_at, participants FROM txc_branches_old;
DROP TABLE txc_branches_old;
)sql";

std::string ParticipantsText(const std::vector<std::string>& participants) {
  if (participants.empty()) return {};
  return nlohmann::json(participants).dump();
}

std::vector<std::string> ParseParticipants(const std::string& text) {
  std::vector<std::string> out;
  // NULL (not 3PC): nlohmann's parser would take ~2k instructions to say so.
  if (text.empty()) return out;
  const auto doc = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (!doc.is_array()) return out;
  for (const auto& name : doc) {
    out.push_back(name.is_string() ? name.get<std::string>() : std::string());
  }
  return out;
}

Result<bool> TableExists(sqlite3* db, const char* name) {
  TXC_ASSIGN_OR_RETURN(auto stmt,
                       SqliteStatement::Prepare(db,
                                                "SELECT 1 FROM sqlite_master WHERE type = 'table' "
                                                "AND name = ?1"));
  stmt.Bind(1, name);
  return stmt.Step();
}

// Brings the SDK's tables to kSchemaVersion inside one transaction, so a crash mid-migration
// leaves the old layout intact.
Status Migrate(sqlite3* db) {
  TXC_RETURN_IF_ERROR(Exec(db, "BEGIN IMMEDIATE"));
  auto migrate = [db]() -> Status {
    TXC_RETURN_IF_ERROR(
        Exec(db, "CREATE TABLE IF NOT EXISTS txc_schema (version INTEGER NOT NULL)"));
    TXC_ASSIGN_OR_RETURN(auto read, SqliteStatement::Prepare(db, "SELECT version FROM txc_schema"));
    TXC_ASSIGN_OR_RETURN(bool has_version, read.Step());
    int64_t version = has_version ? read.ColumnInt(0) : 0;
    read.Reset();  // a statement still reading txc_schema would lock the tables a rebuild alters
    if (version == 0) {
      TXC_ASSIGN_OR_RETURN(bool v1, TableExists(db, "txc_branches"));
      if (v1) version = 1;
    }
    if (version > kSchemaVersion) {
      return Status::FailedPrecondition("txc_branches has schema version " +
                                        std::to_string(version) + "; this SDK knows up to " +
                                        std::to_string(kSchemaVersion));
    }
    if (version == kSchemaVersion) return Status::Ok();
    std::vector<std::string> service_objects;
    if (version > 0) {
      TXC_ASSIGN_OR_RETURN(auto objects, SqliteStatement::Prepare(db, kServiceObjectsOnBranches));
      while (true) {
        TXC_ASSIGN_OR_RETURN(bool row, objects.Step());
        if (!row) break;
        service_objects.push_back(objects.ColumnText(0));
      }
      objects.Reset();
      TXC_RETURN_IF_ERROR(Exec(db, kSetAsideOldTable));
    }
    TXC_RETURN_IF_ERROR(Exec(db, kCreateBranches));
    if (version == 1) TXC_RETURN_IF_ERROR(Exec(db, kCopyV1Rows));
    if (version == 2) TXC_RETURN_IF_ERROR(Exec(db, kCopyV2Rows));
    for (const auto& sql : service_objects) TXC_RETURN_IF_ERROR(Exec(db, sql.c_str()));
    TXC_RETURN_IF_ERROR(Exec(db, "DELETE FROM txc_schema"));
    return Exec(db,
                ("INSERT INTO txc_schema (version) VALUES (" + std::to_string(kSchemaVersion) + ")")
                    .c_str());
  };
  Status s = migrate();
  if (!s.ok()) {
    (void)Exec(db, "ROLLBACK");
    return s;
  }
  return Exec(db, "COMMIT");
}

BranchRecord ReadRecord(const SqliteStatement& stmt, BranchState state) {
  // Columns: gid, branch, protocol, state, payload, updated_at, participants.
  return BranchRecord{stmt.ColumnText(0),
                      static_cast<int>(stmt.ColumnInt(1)),
                      stmt.ColumnText(2),
                      state,
                      stmt.ColumnText(4),
                      stmt.ColumnInt(5),
                      ParseParticipants(stmt.ColumnText(6))};
}

}  // namespace

const char* BranchStateName(BranchState state) {
  for (const auto& [value, name] : kStates) {
    if (value == state) return name;
  }
  return "unknown";
}

std::optional<BranchState> ParseBranchState(std::string_view name) {
  for (const auto& [value, text] : kStates) {
    if (name == text) return value;
  }
  return std::nullopt;
}

bool IsInDoubt(BranchState state) {
  return state == BranchState::kPrepared || state == BranchState::kPreCommitted;
}

wire::PeerState PeerStateOf(BranchState state) {
  switch (state) {
    case BranchState::kPrepared:
      return wire::PeerState::kUncertain;
    case BranchState::kPreCommitted:
      return wire::PeerState::kPreCommitted;
    case BranchState::kCommitted:
      return wire::PeerState::kCommitted;
    case BranchState::kAborted:
      return wire::PeerState::kAborted;
    default:
      return wire::PeerState::kNone;
  }
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
  // With temp files on disk, every request allocated and freed a large block: its savepoint's
  // journal buffer (64 KB; and, before schema 3, an 85 KB page cache for the temporary table
  // SQLite built to check the state column's IN list). glibc handed the freed top of its heap
  // back to the kernel each time (madvise and a TLB shoot-down: 7% of a participant's CPU under
  // load). In memory it grows in small blocks. The service's own temporary tables and sorts, on
  // this connection too, stay in memory as well.
  TXC_RETURN_IF_ERROR(Exec(db.get(), "PRAGMA temp_store=MEMORY").WithContext(path));
  TXC_RETURN_IF_ERROR(Migrate(db.get()).WithContext(path));
  return std::unique_ptr<BranchStore>(new BranchStore(std::move(db)));
}

const char* BranchStore::SqlText(Sql which) {
#define TXC_BRANCH_COLUMNS \
  "SELECT gid, branch, protocol, state, payload, updated_at, participants FROM txc_branches "
  switch (which) {
    case Sql::kBegin:
      return "BEGIN IMMEDIATE";
    case Sql::kCommit:
      return "COMMIT";
    case Sql::kRollback:
      return "ROLLBACK";
    case Sql::kSavepointRequest:
      return "SAVEPOINT txc_request";
    case Sql::kReleaseRequest:
      return "RELEASE txc_request";
    case Sql::kRollbackToRequest:
      return "ROLLBACK TO txc_request";
    case Sql::kSavepointHandler:
      return "SAVEPOINT txc_handler";
    case Sql::kReleaseHandler:
      return "RELEASE txc_handler";
    case Sql::kRollbackToHandler:
      return "ROLLBACK TO txc_handler";
    case Sql::kFind:
      return TXC_BRANCH_COLUMNS "WHERE gid = ?1 AND branch = ?2";
    case Sql::kFindAll:
      return TXC_BRANCH_COLUMNS "WHERE gid = ?1 ORDER BY branch";
    case Sql::kInsert:
      return "INSERT INTO txc_branches (gid, branch, protocol, state, payload, updated_at, "
             "participants) VALUES (?1, ?2, ?3, ?4, ?5, ?6, NULLIF(?7, ''))";
    case Sql::kSetState:
      return "UPDATE txc_branches SET state = ?3, updated_at = ?4 WHERE gid = ?1 AND branch = ?2";
    case Sql::kListInDoubt:
      // Served by txc_branches_in_doubt, whose WHERE this one must contain as written.
      return TXC_BRANCH_COLUMNS
          "WHERE state IN ('prepared', 'precommitted') AND updated_at < ?1 "
          "ORDER BY updated_at LIMIT ?2";
    case Sql::kCount:
      break;
  }
#undef TXC_BRANCH_COLUMNS
  return "";
}

Result<SqliteStatement*> BranchStore::Statement(Sql which) {
  std::optional<SqliteStatement>& stmt = statements_[static_cast<size_t>(which)];
  if (!stmt) {
    TXC_ASSIGN_OR_RETURN(auto prepared, SqliteStatement::Prepare(db(), SqlText(which)));
    stmt.emplace(std::move(prepared));
  }
  stmt->Reset();
  return &*stmt;
}

Status BranchStore::Run(Sql which) {
  TXC_ASSIGN_OR_RETURN(SqliteStatement * stmt, Statement(which));
  TXC_ASSIGN_OR_RETURN(bool row, stmt->Step());
  (void)row;
  stmt->Reset();  // a finished COMMIT or RELEASE must not stay active
  return Status::Ok();
}

Status BranchStore::Begin() { return Run(Sql::kBegin); }

Status BranchStore::Commit() { return Run(Sql::kCommit); }

void BranchStore::Rollback() {
  if (InTransaction()) (void)Run(Sql::kRollback);
}

bool BranchStore::InTransaction() { return sqlite3_get_autocommit(db()) == 0; }

Status BranchStore::Savepoint(SavepointName name) {
  return Run(name == SavepointName::kRequest ? Sql::kSavepointRequest : Sql::kSavepointHandler);
}

Status BranchStore::RollbackToSavepoint(SavepointName name) {
  TXC_RETURN_IF_ERROR(
      Run(name == SavepointName::kRequest ? Sql::kRollbackToRequest : Sql::kRollbackToHandler));
  return ReleaseSavepoint(name);
}

Status BranchStore::ReleaseSavepoint(SavepointName name) {
  return Run(name == SavepointName::kRequest ? Sql::kReleaseRequest : Sql::kReleaseHandler);
}

namespace {

Result<std::vector<BranchRecord>> ReadAll(SqliteStatement& stmt) {
  std::vector<BranchRecord> out;
  while (true) {
    TXC_ASSIGN_OR_RETURN(bool row, stmt.Step());
    if (!row) return out;
    auto state = ParseBranchState(stmt.ColumnText(3));
    if (!state) {
      return Status::DataLoss("txc_branches(" + stmt.ColumnText(0) + ", " +
                              std::to_string(stmt.ColumnInt(1)) + ") has unknown state '" +
                              stmt.ColumnText(3) + "'");
    }
    out.push_back(ReadRecord(stmt, *state));
  }
}

}  // namespace

Result<std::optional<BranchRecord>> BranchStore::Find(const std::string& gid, int branch) {
  TXC_ASSIGN_OR_RETURN(SqliteStatement * stmt, Statement(Sql::kFind));
  stmt->Bind(1, gid).Bind(2, int64_t{branch});
  TXC_ASSIGN_OR_RETURN(auto rows, ReadAll(*stmt));
  if (rows.empty()) return std::optional<BranchRecord>();
  return std::optional<BranchRecord>(std::move(rows.front()));
}

Result<std::vector<BranchRecord>> BranchStore::FindAll(const std::string& gid) {
  TXC_ASSIGN_OR_RETURN(SqliteStatement * stmt, Statement(Sql::kFindAll));
  stmt->Bind(1, gid);
  return ReadAll(*stmt);
}

Status BranchStore::Insert(const BranchRecord& r) {
  TXC_ASSIGN_OR_RETURN(SqliteStatement * stmt, Statement(Sql::kInsert));
  stmt->Bind(1, r.gid)
      .Bind(2, int64_t{r.branch})
      .Bind(3, r.protocol)
      .Bind(4, BranchStateName(r.state))
      .Bind(5, r.payload)
      .Bind(6, r.updated_at_ms)
      .Bind(7, ParticipantsText(r.participants));
  TXC_ASSIGN_OR_RETURN(bool row, stmt->Step());
  (void)row;
  return Status::Ok();
}

Status BranchStore::SetState(const std::string& gid, int branch, BranchState state) {
  TXC_ASSIGN_OR_RETURN(SqliteStatement * stmt, Statement(Sql::kSetState));
  stmt->Bind(1, gid)
      .Bind(2, int64_t{branch})
      .Bind(3, BranchStateName(state))
      .Bind(4, WallClockMs());
  TXC_ASSIGN_OR_RETURN(bool row, stmt->Step());
  (void)row;
  if (sqlite3_changes(db()) != 1) {
    return Status::Internal("txc_branches(" + gid + ", " + std::to_string(branch) +
                            ") vanished during the update");
  }
  return Status::Ok();
}

Result<std::vector<BranchRecord>> BranchStore::ListInDoubt(int64_t updated_before_ms, int limit) {
  TXC_ASSIGN_OR_RETURN(SqliteStatement * stmt, Statement(Sql::kListInDoubt));
  stmt->Bind(1, updated_before_ms).Bind(2, int64_t{limit});
  return ReadAll(*stmt);
}

}  // namespace txc::sdk
