#include "log/migrations.h"

#include <array>
#include <string>

#include "log/sqlite_statement.h"

namespace txc::log {
namespace {

// Step i takes the schema from version i to i+1.
constexpr std::array<const char*, 7> kMigrations = {
    // 1: the initial schema.
    R"sql(
CREATE TABLE transactions (
  seq             INTEGER PRIMARY KEY AUTOINCREMENT,  -- creation order; never reused
  id              TEXT NOT NULL UNIQUE,
  protocol        TEXT NOT NULL,
  state           TEXT NOT NULL,
  terminal        INTEGER NOT NULL,
  timeout_ms      INTEGER NOT NULL,
  created_at      INTEGER NOT NULL,                   -- ms since the Unix epoch
  updated_at      INTEGER NOT NULL,
  reason          TEXT NOT NULL DEFAULT '',
  idempotency_key TEXT UNIQUE,                        -- NULL when the client sent none
  request_hash    TEXT NOT NULL DEFAULT ''
);
-- Partial index: recovery reads only unfinished transactions, however old.
CREATE INDEX transactions_unfinished ON transactions(seq) WHERE terminal = 0;
-- The rowid (seq) is every index's implicit last column, so these also serve
-- "state = ? AND seq < ? ORDER BY seq DESC" for List.
CREATE INDEX transactions_state ON transactions(state);
CREATE INDEX transactions_protocol ON transactions(protocol);

CREATE TABLE branches (
  tx_id       TEXT NOT NULL REFERENCES transactions(id),
  idx         INTEGER NOT NULL,
  participant TEXT NOT NULL,
  payload     TEXT NOT NULL,                          -- JSON
  state       TEXT NOT NULL,
  op          TEXT NOT NULL,
  op_attempt  INTEGER NOT NULL,
  attempts    INTEGER NOT NULL,
  last_error  TEXT NOT NULL DEFAULT '',
  updated_at  INTEGER NOT NULL,
  PRIMARY KEY (tx_id, idx)
) WITHOUT ROWID;

CREATE TABLE attempts (
  seq        INTEGER PRIMARY KEY AUTOINCREMENT,
  tx_id      TEXT NOT NULL,
  branch     INTEGER NOT NULL,
  op         TEXT NOT NULL,
  number     INTEGER NOT NULL,
  at         INTEGER NOT NULL,
  result     TEXT NOT NULL,
  error      TEXT NOT NULL DEFAULT '',
  latency_us INTEGER NOT NULL,
  FOREIGN KEY (tx_id, branch) REFERENCES branches(tx_id, idx)
);
CREATE INDEX attempts_tx ON attempts(tx_id);
)sql",
    // 2: saga steps name the steps they run after (a JSON array of branch indices).
    R"sql(
ALTER TABLE branches ADD COLUMN after_json TEXT NOT NULL DEFAULT '[]';
)sql",
    // 3: retention purges finished transactions oldest first (created_at never changes, so the
    // index only grows at its end).
    R"sql(
CREATE INDEX transactions_created ON transactions(created_at);
)sql",
    // 4: the W3C trace context of the request that started a transaction, re-sent after recovery.
    R"sql(
ALTER TABLE transactions ADD COLUMN traceparent TEXT NOT NULL DEFAULT '';
)sql",
    // 5: retry budgets (0: no limit, which is what older transactions get) and the
    // needs_attention flags of branches that exhausted theirs. The partial index keeps the
    // operator's "what needs me" list cheap however large the log grows.
    R"sql(
ALTER TABLE transactions ADD COLUMN retry_max_attempts INTEGER NOT NULL DEFAULT 0;
ALTER TABLE transactions ADD COLUMN retry_deadline_ms INTEGER NOT NULL DEFAULT 0;
ALTER TABLE transactions ADD COLUMN needs_attention INTEGER NOT NULL DEFAULT 0;
ALTER TABLE branches ADD COLUMN needs_attention INTEGER NOT NULL DEFAULT 0;
CREATE INDEX transactions_attention ON transactions(seq) WHERE needs_attention = 1;
)sql",
    // 6: when each branch's current message was first sent (a retry budget's deadline counts
    // from there; 0 for existing rows, whose deadline counts from their transaction's start as
    // before), and what happened to each transaction as a whole, for people: decisions and
    // ends, attention flags, operators' actions.
    R"sql(
