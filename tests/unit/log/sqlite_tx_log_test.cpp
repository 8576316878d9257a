// SqliteTxLog specifics: options, schema migrations, the file format and corrupt rows.
#include <sqlite3.h>

#include <unistd.h>

#include <memory>
#include <string>
#include <utility>

#include <gtest/gtest.h>

#include "log/migrations.h"
#include "log/sqlite_statement.h"
#include "log/sqlite_tx_log.h"
#include "log_test_util.h"
#include "wait_for.h"

namespace txc::log::test {
namespace {

// BindBorrowed leaves SQLite a pointer into its argument until the statement is reset: a temporary
// would be gone by then, so passing one must not compile.
template <typename T>
concept CanBindBorrowed = requires(SqliteStatement& s, T&& text) {
  s.BindBorrowed(1, std::forward<T>(text));
};
static_assert(!CanBindBorrowed<std::string>);
static_assert(!CanBindBorrowed<const std::string>);
static_assert(CanBindBorrowed<const std::string&>);
static_assert(CanBindBorrowed<const char*>);

// Runs SQL on the file directly, as an operator (or another program) would.
class RawDb {
 public:
  explicit RawDb(const std::string& path) { sqlite3_open(path.c_str(), &db_); }
  ~RawDb() { sqlite3_close(db_); }
  RawDb(const RawDb&) = delete;
  RawDb& operator=(const RawDb&) = delete;

  bool Exec(const std::string& sql) {
    return sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, nullptr) == SQLITE_OK;
  }
  std::string QueryText(const std::string& sql) {
    sqlite3_stmt* st = nullptr;
    std::string out = "<error>";
    if (sqlite3_prepare_v2(db_, sql.c_str(), -1, &st, nullptr) == SQLITE_OK &&
        sqlite3_step(st) == SQLITE_ROW) {
      const unsigned char* t = sqlite3_column_text(st, 0);
      out = t ? reinterpret_cast<const char*>(t) : "<null>";
    }
    sqlite3_finalize(st);
    return out;
  }
  // EXPLAIN QUERY PLAN's detail column, all rows joined.
  std::string Plan(const std::string& sql) {
    sqlite3_stmt* st = nullptr;
    std::string all;
    if (sqlite3_prepare_v2(db_, ("EXPLAIN QUERY PLAN " + sql).c_str(), -1, &st, nullptr) ==
        SQLITE_OK) {
      while (sqlite3_step(st) == SQLITE_ROW) {
        all += reinterpret_cast<const char*>(sqlite3_column_text(st, 3));
        all += " | ";
      }
    }
    sqlite3_finalize(st);
    return all;
  }

 private:
  sqlite3* db_ = nullptr;
};

class SqliteTxLogTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(dir_.ok()); }

  SqliteTxLog::Options Opts() {
    SqliteTxLog::Options o;
    o.path = dir_.File("txc.db");
    return o;
  }

  std::unique_ptr<SqliteTxLog> MustOpen(const SqliteTxLog::Options& o) {
    auto opened = SqliteTxLog::Open(o);
    EXPECT_TRUE(opened.ok()) << opened.status().ToString();
    return opened.ok() ? std::move(opened).value() : nullptr;
  }

  TempDir dir_;
};

TEST_F(SqliteTxLogTest, RejectsBadOptions) {
  auto o = Opts();
  o.synchronous = "OFF";  // would acknowledge commits that are not on disk
  EXPECT_EQ(SqliteTxLog::Open(o).status().code(), StatusCode::kInvalidArgument);
  o = Opts();
  o.path = "";
  EXPECT_EQ(SqliteTxLog::Open(o).status().code(), StatusCode::kInvalidArgument);
  o.path = ":memory:";
  EXPECT_EQ(SqliteTxLog::Open(o).status().code(), StatusCode::kInvalidArgument);
  o = Opts();
  o.max_batch = 0;
  EXPECT_EQ(SqliteTxLog::Open(o).status().code(), StatusCode::kInvalidArgument);
  o = Opts();
  o.retention = std::chrono::hours(1);
  o.purge_batch = 0;
  EXPECT_EQ(SqliteTxLog::Open(o).status().code(), StatusCode::kInvalidArgument);
}

