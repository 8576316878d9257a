// inventory-service: stock per SKU, in its own SQLite database.
//   2PC/3PC: prepare holds the quantity (available -> reserved), commit turns the hold into a
//            sale, abort releases it. An order larger than the stock is refused.
//   saga:    the action takes the quantity at once; the compensation puts it back.
// Every write goes through ctx.db, inside the SDK's local transaction, so it commits together
// with the SDK's record of the branch or not at all.
#include <sqlite3.h>

#include <iostream>
#include <sstream>

#include "../common/service_main.h"

namespace {

using txc::BranchContext;
using txc::HandlerResult;

struct Item {
  std::string sku;
  int64_t qty = 0;
};

std::optional<Item> ParseItem(const nlohmann::json& payload, std::string* why) {
  if (!payload.is_object() || !payload.contains("sku") || !payload["sku"].is_string() ||
      !payload.contains("qty") || !payload["qty"].is_number_integer() ||
      payload["qty"].get<int64_t>() <= 0) {
    *why = "payload must be {\"sku\": string, \"qty\": positive integer}";
    return std::nullopt;
  }
  return Item{payload["sku"].get<std::string>(), payload["qty"].get<int64_t>()};
}

// Runs an UPDATE with (qty, sku) bound; returns the rows changed, or -1 on error.
int Update(sqlite3* db, const char* sql, const Item& item) {
  sqlite3_stmt* stmt = nullptr;
  if (sqlite3_prepare_v2(db, sql, -1, &stmt, nullptr) != SQLITE_OK) return -1;
  sqlite3_bind_int64(stmt, 1, item.qty);
  sqlite3_bind_text(stmt, 2, item.sku.c_str(), -1, SQLITE_TRANSIENT);
  const int rc = sqlite3_step(stmt);
  sqlite3_finalize(stmt);
  return rc == SQLITE_DONE ? sqlite3_changes(db) : -1;
}

int64_t Available(sqlite3* db, const std::string& sku) {
  auto rows = txc::examples::QueryJson(db, "SELECT available FROM stock WHERE sku = ?1", sku);
  return rows.empty() ? -1 : rows[0]["available"].get<int64_t>();
}

// Takes `item` from available stock (into `reserved` when `hold`), or refuses.
HandlerResult Take(const BranchContext& ctx, bool hold) {
  std::string why;
  auto item = ParseItem(ctx.payload, &why);
  if (!item) return HandlerResult::Refuse(why);
  const char* sql = hold ? "UPDATE stock SET available = available - ?1, reserved = reserved + ?1 "
                           "WHERE sku = ?2 AND available >= ?1"
                         : "UPDATE stock SET available = available - ?1 "
                           "WHERE sku = ?2 AND available >= ?1";
  const int changed = Update(ctx.db, sql, *item);
  if (changed < 0) return HandlerResult::Retry(sqlite3_errmsg(ctx.db));
  if (changed == 0) {
    const int64_t available = Available(ctx.db, item->sku);
    if (available < 0) return HandlerResult::Refuse("unknown sku " + item->sku);
    return HandlerResult::Refuse("out of stock: " + item->sku + " has " +
                                 std::to_string(available) + " available, " +
                                 std::to_string(item->qty) + " requested");
  }
  std::cout << "inventory: " << txc::wire::OpName(ctx.op) << " " << ctx.gid << " " << item->qty
            << " x " << item->sku << (hold ? " reserved" : " taken") << std::endl;
  return HandlerResult::Ok();
}

HandlerResult Apply(const BranchContext& ctx, const char* sql, const char* what) {
  std::string why;
  auto item = ParseItem(ctx.payload, &why);
  if (!item) return HandlerResult::Retry(why);  // cannot happen: prepare accepted this payload
  if (Update(ctx.db, sql, *item) != 1) return HandlerResult::Retry(sqlite3_errmsg(ctx.db));
  std::cout << "inventory: " << txc::wire::OpName(ctx.op) << " " << ctx.gid << " " << item->qty
            << " x " << item->sku << " " << what << std::endl;
  return HandlerResult::Ok();
}

}  // namespace

int main(int argc, char** argv) {
  auto flags = txc::examples::ParseFlags(argc, argv, "inventory", {"stock"});
  auto participant =
      txc::Participant::Create({.nats_url = flags.nats_url,
                                .nats_security = txc::NatsSecurity::FromEnvironment(),
                                .name = flags.name,
                                .db_path = flags.db_path});
  if (!participant.ok()) {
    std::cerr << "inventory: " << participant.status().ToString() << "\n";
    return 1;
  }
  txc::Participant& p = **participant;
  bool ok = p.WithDb([&](sqlite3* db) {
    if (!txc::examples::Exec(db,
                             "CREATE TABLE IF NOT EXISTS stock (sku TEXT PRIMARY KEY, "
                             "available INTEGER NOT NULL CHECK (available >= 0), "
                             "reserved INTEGER NOT NULL CHECK (reserved >= 0))")) {
      return false;
    }
    // --stock "widget=5,gadget=2" seeds SKUs that do not exist yet.
    std::stringstream seeds(flags.extra["stock"]);
    std::string seed;
    while (std::getline(seeds, seed, ',')) {
      const auto eq = seed.find('=');
      if (eq == std::string::npos) continue;
      const std::string sql = "INSERT OR IGNORE INTO stock VALUES ('" + seed.substr(0, eq) + "', " +
                              std::to_string(std::stoll(seed.substr(eq + 1))) + ", 0)";
      if (!txc::examples::Exec(db, sql)) return false;
    }
    return true;
  });
  if (!ok) return 1;

  p.OnPrepare([](const BranchContext& ctx) { return Take(ctx, /*hold=*/true); });
  p.OnCommit([](const BranchContext& ctx) {
    return Apply(ctx, "UPDATE stock SET reserved = reserved - ?1 WHERE sku = ?2", "sold");
  });
  p.OnAbort([](const BranchContext& ctx) {
    return Apply(ctx,
                 "UPDATE stock SET available = available + ?1, reserved = reserved - ?1 "
                 "WHERE sku = ?2",
                 "released");
  });
  // Saga: take the stock at once; the compensation puts it back.
  p.OnAction([](const BranchContext& ctx) { return Take(ctx, /*hold=*/false); });
  p.OnCompensate([](const BranchContext& ctx) {
    return Apply(ctx, "UPDATE stock SET available = available + ?1 WHERE sku = ?2", "returned");
  });
  return txc::examples::RunService(p, flags, {{"/stock", [&p](const std::string&) {
                                                 return p.WithDb([](sqlite3* db) {
                                                   return txc::examples::QueryJson(
                                                       db,
                                                       "SELECT sku, available, reserved FROM stock "
                                                       "ORDER BY sku");
                                                 });
                                               }}});
}
