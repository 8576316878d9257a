#include "log/sqlite_reader.h"

#include <algorithm>
#include <charconv>
#include <limits>
#include <utility>

namespace txc::log {
namespace {

constexpr const char* kTxColumns =
    "SELECT seq, id, protocol, state, timeout_ms, created_at, updated_at, reason, "
    "idempotency_key, request_hash, traceparent, retry_max_attempts, retry_deadline_ms, "
    "needs_attention FROM transactions ";

constexpr std::string_view kCursorPrefix = "c";

Result<std::unique_ptr<SqliteStatement>> PrepareOwned(sqlite3* db, const std::string& sql) {
  TXC_ASSIGN_OR_RETURN(SqliteStatement st, SqliteStatement::Prepare(db, sql));
  return std::make_unique<SqliteStatement>(std::move(st));
}

// A stored value this code cannot interpret: the file was damaged or written by something else.
Status Corrupt(const std::string& what) { return Status::DataLoss("corrupt log row: " + what); }

template <typename T>
Result<T> ParseColumn(std::optional<T> parsed, const std::string& what, const std::string& text) {
  if (!parsed) return Corrupt(what + " '" + text + "'");
  return *parsed;
}

}  // namespace

std::string EncodeCursor(int64_t seq) { return std::string(kCursorPrefix) + std::to_string(seq); }

Result<int64_t> DecodeCursor(const std::string& cursor) {
  std::string_view digits(cursor);
  if (!digits.starts_with(kCursorPrefix)) return Status::InvalidArgument("cursor is malformed");
  digits.remove_prefix(kCursorPrefix.size());
  int64_t seq = 0;
  auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), seq);
  if (digits.empty() || ec != std::errc() || end != digits.data() + digits.size() || seq <= 0) {
    return Status::InvalidArgument("cursor is malformed");
  }
  return seq;
}