TEST_F(SqliteTxLogTest, RetentionPurgesOnlyFinishedTransactionsOlderThanIt) {
  auto o = Opts();
  o.retention = std::chrono::hours(1);
  o.purge_every = std::chrono::milliseconds(5);
  o.purge_batch = 2;  // five expired transactions take three purges
  auto log = MustOpen(o);
  ASSERT_NE(log, nullptr);
  const auto now =
      std::chrono::time_point_cast<std::chrono::milliseconds>(std::chrono::system_clock::now());
  std::vector<core::LogRecord> records;
  for (int i = 0; i < 5; ++i) {  // At(...) is in 2023: long expired
    const std::string id = "old" + std::to_string(i);
    records.push_back(Created(MakeTx(id, 2, core::Protocol::kTwoPhase, "key-" + id)));
    core::Attempt attempt;
    attempt.at = At(5);
    records.push_back(core::AttemptRecorded{id, 1, attempt});
    records.push_back(StateChanged(id, core::TxState::kCommitted));
  }
  records.push_back(Created(MakeTx("old-unfinished")));
  Transaction recent = MakeTx("recent-done");
  recent.created_at = recent.updated_at = now;
  records.push_back(Created(recent));
  records.push_back(core::TxStateChanged{"recent-done", core::TxState::kAborted, "", now});
  records.push_back(Created(MakeTx("old-but-just-finished")));
  records.push_back(
      core::TxStateChanged{"old-but-just-finished", core::TxState::kCommitted, "", now});
  ASSERT_TRUE(AppendSync(*log, std::move(records)).ok());

  ASSERT_TRUE(testing::WaitFor([&] { return log->stats().purged >= 5; }));
  for (int i = 0; i < 5; ++i) {
    const std::string id = "old" + std::to_string(i);
    auto found = log->Find(id, true);
    ASSERT_TRUE(found.ok()) << found.status().ToString();
    EXPECT_FALSE(found->has_value()) << id;
    auto by_key = log->FindByIdempotencyKey("key-" + id);
    ASSERT_TRUE(by_key.ok());
    EXPECT_FALSE(by_key->has_value()) << "a purged transaction's key is forgotten";
  }
  for (const char* kept : {"old-unfinished", "recent-done", "old-but-just-finished"}) {
    auto found = log->Find(kept, false);
    ASSERT_TRUE(found.ok() && found->has_value()) << kept;
    EXPECT_EQ((*found)->branches.size(), 2u) << kept;
  }
  RawDb raw(o.path);
  EXPECT_EQ(raw.QueryText("SELECT count(*) FROM branches WHERE tx_id LIKE 'old_'"), "0");
  EXPECT_EQ(raw.QueryText("SELECT count(*) FROM attempts"), "0");
  EXPECT_EQ(raw.QueryText("SELECT count(*) FROM tx_events WHERE tx_id LIKE 'old_'"), "0");
  EXPECT_EQ(raw.QueryText("SELECT count(*) FROM tx_events"), "2") << "the kept ones' ends";
  EXPECT_EQ(log->stats().purged, 5u) << "nothing else was ever purged";
  // Appends still work after purges.
  EXPECT_TRUE(AppendSync(*log, {Created(MakeTx("after"))}).ok());
}

TEST_F(SqliteTxLogTest, ReportsUnopenableFileAsUnavailable) {
  auto o = Opts();
  o.path = dir_.File("no/such/dir/txc.db");
  EXPECT_EQ(SqliteTxLog::Open(o).status().code(), StatusCode::kUnavailable);
}

TEST_F(SqliteTxLogTest, AcceptsNormalSynchronousInAnyCase) {
  auto o = Opts();
  o.synchronous = "normal";
  auto log = MustOpen(o);
  ASSERT_NE(log, nullptr);
  EXPECT_TRUE(AppendSync(*log, {Created(MakeTx("a", 1))}).ok());
}

TEST_F(SqliteTxLogTest, UsesWalAndSetsSchemaVersion) {
  {
    auto log = MustOpen(Opts());
    ASSERT_NE(log, nullptr);
    ASSERT_TRUE(AppendSync(*log, {Created(MakeTx("a", 1))}).ok());
  }
  RawDb raw(Opts().path);
  EXPECT_EQ(raw.QueryText("PRAGMA journal_mode"), "wal");
  EXPECT_EQ(raw.QueryText("PRAGMA user_version"), std::to_string(LatestSchemaVersion()));
  EXPECT_GE(LatestSchemaVersion(), 1);
  EXPECT_EQ(raw.QueryText("SELECT count(*) FROM branches"), "1");
}

