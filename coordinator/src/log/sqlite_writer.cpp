#include "log/sqlite_writer.h"

#include <type_traits>
#include <utility>

#include "core/branch_actions.h"
#include "log/group_plan.h"
#include "log/migrations.h"

namespace txc::log {
namespace {

Result<std::unique_ptr<SqliteStatement>> PrepareOwned(sqlite3* db, const char* sql) {
  TXC_ASSIGN_OR_RETURN(SqliteStatement st, SqliteStatement::Prepare(db, sql));
  return std::make_unique<SqliteStatement>(std::move(st));
}

// A branch's state columns, in the order both the insert and the update list them, from `first`.
// The texts are borrowed: `r` must outlive the statement's Run.
void BindBranchState(SqliteStatement& s, int first, const core::BranchChanged& r) {
  s.BindBorrowed(first, core::BranchStateName(r.state));
  s.BindBorrowed(first + 1, wire::OpName(r.op));
  s.Bind(first + 2, int64_t{r.op_attempt});
  s.Bind(first + 3, int64_t{r.attempts});
  s.BindBorrowed(first + 4, r.last_error);
  s.Bind(first + 5, core::ToMillis(r.at));
  s.Bind(first + 6, core::ToMillis(r.op_since));
}

// Payloads come from clients; invalid UTF-8 is replaced rather than thrown on.
std::string DumpJson(const nlohmann::json& j) {
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

}  // namespace

Result<std::unique_ptr<SqliteWriter>> SqliteWriter::Open(const std::string& path,
                                                         const std::string& synchronous,
                                                         int busy_timeout_ms) {
  std::unique_ptr<SqliteWriter> w(new SqliteWriter());
  TXC_ASSIGN_OR_RETURN(
      w->db_, OpenSqlite(path, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
                         busy_timeout_ms));
  sqlite3* db = w->db_.get();

  // journal_mode answers with the mode actually in effect; anything but WAL (e.g. a file system
  // without shared memory) would silently change the durability and concurrency we rely on.
  {
    TXC_ASSIGN_OR_RETURN(SqliteStatement st,
                         SqliteStatement::Prepare(db, "PRAGMA journal_mode=WAL"));
    TXC_ASSIGN_OR_RETURN(bool row, st.Step());
    std::string mode = row ? st.ColumnText(0) : "";
    if (mode != "wal")
      return Status::Unavailable("cannot enable WAL on " + path + " (got '" + mode + "')");
  }
  std::string sync = "PRAGMA synchronous=" + synchronous;
  TXC_RETURN_IF_ERROR(ExecSql(db, sync.c_str()));
  TXC_RETURN_IF_ERROR(ExecSql(db, "PRAGMA foreign_keys=ON"));
  TXC_RETURN_IF_ERROR(Migrate(db).WithContext(path));

  TXC_ASSIGN_OR_RETURN(w->begin_, PrepareOwned(db, "BEGIN IMMEDIATE"));
  TXC_ASSIGN_OR_RETURN(w->commit_, PrepareOwned(db, "COMMIT"));
  TXC_ASSIGN_OR_RETURN(w->rollback_, PrepareOwned(db, "ROLLBACK"));
  TXC_ASSIGN_OR_RETURN(w->insert_tx_, PrepareOwned(db, R"sql(
      INSERT INTO transactions(id, protocol, state, terminal, timeout_ms, created_at, updated_at,
                               reason, idempotency_key, request_hash, traceparent,
                               retry_max_attempts, retry_deadline_ms)
      VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13))sql"));
  TXC_ASSIGN_OR_RETURN(w->insert_branch_, PrepareOwned(db, R"sql(
      INSERT INTO branches(tx_id, idx, participant, payload, state, op, op_attempt, attempts,
                           last_error, updated_at, op_since, after_json)
      VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12))sql"));
  TXC_ASSIGN_OR_RETURN(w->update_tx_state_, PrepareOwned(db, R"sql(
      UPDATE transactions SET state = ?2, terminal = ?3, reason = ?4, updated_at = ?5
      WHERE id = ?1)sql"));
  TXC_ASSIGN_OR_RETURN(w->update_branch_, PrepareOwned(db, R"sql(
      UPDATE branches SET state = ?3, op = ?4, op_attempt = ?5, attempts = ?6, last_error = ?7,
                          updated_at = ?8, op_since = ?9
      WHERE tx_id = ?1 AND idx = ?2)sql"));
  TXC_ASSIGN_OR_RETURN(w->update_branch_attention_, PrepareOwned(db, R"sql(
      UPDATE branches SET needs_attention = ?3 WHERE tx_id = ?1 AND idx = ?2)sql"));
  TXC_ASSIGN_OR_RETURN(w->update_tx_attention_, PrepareOwned(db, R"sql(
      UPDATE transactions SET needs_attention = ?2, updated_at = ?3 WHERE id = ?1)sql"));
  TXC_ASSIGN_OR_RETURN(w->insert_attempt_, PrepareOwned(db, R"sql(
      INSERT INTO attempts(tx_id, branch, op, number, at, result, error, latency_us, seq)
      VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9))sql"));
  TXC_ASSIGN_OR_RETURN(w->insert_event_, PrepareOwned(db, R"sql(
      INSERT INTO tx_events(tx_id, at, kind, state, branch, detail, seq)
      VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7))sql"));
  TXC_ASSIGN_OR_RETURN(w->load_history_seq_, PrepareOwned(db, R"sql(
      SELECT value FROM log_counters WHERE name = 'history_seq')sql"));
  TXC_ASSIGN_OR_RETURN(w->store_history_seq_, PrepareOwned(db, R"sql(
      UPDATE log_counters SET value = ?1 WHERE name = 'history_seq')sql"));

  // The ids to purge are collected once, so the deletes agree on them. created_at bounds
  // the scan through its index (updated_at, which changes, has none: indexing it would cost
  // every state change an index update).
  TXC_RETURN_IF_ERROR(ExecSql(db, "PRAGMA temp_store=MEMORY"));
  TXC_RETURN_IF_ERROR(ExecSql(db, "CREATE TEMP TABLE purge_ids(id TEXT PRIMARY KEY)"));
  TXC_ASSIGN_OR_RETURN(w->select_purge_, PrepareOwned(db, R"sql(
      INSERT INTO purge_ids
      SELECT id FROM transactions
      WHERE created_at < ?1 AND terminal = 1 AND updated_at < ?1
      ORDER BY created_at LIMIT ?2)sql"));
  for (const char* sql : {"DELETE FROM attempts WHERE tx_id IN (SELECT id FROM purge_ids)",
                          "DELETE FROM tx_events WHERE tx_id IN (SELECT id FROM purge_ids)",
                          "DELETE FROM branches WHERE tx_id IN (SELECT id FROM purge_ids)",
                          "DELETE FROM transactions WHERE id IN (SELECT id FROM purge_ids)",
                          "DELETE FROM purge_ids"}) {
    TXC_ASSIGN_OR_RETURN(auto step, PrepareOwned(db, sql));
    w->purge_steps_.push_back(std::move(step));
  }
  return w;
}

Status SqliteWriter::ApplyGroup(const std::vector<const std::vector<core::LogRecord>*>& batches) {
  records_.clear();
  for (const auto* batch : batches) {
    for (const auto& record : *batch) records_.push_back(&record);
  }
  const GroupPlan plan = PlanGroup(records_);

  TXC_RETURN_IF_ERROR(begin_->Run().WithContext("begin"));
  // Read under the write lock, not kept from an earlier group: another writer that numbers its
  // rows from the same counter (where the log's file lock does not hold) cannot make a number be
  // given twice.
  Status st = LoadHistorySeq();
  const int64_t history_seq_before = history_seq_;
  for (size_t i = 0; i < records_.size() && st.ok(); ++i) {
    if (!plan.skip[i]) st = Apply(*records_[i], plan.branch_state[i]);
  }
  if (st.ok() && history_seq_ != history_seq_before) {
    store_history_seq_->Bind(1, history_seq_);
    st = store_history_seq_->Run().WithContext("history_seq");
  }
  // With synchronous=FULL the WAL is fsynced inside COMMIT, so a failed sync surfaces here.
  if (st.ok()) st = commit_->Run().WithContext("commit");
  if (!st.ok() && !sqlite3_get_autocommit(db_.get())) {
    // Best effort: if even ROLLBACK fails the log is poisoned anyway and the file is recovered
    // from the WAL on the next Open.
    (void)rollback_->Run();
  }
  return st;
}

Status SqliteWriter::LoadHistorySeq() {
  SqliteStatement& s = *load_history_seq_;
  ScopedReset reset(s);
  TXC_ASSIGN_OR_RETURN(bool row, s.Step());
  if (!row) return Status::DataLoss("log_counters has no history_seq");
  history_seq_ = s.ColumnInt(0);
  return Status::Ok();
}

Result<size_t> SqliteWriter::PurgeFinished(int64_t before_ms, size_t limit) {
  TXC_RETURN_IF_ERROR(begin_->Run().WithContext("begin purge"));
  size_t purged = 0;
  Status st = [&]() -> Status {
    select_purge_->Bind(1, before_ms);
    select_purge_->Bind(2, static_cast<int64_t>(limit));
    TXC_RETURN_IF_ERROR(select_purge_->Run().WithContext("select purge"));
    purged = static_cast<size_t>(sqlite3_changes(db_.get()));
    for (auto& step : purge_steps_) TXC_RETURN_IF_ERROR(step->Run().WithContext("purge"));
    // Only a failed COMMIT (a failed sync among others) leaves the file in doubt: kDataLoss.
    if (Status c = commit_->Run(); !c.ok()) return Status::DataLoss("commit purge: " + c.message());
    return Status::Ok();
  }();
  if (!st.ok()) {
    // A rollback that fails leaves the file in doubt too.
    if (!sqlite3_get_autocommit(db_.get()) && !rollback_->Run().ok()) {
      return Status::DataLoss("rollback purge after: " + st.message());
    }
    return st;
  }
  return purged;
}

namespace {

// Names a record in an error; built only when one of its statements failed.
struct RecordName {
  std::string operator()(const core::TxCreated& r) const { return "TxCreated(" + r.tx.id + ")"; }
  std::string operator()(const core::TxStateChanged& r) const {
    return "TxStateChanged(" + r.id + ")";
  }
  std::string operator()(const core::BranchChanged& r) const {
    return "BranchChanged(" + r.id + ", " + std::to_string(r.branch) + ")";
  }
  std::string operator()(const core::AttemptRecorded& r) const {
    return "AttemptRecorded(" + r.id + ", " + std::to_string(r.branch) + ")";
  }
  std::string operator()(const core::AttentionChanged& r) const {
    return "AttentionChanged(" + r.id + ", " + std::to_string(r.branch) + ")";
  }
  std::string operator()(const core::OperatorActed& r) const {
    return "OperatorActed(" + r.id + ")";
  }
};

}  // namespace

Status SqliteWriter::Apply(const core::LogRecord& record,
                           const std::vector<const core::BranchChanged*>& branch_state) {
  Status st = std::visit(
      [&](const auto& r) {
        if constexpr (std::is_same_v<std::decay_t<decltype(r)>, core::TxCreated>) {
          return Apply(r, branch_state);
        } else {
          return Apply(r);
        }
      },
      record);
  if (!st.ok()) return st.WithContext(std::visit(RecordName{}, record));
  return st;
}

Status SqliteWriter::Apply(const core::TxCreated& r,
                           const std::vector<const core::BranchChanged*>& branch_state) {
  // Texts are borrowed from the record (and the names are static): each lives until its Run.
  const core::Transaction& tx = r.tx;
  SqliteStatement& s = *insert_tx_;
  s.BindBorrowed(1, tx.id);
  s.BindBorrowed(2, core::ProtocolName(tx.protocol));
  s.BindBorrowed(3, core::TxStateName(tx.state));
  s.Bind(4, int64_t{core::IsTerminal(tx.state) ? 1 : 0});
  s.Bind(5, int64_t{tx.timeout.count()});
  s.Bind(6, core::ToMillis(tx.created_at));
  s.Bind(7, core::ToMillis(tx.updated_at));
  s.BindBorrowed(8, tx.reason);
  s.BindTextOrNull(9, tx.idempotency_key);
  s.BindBorrowed(10, tx.request_hash);
  s.BindBorrowed(11, tx.traceparent);
  s.Bind(12, int64_t{tx.retry_budget.max_attempts});
  s.Bind(13, int64_t{tx.retry_budget.deadline.count()});
  TXC_RETURN_IF_ERROR(s.Run());

  SqliteStatement& b = *insert_branch_;
  for (size_t i = 0; i < tx.branches.size(); ++i) {
    const core::Branch& br = tx.branches[i];
    core::BranchChanged initial{};
    const core::BranchChanged* state = i < branch_state.size() ? branch_state[i] : nullptr;
    if (state == nullptr) state = &(initial = core::BranchRecord(tx, br, tx.updated_at));
    const std::string payload = DumpJson(br.payload);
    const std::string after = nlohmann::json(br.after).dump();
    b.BindBorrowed(1, tx.id);
    b.Bind(2, int64_t{br.index});
    b.BindBorrowed(3, br.participant);
    b.BindBorrowed(4, payload);
    BindBranchState(b, 5, *state);
    b.BindBorrowed(12, after);
    if (Status st = b.Run(); !st.ok()) return st.WithContext("branch " + std::to_string(br.index));
  }
  return Status::Ok();
}

Status SqliteWriter::Apply(const core::TxStateChanged& r) {
  SqliteStatement& s = *update_tx_state_;
  s.BindBorrowed(1, r.id);
  s.BindBorrowed(2, core::TxStateName(r.state));
  s.Bind(3, int64_t{core::IsTerminal(r.state) ? 1 : 0});
  s.BindBorrowed(4, r.reason);
  s.Bind(5, core::ToMillis(r.at));
  TXC_RETURN_IF_ERROR(s.Run());
  TXC_RETURN_IF_ERROR(ExpectOneChange());
  return InsertEvent(r.id, core::EventOf(r));
}

Status SqliteWriter::Apply(const core::BranchChanged& r) {
  SqliteStatement& s = *update_branch_;
  s.BindBorrowed(1, r.id);
  s.Bind(2, int64_t{r.branch});
  BindBranchState(s, 3, r);
  TXC_RETURN_IF_ERROR(s.Run());
  return ExpectOneChange();
}

Status SqliteWriter::Apply(const core::AttemptRecorded& r) {
  const core::Attempt& a = r.attempt;
  SqliteStatement& s = *insert_attempt_;
  s.BindBorrowed(1, r.id);
  s.Bind(2, int64_t{r.branch});
  s.BindBorrowed(3, wire::OpName(a.op));
  s.Bind(4, int64_t{a.number});
  s.Bind(5, core::ToMillis(a.at));
  s.BindBorrowed(6, core::AttemptResultName(a.result));
  s.BindBorrowed(7, a.error);
  s.Bind(8, a.latency_us);
  s.Bind(9, ++history_seq_);
  // The foreign key to branches rejects attempts of unknown transactions or branches.
  return s.Run();
}

Status SqliteWriter::Apply(const core::AttentionChanged& r) {
  SqliteStatement& b = *update_branch_attention_;
  b.Bind(1, r.id);
  b.Bind(2, int64_t{r.branch});
  b.Bind(3, int64_t{r.branch_needs_attention ? 1 : 0});
  TXC_RETURN_IF_ERROR(b.Run());
  TXC_RETURN_IF_ERROR(ExpectOneChange());
  SqliteStatement& t = *update_tx_attention_;
  t.Bind(1, r.id);
  t.Bind(2, int64_t{r.tx_needs_attention ? 1 : 0});
  t.Bind(3, core::ToMillis(r.at));
  TXC_RETURN_IF_ERROR(t.Run());
  TXC_RETURN_IF_ERROR(ExpectOneChange());
  return InsertEvent(r.id, core::EventOf(r));
}

Status SqliteWriter::Apply(const core::OperatorActed& r) {
  // The foreign key to transactions rejects actions on unknown transactions.
  return InsertEvent(r.id, core::EventOf(r));
}

Status SqliteWriter::InsertEvent(const std::string& id, const core::TxEvent& e) {
  SqliteStatement& s = *insert_event_;
  s.BindBorrowed(1, id);
  s.Bind(2, core::ToMillis(e.at));
  s.BindBorrowed(3, core::TxEventKindName(e.kind));
  if (e.state) {
    s.BindBorrowed(4, core::TxStateName(*e.state));
  } else {
    s.BindNull(4);
  }
  if (e.branch >= 0) {
    s.Bind(5, int64_t{e.branch});
  } else {
    s.BindNull(5);
  }
  s.BindBorrowed(6, e.detail);
  s.Bind(7, ++history_seq_);
  return s.Run();
}

Status SqliteWriter::ExpectOneChange() {
  if (sqlite3_changes(db_.get()) == 1) return Status::Ok();
  return Status::Internal("no such transaction or branch");
}

}  // namespace txc::log