ALTER TABLE branches ADD COLUMN op_since INTEGER NOT NULL DEFAULT 0;
CREATE TABLE tx_events (
  seq    INTEGER PRIMARY KEY,                         -- insertion order
  tx_id  TEXT NOT NULL REFERENCES transactions(id),
  at     INTEGER NOT NULL,
  kind   TEXT NOT NULL,
  state  TEXT,                                        -- kind 'state': the state entered
  branch INTEGER,                                     -- attention kinds: the branch
  detail TEXT NOT NULL DEFAULT ''                     -- a reason
);
CREATE INDEX tx_events_tx ON tx_events(tx_id);
)sql",
    // 7: attempts and events stored in their transaction's order, keyed (tx_id, seq) WITHOUT
    // ROWID: each row costs one B-tree insert instead of a row, an index entry and
    // AUTOINCREMENT's counter, and a transaction's history is one range. The writer numbers
    // both tables' rows from one counter, read and stored in each group that uses it (a max()
    // per insert cost as much as the index it replaced). The copied rows keep their numbers and
    // go in in key order (a faster upgrade than in the old tables' order).
    R"sql(
CREATE TABLE log_counters (
  name  TEXT PRIMARY KEY,
  value INTEGER NOT NULL
) WITHOUT ROWID;
INSERT INTO log_counters(name, value) VALUES ('history_seq',
  max((SELECT coalesce(max(seq), 0) FROM attempts), (SELECT coalesce(max(seq), 0) FROM tx_events)));

CREATE TABLE attempts_v7 (
  tx_id      TEXT NOT NULL,
  seq        INTEGER NOT NULL,                        -- log_counters.history_seq
  branch     INTEGER NOT NULL,
  op         TEXT NOT NULL,
  number     INTEGER NOT NULL,
  at         INTEGER NOT NULL,
  result     TEXT NOT NULL,
  error      TEXT NOT NULL DEFAULT '',
  latency_us INTEGER NOT NULL,
  PRIMARY KEY (tx_id, seq),
  FOREIGN KEY (tx_id, branch) REFERENCES branches(tx_id, idx)
) WITHOUT ROWID;
INSERT INTO attempts_v7(tx_id, seq, branch, op, number, at, result, error, latency_us)
  SELECT tx_id, seq, branch, op, number, at, result, error, latency_us FROM attempts
  ORDER BY tx_id, seq;
DROP TABLE attempts;
ALTER TABLE attempts_v7 RENAME TO attempts;

CREATE TABLE tx_events_v7 (
  tx_id  TEXT NOT NULL REFERENCES transactions(id),
  seq    INTEGER NOT NULL,                            -- log_counters.history_seq
  at     INTEGER NOT NULL,
  kind   TEXT NOT NULL,
  state  TEXT,
  branch INTEGER,
  detail TEXT NOT NULL DEFAULT '',
  PRIMARY KEY (tx_id, seq)
) WITHOUT ROWID;
INSERT INTO tx_events_v7(tx_id, seq, at, kind, state, branch, detail)
  SELECT tx_id, seq, at, kind, state, branch, detail FROM tx_events ORDER BY tx_id, seq;
DROP TABLE tx_events;
ALTER TABLE tx_events_v7 RENAME TO tx_events;
)sql",
};

}  // namespace

int LatestSchemaVersion() { return static_cast<int>(kMigrations.size()); }

Status Migrate(sqlite3* db) {
  TXC_RETURN_IF_ERROR(ExecSql(db, "BEGIN IMMEDIATE"));
  // Read the version inside the write transaction: another process may have migrated meanwhile.
  Status st = [&]() -> Status {
    TXC_ASSIGN_OR_RETURN(int64_t version, QueryInt(db, "PRAGMA user_version"));
    if (version > LatestSchemaVersion()) {
      return Status::FailedPrecondition("log schema version " + std::to_string(version) +
                                        " is newer than this coordinator supports (" +
                                        std::to_string(LatestSchemaVersion()) + ")");
    }
    if (version < 0) {
      return Status::FailedPrecondition("log schema version " + std::to_string(version) +
                                        " is invalid");
    }
    for (auto v = static_cast<size_t>(version); v < kMigrations.size(); ++v) {
      Status s = ExecSql(db, kMigrations[v]);
      if (!s.ok()) return s.WithContext("migration to version " + std::to_string(v + 1));
    }
    // PRAGMA takes no bound parameters; the value is our own integer.
    std::string set = "PRAGMA user_version = " + std::to_string(LatestSchemaVersion());
    return ExecSql(db, set.c_str());
  }();
  if (!st.ok()) {
    (void)ExecSql(db, "ROLLBACK");
    return st;
  }
  return ExecSql(db, "COMMIT");
}

}  // namespace txc::log
