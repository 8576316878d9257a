// RAII wrappers for SQLite handles: a connection (SqliteDb) and a prepared statement
// (SqliteStatement). Internal to txc_log; nothing outside coordinator/src/log includes sqlite3.h.
//
// None of these are thread-safe: each connection, and the statements prepared on it, is used by
// one thread at a time (the owner serialises access).
#pragma once

#include <sqlite3.h>

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "txc/status.h"

namespace txc::log {

struct SqliteDbCloser {
  void operator()(sqlite3* db) const { sqlite3_close_v2(db); }
};
using SqliteDb = std::unique_ptr<sqlite3, SqliteDbCloser>;

// "<what>: <sqlite message> (<extended code>)" as kInternal; callers re-code as needed.
Status SqliteError(sqlite3* db, std::string_view what);

// Opens `path` with `flags` (SQLITE_OPEN_*); busy_timeout applied. Errors: kUnavailable.
Result<SqliteDb> OpenSqlite(const std::string& path, int flags, int busy_timeout_ms);

// Runs one or more statements that return no rows we need.
Status ExecSql(sqlite3* db, const char* sql);

// Runs a statement returning a single integer (e.g. "PRAGMA user_version").
Result<int64_t> QueryInt(sqlite3* db, const char* sql);

class SqliteStatement {
 public:
  static Result<SqliteStatement> Prepare(sqlite3* db, std::string_view sql);

  SqliteStatement(SqliteStatement&&) noexcept = default;
  SqliteStatement& operator=(SqliteStatement&&) noexcept = default;

  // Binding, 1-based. A failed bind is remembered and reported by the next Step()/Run().
  void Bind(int index, int64_t value);
  void Bind(int index, std::string_view text);  // copied: a temporary may be passed
  // Read in place, not copied: the text must stay alive and unchanged until the statement is next
  // reset (Run resets it), so a temporary does not compile. For the log writer, whose records
  // outlive their statements: a copy per text was a malloc, a memcpy and a free.
  void BindBorrowed(int index, const std::string& text) {
    BindBorrowed(index, std::string_view(text));
  }
  void BindBorrowed(int index, std::string&& text) = delete;
  void BindBorrowed(int index, const std::string&& text) = delete;
  // For string literals (the names of states, ops and results).
  void BindBorrowed(int index, const char* text) { BindBorrowed(index, std::string_view(text)); }
  void BindNull(int index);
  void BindTextOrNull(int index, std::string_view text);  // NULL when empty (for UNIQUE keys)

  // Advances the statement: true with a row available, false when done.
  Result<bool> Step();
  // Steps to completion, expecting no rows, then resets the statement.
  Status Run();

  int64_t ColumnInt(int col) const;
  std::string ColumnText(int col) const;  // "" for NULL
  bool ColumnIsNull(int col) const;

  // Clears bindings and releases the statement's read snapshot; call when done with the rows.
  void Reset();

 private:
  struct Finalizer {
    void operator()(sqlite3_stmt* s) const { sqlite3_finalize(s); }
  };
  SqliteStatement(sqlite3* db, sqlite3_stmt* stmt) : db_(db), stmt_(stmt) {}
  void NoteBind(int rc, int index);
  void BindBorrowed(int index, std::string_view text);

  sqlite3* db_;
  std::unique_ptr<sqlite3_stmt, Finalizer> stmt_;
  Status bind_status_;
};

// Resets a statement when the scope ends, so an early return never leaves it mid-iteration
// (which would keep a read transaction open).
class ScopedReset {
 public:
  explicit ScopedReset(SqliteStatement& s) : s_(s) {}
  ~ScopedReset() { s_.Reset(); }
  ScopedReset(const ScopedReset&) = delete;
  ScopedReset& operator=(const ScopedReset&) = delete;

 private:
  SqliteStatement& s_;
};

}  // namespace txc::log
