// The SDK's table as SQLite runs it: the statements of a request build no temporary table, the
// in-doubt listing reads its own index without scanning or sorting, and a database of an older
// schema keeps its rows, and what the service built on the table, and gets both.
#include <gtest/gtest.h>

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "branch_store.h"
#include "temp_dir.h"

namespace txc::sdk {
namespace {

// Version 1 as it was created: no schema table, 2PC states only, no participants column.
constexpr const char* kSchemaV1 = R"sql(
CREATE TABLE txc_branches (
  gid TEXT NOT NULL, branch INTEGER NOT NULL, protocol TEXT NOT NULL,
  state TEXT NOT NULL CHECK (state IN ('prepared', 'committed', 'aborted')),
  payload TEXT, updated_at INTEGER NOT NULL, PRIMARY KEY (gid, branch));
CREATE INDEX txc_branches_by_state ON txc_branches (state, updated_at);
INSERT INTO txc_branches VALUES ('a', 0, '2pc', 'prepared', '{"x":1}', 10);
INSERT INTO txc_branches VALUES ('a', 1, '2pc', 'committed', '{}', 11);
INSERT INTO txc_branches VALUES ('b', 0, '2pc', 'prepared', NULL, 12);
INSERT INTO txc_branches VALUES ('c', 0, '2pc', 'aborted', '{}', 13);
)sql";

// Version 2 as it was created (the CHECK's IN list built a temporary table on every write).
constexpr const char* kSchemaV2 = R"sql(
CREATE TABLE txc_schema (version INTEGER NOT NULL);
INSERT INTO txc_schema (version) VALUES (2);
CREATE TABLE txc_branches (
  gid          TEXT    NOT NULL,
  branch       INTEGER NOT NULL,
  protocol     TEXT    NOT NULL,
  state        TEXT    NOT NULL CHECK (state IN ('prepared', 'precommitted', 'committed',
                         'aborted', 'done', 'failed', 'compensated')),
  payload      TEXT,
  updated_at   INTEGER NOT NULL,
  participants TEXT,
  PRIMARY KEY (gid, branch)
);
CREATE INDEX txc_branches_by_state ON txc_branches (state, updated_at);
INSERT INTO txc_branches VALUES ('a', 0, '2pc', 'prepared', '{"x":1}', 10, NULL);
INSERT INTO txc_branches VALUES ('a', 1, '2pc', 'committed', '{}', 11, NULL);
INSERT INTO txc_branches VALUES ('b', 0, '3pc', 'precommitted', NULL, 12, '["p","q"]');
INSERT INTO txc_branches VALUES ('c', 0, 'saga', 'compensated', '{}', 13, NULL);
)sql";

// What a service may have built on the SDK's table: a view, a trigger and an index of its own.
constexpr const char* kServiceObjects = R"sql(
CREATE VIEW settled AS SELECT gid FROM txc_branches WHERE state = 'committed';
CREATE TABLE audit (gid TEXT, state TEXT);
CREATE TRIGGER audit_branches AFTER UPDATE ON txc_branches
  BEGIN INSERT INTO audit VALUES (new.gid, new.state); END;
CREATE INDEX branches_by_payload ON txc_branches (payload);
)sql";

class BranchStoreSchemaTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(dir_.ok()); }
  void Open() {
    auto store = BranchStore::Open(dir_.File("db"), std::chrono::milliseconds(1000));
    ASSERT_TRUE(store.ok()) << store.status().ToString();
    store_ = std::move(store).value();
  }
  // Runs `sql` on a database the store has not opened yet.
  void Prepopulate(const std::string& sql) {
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open(dir_.File("db").c_str(), &db), SQLITE_OK);
    char* error = nullptr;
    const int rc = sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &error);
    const std::string message = error ? error : "";
    sqlite3_free(error);
    sqlite3_close(db);
    ASSERT_EQ(rc, SQLITE_OK) << message;
  }
  // Column `column` of every row `sql` returns.
  std::vector<std::string> Column(const std::string& sql, int column = 0) {
    std::vector<std::string> out;
    sqlite3_stmt* stmt = nullptr;
    EXPECT_EQ(sqlite3_prepare_v2(store_->db(), sql.c_str(), -1, &stmt, nullptr), SQLITE_OK)
        << sql << ": " << sqlite3_errmsg(store_->db());
    while (stmt && sqlite3_step(stmt) == SQLITE_ROW) {
      const unsigned char* text = sqlite3_column_text(stmt, column);
      out.push_back(text ? reinterpret_cast<const char*>(text) : "NULL");
    }
    sqlite3_finalize(stmt);
    return out;
  }
  // The store's own prepared statement whose text contains `fragment`.
  sqlite3_stmt* StoreStatement(const std::string& fragment) {
    for (sqlite3_stmt* s = sqlite3_next_stmt(store_->db(), nullptr); s != nullptr;
         s = sqlite3_next_stmt(store_->db(), s)) {
      if (std::string(sqlite3_sql(s)).find(fragment) != std::string::npos) return s;
    }
    return nullptr;
  }
  // The opcodes SQLite runs for the store's statement containing `fragment`.
  std::vector<std::string> Opcodes(const std::string& fragment) {
    sqlite3_stmt* s = StoreStatement(fragment);
    if (s == nullptr) {
      ADD_FAILURE() << "the store has no statement with " << fragment;
      return {};
    }
    const std::string sql = sqlite3_sql(s);
    std::vector<std::string> out;
    sqlite3_stmt* explain = nullptr;
    EXPECT_EQ(sqlite3_prepare_v2(store_->db(), ("EXPLAIN " + sql).c_str(), -1, &explain, nullptr),
              SQLITE_OK);
    while (explain && sqlite3_step(explain) == SQLITE_ROW) {
      out.push_back(reinterpret_cast<const char*>(sqlite3_column_text(explain, 1)));
    }
    sqlite3_finalize(explain);
    return out;
  }
  BranchRecord Record(const std::string& gid, BranchState state, int64_t at) {
    return BranchRecord{gid, 0, "2pc", state, "{}", at, {}};
  }
  // A prepare and its commit, through the store's own statements.
  void PrepareAndCommit(const std::string& gid) {
    auto lock = store_->Lock();
    ASSERT_TRUE(store_->Begin().ok());
    ASSERT_TRUE(store_->Insert(Record(gid, BranchState::kPrepared, WallClockMs())).ok());
    ASSERT_TRUE(store_->SetState(gid, 0, BranchState::kCommitted).ok());
    ASSERT_TRUE(store_->Commit().ok());
  }
  void ExpectWritesBuildNoTemporaryTable() {
    PrepareAndCommit("g-write");
    for (const char* statement : {"INSERT INTO txc_branches", "UPDATE txc_branches"}) {
      const std::vector<std::string> ops = Opcodes(statement);
      EXPECT_FALSE(ops.empty()) << statement;
      for (const auto& op : ops) EXPECT_NE(op, "OpenEphemeral") << statement;
    }
  }
  // `expected`: the in-doubt branches older than 50 ms, oldest first, with the ones this adds:
  // "early" (20) and "late" (40).
  void ExpectInDoubtListingUsesItsIndex(const std::vector<std::string>& expected) {
    {
      auto lock = store_->Lock();
      ASSERT_TRUE(store_->Begin().ok());
      for (int i = 0; i < 200; ++i) {
        ASSERT_TRUE(
            store_->Insert(Record("done-" + std::to_string(i), BranchState::kCommitted, 5)).ok());
      }
      ASSERT_TRUE(store_->Insert(Record("late", BranchState::kPreCommitted, 40)).ok());
      ASSERT_TRUE(store_->Insert(Record("early", BranchState::kPrepared, 20)).ok());
      ASSERT_TRUE(store_->Insert(Record("too-new", BranchState::kPrepared, 90)).ok());
      ASSERT_TRUE(store_->Commit().ok());
    }
    auto lock = store_->Lock();
    auto in_doubt = store_->ListInDoubt(50, 10);
    ASSERT_TRUE(in_doubt.ok()) << in_doubt.status().ToString();
    std::vector<std::string> gids;
    for (const auto& r : *in_doubt) gids.push_back(r.gid);
    EXPECT_EQ(gids, expected);
    sqlite3_stmt* listing = StoreStatement("updated_at < ?1");
    ASSERT_NE(listing, nullptr);
    EXPECT_EQ(sqlite3_stmt_status(listing, SQLITE_STMTSTATUS_FULLSCAN_STEP, 0), 0);
    EXPECT_EQ(sqlite3_stmt_status(listing, SQLITE_STMTSTATUS_SORT, 0), 0);
    const std::vector<std::string> plan =
        Column("EXPLAIN QUERY PLAN " + std::string(sqlite3_sql(listing)), 3);
    ASSERT_EQ(plan.size(), 1u);
    EXPECT_NE(plan[0].find("USING INDEX txc_branches_in_doubt"), std::string::npos) << plan[0];
  }
  // A file of an older schema, with the service's own objects on the table, opened by this SDK.
  void ExpectUpgraded(const std::string& old_schema, const std::vector<std::string>& rows) {
    Prepopulate(old_schema + kServiceObjects);
    Open();
    const std::string all =
        "SELECT gid || '|' || branch || '|' || protocol || '|' || state || '|' || "
        "coalesce(payload, 'NULL') || '|' || updated_at || '|' || coalesce(participants, 'NULL') "
        "FROM txc_branches ORDER BY gid, branch";
    EXPECT_EQ(Column(all), rows);
    EXPECT_EQ(Column("SELECT version FROM txc_schema"), (std::vector<std::string>{"3"}));
    EXPECT_EQ(Column("SELECT type || ' ' || name FROM sqlite_master WHERE sql IS NOT NULL "
                     "ORDER BY type, name"),
              (std::vector<std::string>{"index branches_by_payload", "index txc_branches_in_doubt",
                                        "table audit", "table txc_branches", "table txc_schema",
                                        "trigger audit_branches", "view settled"}));
    ExpectWritesBuildNoTemporaryTable();
    // The service's view and trigger work on the new table (the trigger saw the commit above).
    EXPECT_EQ(Column("SELECT gid FROM settled ORDER BY gid"),
              (std::vector<std::string>{"a", "g-write"}));
    EXPECT_EQ(Column("SELECT gid || ' ' || state FROM audit"),
              (std::vector<std::string>{"g-write committed"}));
    ExpectInDoubtListingUsesItsIndex({"a", "b", "early", "late"});
  }

  testing::TempDir dir_;  // outlives the store: members go in reverse order
  std::unique_ptr<BranchStore> store_;
};