TEST_F(SqliteTxLogTest, TheTraceparentSurvivesTheFileForRecovery) {
  Transaction tx = MakeTx("a", 1);
  tx.traceparent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
  {
    auto log = MustOpen(Opts());
    ASSERT_NE(log, nullptr);
    ASSERT_TRUE(AppendSync(*log, {Created(tx)}).ok());
  }
  auto log = MustOpen(Opts());
  ASSERT_NE(log, nullptr);
  auto unfinished = log->LoadUnfinished();
  ASSERT_TRUE(unfinished.ok() && unfinished->size() == 1u);
  EXPECT_EQ((*unfinished)[0].traceparent, tx.traceparent);
}

TEST_F(SqliteTxLogTest, ReopeningAMigratedDatabaseKeepsItsVersionAndData) {
  {
    auto log = MustOpen(Opts());
    ASSERT_NE(log, nullptr);
    ASSERT_TRUE(AppendSync(*log, {Created(MakeTx("a", 1))}).ok());
  }
  auto log = MustOpen(Opts());
  ASSERT_NE(log, nullptr);
  auto a = log->Find("a", false);
  ASSERT_TRUE(a.ok() && a->has_value());
  RawDb raw(Opts().path);
  EXPECT_EQ(raw.QueryText("PRAGMA user_version"), std::to_string(LatestSchemaVersion()));
}

TEST_F(SqliteTxLogTest, UpgradesAVersion5LogWhoseBranchesKeepCountingFromTheStart) {
  {
    auto log = MustOpen(Opts());
    ASSERT_NE(log, nullptr);
    ASSERT_TRUE(AppendSync(*log, {Created(MakeTx("a", 1)),
                                  core::BranchChanged{"a", 0, core::BranchState::kCommitting,
                                                      wire::Op::kCommit, 3, 4, "", At(30)}})
                    .ok());
  }
  {  // As version 5 left it: no events table, no op_since.
    RawDb raw(Opts().path);
    ASSERT_TRUE(raw.Exec(
        "DROP TABLE tx_events; DROP TABLE log_counters; ALTER TABLE branches DROP COLUMN op_since;"
        "PRAGMA user_version = 5;"));
  }
  auto log = MustOpen(Opts());
  ASSERT_NE(log, nullptr);
  ASSERT_TRUE(AppendSync(*log, {StateChanged("a", core::TxState::kCommitted, "", 31)}).ok());
  auto a = log->Find("a", true);
  ASSERT_TRUE(a.ok() && a->has_value());
  // Unknown: the retry budget falls back to the transaction's start, as version 5 counted.
  EXPECT_EQ((*a)->branches[0].op_since, core::TimePoint{});
  EXPECT_EQ((*a)->branches[0].op_attempt, 3);
  ASSERT_EQ((*a)->events.size(), 1u);
  EXPECT_EQ((*a)->events[0].state, core::TxState::kCommitted);
}

