// order-service: orders in its own SQLite database. An order exists as 'pending' once its
// branch is prepared, becomes 'confirmed' on commit and 'cancelled' on abort, so no order is
// ever confirmed without its stock reserved by the inventory branch of the same transaction.
// In a saga the action creates the order confirmed and the compensation cancels it.
#include <sqlite3.h>

#include <iostream>

#include "../common/service_main.h"

namespace {

using txc::BranchContext;
using txc::HandlerResult;

bool ValidOrder(const nlohmann::json& p, std::string* why) {
  const bool ok = p.is_object() && p.contains("order_id") && p["order_id"].is_string() &&
                  !p["order_id"].get<std::string>().empty() && p.contains("sku") &&
                  p["sku"].is_string() && p.contains("qty") && p["qty"].is_number_integer() &&
                  p["qty"].get<int64_t>() > 0;
  if (!ok)
    *why = "payload must be {\"order_id\": string, \"sku\": string, \"qty\": positive integer}";
  return ok;
}

int Run(sqlite3* db, const char* sql, const BranchContext& ctx, const char* status) {
  sqlite3_stmt* stmt = nullptr;
  if (sqlite3_prepare_v2(db, sql, -1, &stmt, nullptr) != SQLITE_OK) return -1;
  const nlohmann::json& p = ctx.payload;
  sqlite3_bind_text(stmt, 1, p["order_id"].get<std::string>().c_str(), -1, SQLITE_TRANSIENT);
  sqlite3_bind_text(stmt, 2, status, -1, SQLITE_STATIC);
  sqlite3_bind_text(stmt, 3, ctx.gid.c_str(), -1, SQLITE_TRANSIENT);
  sqlite3_bind_text(stmt, 4, p["sku"].get<std::string>().c_str(), -1, SQLITE_TRANSIENT);
  sqlite3_bind_int64(stmt, 5, p["qty"].get<int64_t>());
  const int rc = sqlite3_step(stmt);
  sqlite3_finalize(stmt);
  if (rc == SQLITE_CONSTRAINT) return 0;
  return rc == SQLITE_DONE ? sqlite3_changes(db) : -1;
}

HandlerResult Create(const BranchContext& ctx, const char* status) {
  std::string why;
  if (!ValidOrder(ctx.payload, &why)) return HandlerResult::Refuse(why);
  const int n = Run(ctx.db,
                    "INSERT INTO orders(order_id, status, gid, sku, qty, updated_at) "
                    "VALUES (?1, ?2, ?3, ?4, ?5, strftime('%s','now'))",
                    ctx, status);
  if (n < 0) return HandlerResult::Retry(sqlite3_errmsg(ctx.db));
  if (n == 0) {
    return HandlerResult::Refuse("order " + ctx.payload["order_id"].get<std::string>() +
                                 " already exists");
  }
  std::cout << "order: " << txc::wire::OpName(ctx.op) << " " << ctx.gid << " order "
            << ctx.payload["order_id"].get<std::string>() << " " << status << std::endl;
  return HandlerResult::Ok();
}

HandlerResult SetStatus(const BranchContext& ctx, const char* status) {
  std::string why;
  if (!ValidOrder(ctx.payload, &why)) return HandlerResult::Retry(why);
  const int n = Run(ctx.db,
                    "UPDATE orders SET status = ?2, updated_at = strftime('%s','now') "
                    "WHERE order_id = ?1 AND gid = ?3 AND sku = ?4 AND qty = ?5",
                    ctx, status);
  if (n != 1)
    return HandlerResult::Retry("order not found: " + std::string(sqlite3_errmsg(ctx.db)));
  std::cout << "order: " << txc::wire::OpName(ctx.op) << " " << ctx.gid << " order "
            << ctx.payload["order_id"].get<std::string>() << " " << status << std::endl;
  return HandlerResult::Ok();
}

}  // namespace

int main(int argc, char** argv) {
  auto flags = txc::examples::ParseFlags(argc, argv, "order", {});
  auto participant =
      txc::Participant::Create({.nats_url = flags.nats_url,
                                .nats_security = txc::NatsSecurity::FromEnvironment(),
                                .name = flags.name,
                                .db_path = flags.db_path});
  if (!participant.ok()) {
    std::cerr << "order: " << participant.status().ToString() << "\n";
    return 1;
  }
  txc::Participant& p = **participant;
  const bool ok = p.WithDb([](sqlite3* db) {
    return txc::examples::Exec(
        db,
        "CREATE TABLE IF NOT EXISTS orders (order_id TEXT PRIMARY KEY, gid TEXT NOT NULL, "
        "sku TEXT NOT NULL, qty INTEGER NOT NULL, status TEXT NOT NULL CHECK (status IN "
        "('pending', 'confirmed', 'cancelled')), updated_at INTEGER NOT NULL)");
  });
  if (!ok) return 1;

  p.OnPrepare([](const BranchContext& ctx) { return Create(ctx, "pending"); });
  p.OnCommit([](const BranchContext& ctx) { return SetStatus(ctx, "confirmed"); });
  p.OnAbort([](const BranchContext& ctx) { return SetStatus(ctx, "cancelled"); });
  // Saga: the order is confirmed by its action and cancelled by its compensation.
  p.OnAction([](const BranchContext& ctx) { return Create(ctx, "confirmed"); });
  p.OnCompensate([](const BranchContext& ctx) { return SetStatus(ctx, "cancelled"); });
  auto query = [&p](const std::string& sql, const std::string& arg) {
    return p.WithDb([&](sqlite3* db) { return txc::examples::QueryJson(db, sql, arg); });
  };
  return txc::examples::RunService(
      p, flags,
      {{"/orders",
        [query](const std::string&) {
          return query("SELECT order_id, status, sku, qty, gid FROM orders ORDER BY order_id", "");
        }},
       {R"(/orders/([A-Za-z0-9_-]+))", [query](const std::string& id) -> nlohmann::json {
          auto rows =
              query("SELECT order_id, status, sku, qty, gid FROM orders WHERE order_id = ?1", id);
          return rows.empty() ? nlohmann::json(nullptr) : rows[0];
        }}});
}