TEST_F(BranchStoreSchemaTest, WritesBuildNoTemporaryTable) {
  Open();
  ExpectWritesBuildNoTemporaryTable();
}

TEST_F(BranchStoreSchemaTest, InDoubtListingReadsOnlyItsIndex) {
  Open();
  ExpectInDoubtListingUsesItsIndex({"early", "late"});
}

TEST_F(BranchStoreSchemaTest, TheStateCheckStillRefusesAnUnknownState) {
  Open();
  char* error = nullptr;
  EXPECT_NE(sqlite3_exec(store_->db(),
                         "INSERT INTO txc_branches (gid, branch, protocol, state, updated_at) "
                         "VALUES ('g', 0, '2pc', 'bogus', 1)",
                         nullptr, nullptr, &error),
            SQLITE_OK);
  ASSERT_NE(error, nullptr);
  EXPECT_NE(std::string(error).find("CHECK constraint failed"), std::string::npos) << error;
  sqlite3_free(error);
}

TEST_F(BranchStoreSchemaTest, AFileOfSchemaOneIsUpgradedWithWhatTheServiceBuiltOnIt) {
  ExpectUpgraded(kSchemaV1, {"a|0|2pc|prepared|{\"x\":1}|10|NULL", "a|1|2pc|committed|{}|11|NULL",
                             "b|0|2pc|prepared|NULL|12|NULL", "c|0|2pc|aborted|{}|13|NULL"});
}

TEST_F(BranchStoreSchemaTest, AFileOfSchemaTwoIsUpgradedWithWhatTheServiceBuiltOnIt) {
  ExpectUpgraded(kSchemaV2,
                 {"a|0|2pc|prepared|{\"x\":1}|10|NULL", "a|1|2pc|committed|{}|11|NULL",
                  "b|0|3pc|precommitted|NULL|12|[\"p\",\"q\"]", "c|0|saga|compensated|{}|13|NULL"});
}

}  // namespace
}  // namespace txc::sdk