TEST_F(SqliteTxLogTest, UpgradesAVersion6LogKeepingEachTransactionsHistoryInOrder) {
  {
    auto log = MustOpen(Opts());
    ASSERT_NE(log, nullptr);
    ASSERT_TRUE(AppendSync(*log, {Created(MakeTx("a", 1)), Created(MakeTx("b", 1))}).ok());
  }
  {  // As version 6 left them: rowid tables numbered across transactions, indexed by tx_id.
    RawDb raw(Opts().path);
    ASSERT_TRUE(raw.Exec(R"sql(
DROP TABLE attempts; DROP TABLE tx_events; DROP TABLE log_counters;
CREATE TABLE attempts (
  seq INTEGER PRIMARY KEY AUTOINCREMENT, tx_id TEXT NOT NULL, branch INTEGER NOT NULL,
  op TEXT NOT NULL, number INTEGER NOT NULL, at INTEGER NOT NULL, result TEXT NOT NULL,
  error TEXT NOT NULL DEFAULT '', latency_us INTEGER NOT NULL,
  FOREIGN KEY (tx_id, branch) REFERENCES branches(tx_id, idx));
CREATE INDEX attempts_tx ON attempts(tx_id);
CREATE TABLE tx_events (
  seq INTEGER PRIMARY KEY, tx_id TEXT NOT NULL REFERENCES transactions(id), at INTEGER NOT NULL,
  kind TEXT NOT NULL, state TEXT, branch INTEGER, detail TEXT NOT NULL DEFAULT '');
CREATE INDEX tx_events_tx ON tx_events(tx_id);
INSERT INTO attempts(seq, tx_id, branch, op, number, at, result, error, latency_us) VALUES
  (7, 'a', 0, 'prepare', 2, 20, 'ok', '', 40),
  (3, 'a', 0, 'prepare', 1, 10, 'timeout', 'no reply', 0),
  (5, 'b', 0, 'prepare', 1, 15, 'ok', '', 30);
INSERT INTO tx_events(seq, tx_id, at, kind, state, branch, detail) VALUES
  (4, 'a', 12, 'needs_attention', NULL, 0, ''),
  (6, 'b', 16, 'state', 'committing', NULL, ''),
  (8, 'a', 21, 'attention_cleared', NULL, 0, '');
PRAGMA user_version = 6;)sql"));
  }
  auto log = MustOpen(Opts());
  ASSERT_NE(log, nullptr);
  // What is written after the upgrade follows what was there.
  ASSERT_TRUE(
      AppendSync(*log,
                 {core::AttemptRecorded{
                      "a", 0, {wire::Op::kCommit, 1, At(30), core::AttemptResult::kOk, "", 50}},
                  StateChanged("a", core::TxState::kCommitted, "", 31)})
          .ok());
  auto a = log->Find("a", true);
  ASSERT_TRUE(a.ok() && a->has_value()) << a.status().ToString();
  const auto& history = (*a)->branches[0].history;
  ASSERT_EQ(history.size(), 3u);
  EXPECT_EQ(history[0].result, core::AttemptResult::kTimeout);
  EXPECT_EQ(history[1].number, 2);
  EXPECT_EQ(history[2].op, wire::Op::kCommit);
  const auto& events = (*a)->events;
  ASSERT_EQ(events.size(), 3u);
  EXPECT_EQ(events[0].kind, core::TxEventKind::kNeedsAttention);
  EXPECT_EQ(events[1].kind, core::TxEventKind::kAttentionCleared);
  EXPECT_EQ(events[2].state, core::TxState::kCommitted);
  auto b = log->Find("b", true);
  ASSERT_TRUE(b.ok() && b->has_value());
  EXPECT_EQ((*b)->branches[0].history.size(), 1u);
  EXPECT_EQ((*b)->events.size(), 1u);

  RawDb raw(Opts().path);
  EXPECT_EQ(raw.QueryText("PRAGMA user_version"), std::to_string(LatestSchemaVersion()));
  // Numbered on from the highest number either table held.
  EXPECT_EQ(raw.QueryText("SELECT group_concat(seq) FROM "
                          "(SELECT seq FROM attempts WHERE tx_id = 'a' ORDER BY seq)"),
            "3,7,9");
  EXPECT_EQ(raw.QueryText("SELECT group_concat(seq) FROM "
                          "(SELECT seq FROM tx_events WHERE tx_id = 'a' ORDER BY seq)"),
            "4,8,10");
  EXPECT_EQ(raw.QueryText("SELECT count(*) FROM sqlite_master WHERE name GLOB '*_v7' OR "
                          "name IN ('attempts_tx', 'tx_events_tx')"),
            "0");
  EXPECT_EQ(raw.QueryText("SELECT count(*) FROM pragma_foreign_key_check"), "0");
}

// Attempt `number` of branch 0 of "a"'s prepare, timed out at ms `number`.
core::LogRecord TimedOutPrepare(int number) {
  return core::AttemptRecorded{
      "a", 0, {wire::Op::kPrepare, number, At(number), core::AttemptResult::kTimeout, "", 0}};
}

// "a"'s branch 0 shows attempts 1..count, in that order.
void ExpectAttemptsInOrder(SqliteTxLog& log, int count) {
  auto a = log.Find("a", true);
  ASSERT_TRUE(a.ok() && a->has_value()) << a.status().ToString();
  const auto& history = (*a)->branches[0].history;
  ASSERT_EQ(history.size(), static_cast<size_t>(count));
  for (int i = 0; i < count; ++i) EXPECT_EQ(history[i].number, i + 1);
}

TEST_F(SqliteTxLogTest, HistoryNumbersGoOnAfterARestart) {
  {
    auto log = MustOpen(Opts());
    ASSERT_NE(log, nullptr);
    ASSERT_TRUE(AppendSync(*log, {Created(MakeTx("a", 1)), TimedOutPrepare(1)}).ok());
    ASSERT_TRUE(AppendSync(*log, {TimedOutPrepare(2)}).ok());
  }
  auto log = MustOpen(Opts());
  ASSERT_NE(log, nullptr);
  // A number given before the restart would collide with the rows already there.
  ASSERT_TRUE(
      AppendSync(*log, {TimedOutPrepare(3), StateChanged("a", core::TxState::kAborted)}).ok());
  ExpectAttemptsInOrder(*log, 3);
}

TEST_F(SqliteTxLogTest, HistoryNumbersAreNeverGivenTwiceAfterAnotherWriterUsedTheFile) {
  // The lock keeps other coordinators out where flock holds; where it does not (a network
  // filesystem), a number read once and kept would collide with another writer's.
  auto log = MustOpen(Opts());
  ASSERT_NE(log, nullptr);
  ASSERT_TRUE(AppendSync(*log, {Created(MakeTx("a", 1)), TimedOutPrepare(1)}).ok());
  {
    RawDb raw(Opts().path);
    ASSERT_TRUE(
        raw.Exec("INSERT INTO attempts(tx_id, seq, branch, op, number, at, result, latency_us) "
                 "SELECT 'a', value + 1, 0, 'prepare', 2, 0, 'timeout', 0 FROM log_counters "
                 "WHERE name = 'history_seq'; "
                 "UPDATE log_counters SET value = value + 1 WHERE name = 'history_seq'"));
  }
  ASSERT_TRUE(AppendSync(*log, {TimedOutPrepare(3)}).ok());
  ExpectAttemptsInOrder(*log, 3);
}

TEST_F(SqliteTxLogTest, ASecondLogOnTheSameFileIsRefusedUntilTheFirstCloses) {
  // Two coordinators on one log would both recover, and could decide differently, the same
  // unfinished transactions.
  auto first = MustOpen(Opts());
  ASSERT_NE(first, nullptr);
  auto second = SqliteTxLog::Open(Opts());
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(second.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(second.status().message().find("in use by another coordinator (pid " +
                                           std::to_string(getpid()) + ")"),
            std::string::npos)
      << second.status().ToString();
  // Nor through another name for the same file.
  SqliteTxLog::Options linked = Opts();
  linked.path = dir_.File("link.db");
  ASSERT_EQ(symlink(Opts().path.c_str(), linked.path.c_str()), 0);
  EXPECT_EQ(SqliteTxLog::Open(linked).status().code(), StatusCode::kFailedPrecondition);
  ASSERT_TRUE(AppendSync(*first, {Created(MakeTx("a", 1))}).ok());  // the refusal broke nothing
  first->Close();
  auto after = MustOpen(Opts());
  ASSERT_NE(after, nullptr);
  auto a = after->Find("a", false);
  ASSERT_TRUE(a.ok() && a->has_value()) << a.status().ToString();
}

TEST_F(SqliteTxLogTest, RefusesADatabaseFromANewerVersion) {
  { ASSERT_NE(MustOpen(Opts()), nullptr); }
  {
    RawDb raw(Opts().path);
    ASSERT_TRUE(raw.Exec("PRAGMA user_version = " + std::to_string(LatestSchemaVersion() + 1)));
  }
  auto opened = SqliteTxLog::Open(Opts());
  ASSERT_FALSE(opened.ok());
  EXPECT_EQ(opened.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(opened.status().message().find("newer"), std::string::npos)
      << opened.status().ToString();
}

TEST_F(SqliteTxLogTest, CorruptPayloadIsDataLossNotAnException) {
  {
    auto log = MustOpen(Opts());
    ASSERT_NE(log, nullptr);
    ASSERT_TRUE(AppendSync(*log, {Created(MakeTx("a", 1))}).ok());
  }
  {
    RawDb raw(Opts().path);
    ASSERT_TRUE(raw.Exec("UPDATE branches SET payload = '{not json' WHERE tx_id = 'a'"));
  }
  auto log = MustOpen(Opts());
  ASSERT_NE(log, nullptr);
  auto found = log->Find("a", false);
  ASSERT_FALSE(found.ok());
  EXPECT_EQ(found.status().code(), StatusCode::kDataLoss);
  EXPECT_EQ(log->LoadUnfinished().status().code(), StatusCode::kDataLoss);
}

TEST_F(SqliteTxLogTest, UnknownEnumValueIsDataLoss) {
  {
    auto log = MustOpen(Opts());
    ASSERT_NE(log, nullptr);
    ASSERT_TRUE(AppendSync(*log, {Created(MakeTx("a", 1))}).ok());
  }
  {
    RawDb raw(Opts().path);
    ASSERT_TRUE(raw.Exec("UPDATE transactions SET state = 'limbo'"));
  }
  auto log = MustOpen(Opts());
  ASSERT_NE(log, nullptr);
  EXPECT_EQ(log->Find("a", false).status().code(), StatusCode::kDataLoss);
}

TEST_F(SqliteTxLogTest, InvalidUtf8PayloadIsStoredNotThrown) {
  auto log = MustOpen(Opts());
  ASSERT_NE(log, nullptr);
  Transaction tx = MakeTx("a", 1);
  tx.branches[0].payload = {{"name", std::string("bad \xff byte")}};
  ASSERT_TRUE(AppendSync(*log, {Created(tx)}).ok());
  auto found = log->Find("a", false);
  ASSERT_TRUE(found.ok() && found->has_value()) << found.status().ToString();
  EXPECT_TRUE((*found)->branches[0].payload["name"].is_string());
}

TEST_F(SqliteTxLogTest, EmptyIdempotencyKeysDoNotCollide) {
  auto log = MustOpen(Opts());
  ASSERT_NE(log, nullptr);
  EXPECT_TRUE(AppendSync(*log, {Created(MakeTx("a", 1)), Created(MakeTx("b", 1))}).ok());
  RawDb raw(Opts().path);
  EXPECT_EQ(raw.QueryText("SELECT count(*) FROM transactions WHERE idempotency_key IS NULL"), "2");
}

TEST_F(SqliteTxLogTest, ReadQueriesUseIndexes) {
  { ASSERT_NE(MustOpen(Opts()), nullptr); }
  RawDb raw(Opts().path);
  // The plan names the index used; a full scan would read "SCAN transactions".
  EXPECT_NE(raw.Plan("SELECT seq FROM transactions WHERE terminal = 0 ORDER BY seq")
                .find("transactions_unfinished"),
            std::string::npos);
  EXPECT_NE(raw.Plan("SELECT seq FROM transactions WHERE seq < 5 AND state = 'committed' "
                     "ORDER BY seq DESC LIMIT 5")
                .find("transactions_state"),
            std::string::npos);
  EXPECT_NE(raw.Plan("SELECT seq FROM transactions WHERE seq < 5 AND protocol = 'saga' "
                     "ORDER BY seq DESC LIMIT 5")
                .find("transactions_protocol"),
            std::string::npos);
  // A transaction's history is one range of the table's own key: no index, no sort.
  for (const char* table : {"attempts", "tx_events"}) {
    const std::string plan =
        raw.Plan(std::string("SELECT * FROM ") + table + " WHERE tx_id = 'a' ORDER BY seq");
    EXPECT_NE(plan.find("USING PRIMARY KEY (tx_id=?)"), std::string::npos) << plan;
    EXPECT_EQ(plan.find("TEMP B-TREE"), std::string::npos) << plan;
  }
  // Retention scans only what was created before its cutoff.
  EXPECT_NE(raw.Plan("SELECT id FROM transactions WHERE created_at < 5 AND terminal = 1 AND "
                     "updated_at < 5 ORDER BY created_at LIMIT 5")
                .find("transactions_created"),
            std::string::npos);
}

// What a 2PC transaction's records look like, from its start to its end (the engine's order).
std::vector<core::LogRecord> TwoPhaseLife(const std::string& id, int64_t t) {
  using core::BranchState;
  auto change = [&](int b, BranchState s, wire::Op op, int op_attempt, int attempts,
                    int64_t at) -> core::LogRecord {
    return core::BranchChanged{id, b, s, op, op_attempt, attempts, "", At(at), At(at - 1)};
  };
  auto attempt = [&](int b, wire::Op op, int64_t at) -> core::LogRecord {
    return core::AttemptRecorded{id, b, {op, 1, At(at), core::AttemptResult::kOk, "", 40 + b}};
  };
  Transaction tx = MakeTx(id, 2);
  for (core::Branch& b : tx.branches) {
    b.state = BranchState::kPreparing;
    b.op_attempt = b.attempts = 1;
    b.op_since = At(t);
  }
  return {Created(tx),
          attempt(0, wire::Op::kPrepare, t + 1),
          change(0, BranchState::kPrepared, wire::Op::kPrepare, 1, 1, t + 1),
          attempt(1, wire::Op::kPrepare, t + 2),
          change(1, BranchState::kPrepared, wire::Op::kPrepare, 1, 1, t + 2),
          StateChanged(id, core::TxState::kCommitting, "", t + 2),
          change(0, BranchState::kCommitting, wire::Op::kCommit, 1, 2, t + 2),
          change(1, BranchState::kCommitting, wire::Op::kCommit, 1, 2, t + 2),
          attempt(0, wire::Op::kCommit, t + 3),
          change(0, BranchState::kCommitted, wire::Op::kCommit, 1, 2, t + 3),
          attempt(1, wire::Op::kCommit, t + 4),
          change(1, BranchState::kCommitted, wire::Op::kCommit, 1, 2, t + 4),
          StateChanged(id, core::TxState::kCommitted, "", t + 4)};
}

TEST_F(SqliteTxLogTest, GroupsLeaveTheSameRowsAsOneCommitPerRecord) {
  auto each_alone = MustOpen(Opts());
  auto o = Opts();
  o.path = dir_.File("groups.db");
  auto groups = MustOpen(o);
  ASSERT_NE(each_alone, nullptr);
  ASSERT_NE(groups, nullptr);

  // Three lives, one cut short after its decision, one with a failed attempt and an attention
  // flag; each split in two groups, so that changes are folded into inserts (first group) and
  // superseded updates of rows an earlier group inserted are left out (second group).
  std::vector<core::LogRecord> first, second;
  for (int i = 0; i < 3; ++i) {
    const std::string id = "tx-" + std::to_string(i);
    std::vector<core::LogRecord> life = TwoPhaseLife(id, 100 * i);
    if (i == 1) {
      std::get<core::BranchChanged>(life[9]).last_error = "commit attempt 1: timeout";
      life.insert(life.begin() + 10, core::AttentionChanged{id, 0, true, true, At(150)});
    }
    if (i == 2) life.resize(8);
    for (const auto& r : life) ASSERT_TRUE(AppendSync(*each_alone, {r}).ok());
    first.insert(first.end(), life.begin(), life.begin() + 4);
    second.insert(second.end(), life.begin() + 4, life.end());
  }
  ASSERT_TRUE(AppendSync(*groups, first).ok());
  ASSERT_TRUE(AppendSync(*groups, second).ok());
  ASSERT_EQ(groups->stats().commits, 2u);

  for (const char* id : {"tx-0", "tx-1", "tx-2"}) {
    auto want = each_alone->Find(id, /*with_history=*/true);
    auto got = groups->Find(id, /*with_history=*/true);
    ASSERT_TRUE(want.ok() && want->has_value() && got.ok() && got->has_value());
    ExpectSameTx(**got, **want);
  }
  // Every column of every branch row, updated_at (which Find does not show) included.
  const std::string rows =
      "SELECT group_concat(quote(tx_id) || quote(idx) || quote(participant) || quote(payload) || "
      "quote(state) || quote(op) || quote(op_attempt) || quote(attempts) || quote(last_error) || "
      "quote(updated_at) || quote(after_json) || quote(needs_attention) || quote(op_since), ' ') "
      "FROM (SELECT * FROM branches ORDER BY tx_id, idx)";
  const std::string got_rows = RawDb(o.path).QueryText(rows);
  EXPECT_EQ(got_rows, RawDb(Opts().path).QueryText(rows));
  EXPECT_NE(got_rows.find("'commit attempt 1: timeout'"), std::string::npos) << got_rows;
}

TEST_F(SqliteTxLogTest, AChangeBeforeItsTransactionIsCreatedStillFailsItsGroup) {
  auto log = MustOpen(Opts());
  ASSERT_NE(log, nullptr);
  const core::LogRecord change = core::BranchChanged{
      "a", 0, core::BranchState::kPrepared, wire::Op::kPrepare, 1, 1, "", At(1)};
  // The later change of the same branch would be folded into the insert; the first one still
  // finds no row.
  EXPECT_FALSE(AppendSync(*log, {change, Created(MakeTx("a", 1)), change}).ok());
  auto a = log->Find("a", false);
  EXPECT_TRUE(!a.ok() || !a->has_value());
}

}  // namespace
}  // namespace txc::log::test
