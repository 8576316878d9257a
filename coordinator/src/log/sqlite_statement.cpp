#include "log/sqlite_statement.h"

#include <utility>

namespace txc::log {

Status SqliteError(sqlite3* db, std::string_view what) {
  if (db == nullptr) return Status::Internal(std::string(what) + ": no database handle");
  return Status::Internal(std::string(what) + ": " + sqlite3_errmsg(db) + " (" +
                          std::to_string(sqlite3_extended_errcode(db)) + ")");
}

Result<SqliteDb> OpenSqlite(const std::string& path, int flags, int busy_timeout_ms) {
  sqlite3* raw = nullptr;
  int rc = sqlite3_open_v2(path.c_str(), &raw, flags, nullptr);
  SqliteDb db(raw);  // sqlite3_open_v2 may return a handle even on failure; close it either way
  if (rc != SQLITE_OK) {
    std::string msg = db ? sqlite3_errmsg(db.get()) : sqlite3_errstr(rc);
    return Status::Unavailable("open " + path + ": " + msg);
  }
  sqlite3_extended_result_codes(db.get(), 1);
  if (sqlite3_busy_timeout(db.get(), busy_timeout_ms) != SQLITE_OK) {
    return SqliteError(db.get(), "set busy_timeout");
  }
  return db;
}

Status ExecSql(sqlite3* db, const char* sql) {
  char* err = nullptr;
  int rc = sqlite3_exec(db, sql, nullptr, nullptr, &err);
  if (rc == SQLITE_OK) return Status::Ok();
  std::string msg = err != nullptr ? err : sqlite3_errstr(rc);
  sqlite3_free(err);
  return Status::Internal(std::string(sql).substr(0, 60) + ": " + msg);
}

Result<int64_t> QueryInt(sqlite3* db, const char* sql) {
  TXC_ASSIGN_OR_RETURN(SqliteStatement st, SqliteStatement::Prepare(db, sql));
  TXC_ASSIGN_OR_RETURN(bool row, st.Step());
  if (!row) return Status::Internal(std::string(sql) + ": returned no row");
  return st.ColumnInt(0);
}

Result<SqliteStatement> SqliteStatement::Prepare(sqlite3* db, std::string_view sql) {
  sqlite3_stmt* stmt = nullptr;
  // SQLITE_PREPARE_PERSISTENT: these statements are cached for the connection's lifetime.
  int rc = sqlite3_prepare_v3(db, sql.data(), static_cast<int>(sql.size()),
                              SQLITE_PREPARE_PERSISTENT, &stmt, nullptr);
  if (rc != SQLITE_OK) {
    sqlite3_finalize(stmt);
    return SqliteError(db, "prepare \"" + std::string(sql.substr(0, 60)) + "\"");
  }
  if (stmt == nullptr) return Status::Internal("prepare: empty statement");
  return SqliteStatement(db, stmt);
}

void SqliteStatement::NoteBind(int rc, int index) {
  if (rc != SQLITE_OK && bind_status_.ok()) {
    bind_status_ = SqliteError(db_, "bind parameter " + std::to_string(index));
  }
}

void SqliteStatement::Bind(int index, int64_t value) {
  NoteBind(sqlite3_bind_int64(stmt_.get(), index, value), index);
}

void SqliteStatement::Bind(int index, std::string_view text) {
  NoteBind(sqlite3_bind_text64(stmt_.get(), index, text.data(), text.size(), SQLITE_TRANSIENT,
                               SQLITE_UTF8),
           index);
}

void SqliteStatement::BindBorrowed(int index, std::string_view text) {
  NoteBind(
      sqlite3_bind_text64(stmt_.get(), index, text.data(), text.size(), SQLITE_STATIC, SQLITE_UTF8),
      index);
}

void SqliteStatement::BindNull(int index) {
  NoteBind(sqlite3_bind_null(stmt_.get(), index), index);
}

void SqliteStatement::BindTextOrNull(int index, std::string_view text) {
  if (text.empty()) {
    BindNull(index);
  } else {
    Bind(index, text);
  }
}

Result<bool> SqliteStatement::Step() {
  if (!bind_status_.ok()) return bind_status_;
  int rc = sqlite3_step(stmt_.get());
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  return SqliteError(db_, "step");
}

Status SqliteStatement::Run() {
  ScopedReset reset(*this);
  TXC_ASSIGN_OR_RETURN(bool row, Step());
  if (row) return Status::Internal("statement returned rows where none were expected");
  return Status::Ok();
}

int64_t SqliteStatement::ColumnInt(int col) const { return sqlite3_column_int64(stmt_.get(), col); }

std::string SqliteStatement::ColumnText(int col) const {
  const unsigned char* text = sqlite3_column_text(stmt_.get(), col);
  if (text == nullptr) return {};
  int n = sqlite3_column_bytes(stmt_.get(), col);
  return std::string(reinterpret_cast<const char*>(text), static_cast<size_t>(n));
}

bool SqliteStatement::ColumnIsNull(int col) const {
  return sqlite3_column_type(stmt_.get(), col) == SQLITE_NULL;
}

void SqliteStatement::Reset() {
  sqlite3_reset(stmt_.get());
  sqlite3_clear_bindings(stmt_.get());
  bind_status_ = Status::Ok();
}

}  // namespace txc::log