Result<std::unique_ptr<SqliteReader>> SqliteReader::Open(const std::string& path,
                                                         int busy_timeout_ms) {
  std::unique_ptr<SqliteReader> r(new SqliteReader());
  // READWRITE (not READONLY) so the connection can map the WAL index; query_only forbids writes.
  TXC_ASSIGN_OR_RETURN(
      r->db_, OpenSqlite(path, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, busy_timeout_ms));
  sqlite3* db = r->db_.get();
  TXC_RETURN_IF_ERROR(ExecSql(db, "PRAGMA query_only=ON"));

  const std::string tx = kTxColumns;
  TXC_ASSIGN_OR_RETURN(r->begin_, PrepareOwned(db, "BEGIN"));
  TXC_ASSIGN_OR_RETURN(r->commit_, PrepareOwned(db, "COMMIT"));
  TXC_ASSIGN_OR_RETURN(r->unfinished_, PrepareOwned(db, tx + "WHERE terminal = 0 ORDER BY seq"));
  TXC_ASSIGN_OR_RETURN(r->by_id_, PrepareOwned(db, tx + "WHERE id = ?1"));
  TXC_ASSIGN_OR_RETURN(r->by_key_, PrepareOwned(db, tx + "WHERE idempotency_key = ?1"));
  for (int mask = 0; mask < kListQueries; ++mask) {
    std::string sql = tx + "WHERE seq < ?1";
    if (mask & kByState) sql += " AND state = ?2";
    if (mask & kByProtocol) sql += " AND protocol = ?3";
    if (mask & kByAttention) sql += " AND needs_attention = ?5";
    sql += " ORDER BY seq DESC LIMIT ?4";
    TXC_ASSIGN_OR_RETURN(r->list_[mask], PrepareOwned(db, sql));
  }
  TXC_ASSIGN_OR_RETURN(r->branches_, PrepareOwned(db, R"sql(
      SELECT idx, participant, payload, state, op, op_attempt, attempts, last_error, after_json,
             needs_attention, op_since
      FROM branches WHERE tx_id = ?1 ORDER BY idx)sql"));
  TXC_ASSIGN_OR_RETURN(r->history_, PrepareOwned(db, R"sql(
      SELECT branch, op, number, at, result, error, latency_us
      FROM attempts WHERE tx_id = ?1 ORDER BY seq)sql"));
  TXC_ASSIGN_OR_RETURN(r->events_, PrepareOwned(db, R"sql(
      SELECT at, kind, state, branch, detail FROM tx_events WHERE tx_id = ?1 ORDER BY seq)sql"));
  return r;
}

template <typename Fn>
auto SqliteReader::InSnapshot(Fn&& fn) -> decltype(fn()) {
  TXC_RETURN_IF_ERROR(begin_->Run().WithContext("begin read"));
  auto result = fn();
  // A read transaction has nothing to lose; COMMIT only ends it. If that fails, ROLLBACK so
  // the connection is not left inside a transaction holding an old snapshot.
  if (!commit_->Run().ok()) (void)ExecSql(db_.get(), "ROLLBACK");
  return result;
}

Result<std::vector<core::Transaction>> SqliteReader::ReadTransactions(SqliteStatement& query,
                                                                      std::vector<int64_t>* seqs) {
  std::vector<core::Transaction> out;
  {
    ScopedReset reset(query);
    while (true) {
      TXC_ASSIGN_OR_RETURN(bool row, query.Step());
      if (!row) break;
      core::Transaction tx;
      if (seqs != nullptr) seqs->push_back(query.ColumnInt(0));
      tx.id = query.ColumnText(1);
      std::string protocol = query.ColumnText(2);
      TXC_ASSIGN_OR_RETURN(tx.protocol, ParseColumn(core::ParseProtocol(protocol),
                                                    "tx " + tx.id + " protocol", protocol));
      std::string state = query.ColumnText(3);
      TXC_ASSIGN_OR_RETURN(tx.state,
                           ParseColumn(core::ParseTxState(state), "tx " + tx.id + " state", state));
      tx.timeout = core::Duration(query.ColumnInt(4));
      tx.created_at = core::FromMillis(query.ColumnInt(5));
      tx.updated_at = core::FromMillis(query.ColumnInt(6));
      tx.reason = query.ColumnText(7);
      tx.idempotency_key = query.ColumnText(8);
      tx.request_hash = query.ColumnText(9);
      tx.traceparent = query.ColumnText(10);
      tx.retry_budget.max_attempts = static_cast<int>(query.ColumnInt(11));
      tx.retry_budget.deadline = core::Duration(query.ColumnInt(12));
      tx.needs_attention = query.ColumnInt(13) != 0;
      out.push_back(std::move(tx));
    }
  }
  // Branches after the loop: one statement at a time keeps each query simple and resettable.
  for (core::Transaction& tx : out) TXC_RETURN_IF_ERROR(ReadBranches(tx));
  return out;
}

Status SqliteReader::ReadBranches(core::Transaction& tx) {
  SqliteStatement& q = *branches_;
  ScopedReset reset(q);
  q.Bind(1, tx.id);
  while (true) {
    TXC_ASSIGN_OR_RETURN(bool row, q.Step());
    if (!row) return Status::Ok();
    core::Branch b;
    b.index = static_cast<int>(q.ColumnInt(0));
    const std::string where = "tx " + tx.id + " branch " + std::to_string(b.index);
    b.participant = q.ColumnText(1);
    std::string payload = q.ColumnText(2);
    b.payload = nlohmann::json::parse(payload, nullptr, /*allow_exceptions=*/false);
    if (b.payload.is_discarded()) return Corrupt(where + " payload is not JSON");
    std::string state = q.ColumnText(3);
    TXC_ASSIGN_OR_RETURN(b.state,
                         ParseColumn(core::ParseBranchState(state), where + " state", state));
    std::string op = q.ColumnText(4);
    TXC_ASSIGN_OR_RETURN(b.op, ParseColumn(wire::ParseOp(op), where + " op", op));
    b.op_attempt = static_cast<int>(q.ColumnInt(5));
    b.attempts = static_cast<int>(q.ColumnInt(6));
    b.last_error = q.ColumnText(7);
    nlohmann::json after = nlohmann::json::parse(q.ColumnText(8), nullptr, false);
    if (!after.is_array()) return Corrupt(where + " after_json is not an array");
    for (const auto& dep : after) {
      if (!dep.is_number_integer()) return Corrupt(where + " after_json holds a non-integer");
      b.after.push_back(dep.get<int>());
    }
    b.needs_attention = q.ColumnInt(9) != 0;
    b.op_since = core::FromMillis(q.ColumnInt(10));
    tx.branches.push_back(std::move(b));
  }
}

Status SqliteReader::ReadHistory(core::Transaction& tx) {
  SqliteStatement& q = *history_;
  ScopedReset reset(q);
  q.Bind(1, tx.id);
  while (true) {
    TXC_ASSIGN_OR_RETURN(bool row, q.Step());
    if (!row) return Status::Ok();
    int branch = static_cast<int>(q.ColumnInt(0));
    const std::string where = "tx " + tx.id + " attempt of branch " + std::to_string(branch);
    auto it = std::find_if(tx.branches.begin(), tx.branches.end(),
                           [&](const core::Branch& b) { return b.index == branch; });
    if (it == tx.branches.end()) return Corrupt(where + ": no such branch");
    core::Attempt a;
    std::string op = q.ColumnText(1);
    TXC_ASSIGN_OR_RETURN(a.op, ParseColumn(wire::ParseOp(op), where + " op", op));
    a.number = static_cast<int>(q.ColumnInt(2));
    a.at = core::FromMillis(q.ColumnInt(3));
    std::string result = q.ColumnText(4);
    TXC_ASSIGN_OR_RETURN(a.result,
                         ParseColumn(core::ParseAttemptResult(result), where + " result", result));
    a.error = q.ColumnText(5);
    a.latency_us = q.ColumnInt(6);
    it->history.push_back(std::move(a));
  }
}

Status SqliteReader::ReadEvents(core::Transaction& tx) {
  SqliteStatement& q = *events_;
  ScopedReset reset(q);
  q.Bind(1, tx.id);
  while (true) {
    TXC_ASSIGN_OR_RETURN(bool row, q.Step());
    if (!row) return Status::Ok();
    const std::string where = "tx " + tx.id + " event";
    core::TxEvent e;
    e.at = core::FromMillis(q.ColumnInt(0));
    std::string kind = q.ColumnText(1);
    TXC_ASSIGN_OR_RETURN(e.kind, ParseColumn(core::ParseTxEventKind(kind), where + " kind", kind));
    if (!q.ColumnIsNull(2)) {
      std::string state = q.ColumnText(2);
      TXC_ASSIGN_OR_RETURN(e.state,
                           ParseColumn(core::ParseTxState(state), where + " state", state));
    }
    e.branch = q.ColumnIsNull(3) ? -1 : static_cast<int>(q.ColumnInt(3));
    e.detail = q.ColumnText(4);
    tx.events.push_back(std::move(e));
  }
}

Result<std::vector<core::Transaction>> SqliteReader::LoadUnfinished() {
  std::lock_guard lock(mu_);
  return InSnapshot([&] { return ReadTransactions(*unfinished_, nullptr); });
}

Result<std::optional<core::Transaction>> SqliteReader::FindOne(SqliteStatement& query,
                                                               const std::string& key,
                                                               bool with_history) {
  return InSnapshot([&]() -> Result<std::optional<core::Transaction>> {
    query.Bind(1, key);
    TXC_ASSIGN_OR_RETURN(std::vector<core::Transaction> txs, ReadTransactions(query, nullptr));
    if (txs.empty()) return std::optional<core::Transaction>();
    if (with_history) {
      TXC_RETURN_IF_ERROR(ReadHistory(txs.front()));
      TXC_RETURN_IF_ERROR(ReadEvents(txs.front()));
    }
    return std::optional<core::Transaction>(std::move(txs.front()));
  });
}

Result<std::optional<core::Transaction>> SqliteReader::Find(const std::string& id,
                                                            bool with_history) {
  std::lock_guard lock(mu_);
  return FindOne(*by_id_, id, with_history);
}

Result<std::optional<core::Transaction>> SqliteReader::FindByIdempotencyKey(
    const std::string& key) {
  if (key.empty()) return std::optional<core::Transaction>();  // empty keys are stored as NULL
  std::lock_guard lock(mu_);
  return FindOne(*by_key_, key, /*with_history=*/false);
}

Result<TxPage> SqliteReader::List(const TxFilter& filter) {
  int64_t before = std::numeric_limits<int64_t>::max();
  if (!filter.cursor.empty()) {
    TXC_ASSIGN_OR_RETURN(before, DecodeCursor(filter.cursor));
  }
  const int limit = std::clamp(filter.limit, 1, kMaxListLimit);
  int mask = 0;
  if (filter.state) mask |= kByState;
  if (filter.protocol) mask |= kByProtocol;
  if (filter.needs_attention) mask |= kByAttention;

  std::lock_guard lock(mu_);
  SqliteStatement& q = *list_[mask];
  q.Bind(1, before);
  if (filter.state) q.Bind(2, core::TxStateName(*filter.state));
  if (filter.protocol) q.Bind(3, core::ProtocolName(*filter.protocol));
  if (filter.needs_attention) q.Bind(5, int64_t{*filter.needs_attention ? 1 : 0});
  q.Bind(4, int64_t{limit} + 1);  // one extra row tells whether another page exists
  std::vector<int64_t> seqs;
  TXC_ASSIGN_OR_RETURN(std::vector<core::Transaction> txs,
                       InSnapshot([&] { return ReadTransactions(q, &seqs); }));
  TxPage page;
  if (txs.size() > static_cast<size_t>(limit)) {
    txs.resize(static_cast<size_t>(limit));
    page.next_cursor = EncodeCursor(seqs[static_cast<size_t>(limit) - 1]);
  }
  page.items = std::move(txs);
  return page;
}

}  // namespace txc::log
