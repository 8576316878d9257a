// Thin RAII layer over the SQLite C API for the SDK: an owned connection, prepared statements
// that finalize themselves, and errors turned into Status values naming what failed.
#pragma once

#include <sqlite3.h>

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "txc/status.h"

namespace txc::sdk {

struct SqliteCloser {
  void operator()(sqlite3* db) const { sqlite3_close_v2(db); }
};
using SqlitePtr = std::unique_ptr<sqlite3, SqliteCloser>;

// Status for a failed SQLite call: kUnavailable (busy/locked/IO) with sqlite3_errmsg.
Status SqliteError(sqlite3* db, int rc, std::string_view what);

// Runs SQL without results (several statements allowed).
Status Exec(sqlite3* db, const char* sql);

// A prepared statement. Not copyable; Step() then the column getters.
class SqliteStatement {
 public:
  static Result<SqliteStatement> Prepare(sqlite3* db, std::string_view sql);

  SqliteStatement(SqliteStatement&&) = default;
  SqliteStatement& operator=(SqliteStatement&&) = default;

  // Binding never fails for valid indexes of a statement we wrote ourselves; errors show up at
  // Step() time.
  SqliteStatement& Bind(int index, std::string_view text);
  SqliteStatement& Bind(int index, int64_t value);

  // true: a row is available; false: done.
  Result<bool> Step();
  // Makes the statement ready to run again (bindings cleared), for statements kept in a cache.
  void Reset();

  std::string ColumnText(int column) const;
  int64_t ColumnInt(int column) const;

 private:
  struct Finalizer {
    void operator()(sqlite3_stmt* s) const { sqlite3_finalize(s); }
  };
  SqliteStatement(sqlite3* db, sqlite3_stmt* stmt) : db_(db), stmt_(stmt) {}

  sqlite3* db_;
  std::unique_ptr<sqlite3_stmt, Finalizer> stmt_;
};

}  // namespace txc::sdk
