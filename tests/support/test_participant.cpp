// txc-test-participant: a participant process for end-to-end and fault tests, built on the SDK.
// Every handler records its call in `effects`, with the id of the instance (process) that ran it
// (so tests can check each effect happened once, and which instance served it) and,
// when the payload names an account, moves money in `accounts` (a bank-transfer workload whose
// total must be conserved). The payload steers it:
//   {"refuse": true}             the vote (prepare/can_commit) or saga action says no
//   {"sleep_ms": N}              every handler of this branch takes N ms (a slow participant)
//   {"fail_until_attempt": N}    commit, do_commit, abort and compensate fail (retryably) on
//                                every attempt before the coordinator's attempt N
//   {"account": "a1", "amount": -5}   debit (negative) or credit (positive) account a1
// 2PC/3PC hold a debit at the vote (balance -> held) and settle at commit/abort; a credit is
// applied at commit. Sagas apply at the action and undo at the compensation.
//
// Usage: txc-test-participant --name N --db PATH --nats-url URL [--accounts a1=100,a2=100]
//          [--in-doubt-ms MS] [--resolve-ms MS]
//          [--drop-reply P] [--duplicate-reply P] [--slow P:MS] [--null-handlers 1]
// The last three make a flaky participant: replies lost or sent twice with probability P, and
// handlers that take MS milliseconds with probability P.
// Prints "instance <id>" and then "ready" once subscribed; stops cleanly on SIGTERM/SIGINT.
#include <pthread.h>
#include <signal.h>
#include <sqlite3.h>

#include <chrono>
#include <cstdlib>
#include <iostream>
#include <map>
#include <random>
#include <sstream>
#include <string>
#include <thread>

#include "txc/participant.h"

namespace {

using txc::BranchContext;
using txc::HandlerResult;
using txc::wire::Op;

bool Exec(sqlite3* db, const std::string& sql) {
  char* err = nullptr;
  if (sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &err) != SQLITE_OK) {
    std::cerr << "sqlite: " << (err ? err : "?") << " in " << sql << std::endl;
    sqlite3_free(err);
    return false;
  }
  return true;
}

// Runs `sql` with (amount, account) bound; the number of rows changed, or -1.
int Move(sqlite3* db, const char* sql, int64_t amount, const std::string& account) {
  sqlite3_stmt* stmt = nullptr;
  if (sqlite3_prepare_v2(db, sql, -1, &stmt, nullptr) != SQLITE_OK) return -1;
  sqlite3_bind_int64(stmt, 1, amount);
  sqlite3_bind_text(stmt, 2, account.c_str(), -1, SQLITE_TRANSIENT);
  const int rc = sqlite3_step(stmt);
  sqlite3_finalize(stmt);
  return rc == SQLITE_DONE ? sqlite3_changes(db) : -1;
}

// The money part of a step; `op` decides what it means for this branch's amount.
HandlerResult Bank(const BranchContext& ctx) {
  if (!ctx.payload.is_object() || !ctx.payload.contains("account")) return HandlerResult::Ok();
  const std::string account = ctx.payload.value("account", "");
  const int64_t amount = ctx.payload.value("amount", int64_t{0});
  const int64_t debit = amount < 0 ? -amount : 0;
  const int64_t credit = amount > 0 ? amount : 0;
  int changed = 1;
  switch (ctx.op) {
    case Op::kPrepare:
    case Op::kCanCommit:
      if (debit > 0) {
        changed = Move(ctx.db,
                       "UPDATE accounts SET balance = balance - ?1, held = held + ?1 "
                       "WHERE id = ?2 AND balance >= ?1",
                       debit, account);
      }
      break;
    case Op::kCommit:
    case Op::kDoCommit:
      if (debit > 0)
        changed =
            Move(ctx.db, "UPDATE accounts SET held = held - ?1 WHERE id = ?2", debit, account);
      if (credit > 0) {
        changed = Move(ctx.db, "UPDATE accounts SET balance = balance + ?1 WHERE id = ?2", credit,
                       account);
      }
      break;
    case Op::kAbort:
      if (debit > 0) {
        changed = Move(ctx.db,
                       "UPDATE accounts SET balance = balance + ?1, held = held - ?1 WHERE id = ?2",
                       debit, account);
      }
      break;
    case Op::kAction:
      if (debit > 0) {
        changed = Move(ctx.db,
                       "UPDATE accounts SET balance = balance - ?1 WHERE id = ?2 AND balance >= ?1",
                       debit, account);
      }
      if (credit > 0) {
        changed = Move(ctx.db, "UPDATE accounts SET balance = balance + ?1 WHERE id = ?2", credit,
                       account);
      }
      break;
    case Op::kCompensate:
      changed = Move(ctx.db, "UPDATE accounts SET balance = balance + ?1 WHERE id = ?2",
                     debit - credit, account);
      break;
    case Op::kPreCommit:
      break;
  }
  if (changed < 0) return HandlerResult::Retry(sqlite3_errmsg(ctx.db));
  if (changed == 0) {
    const bool vote = ctx.op == Op::kPrepare || ctx.op == Op::kCanCommit || ctx.op == Op::kAction;
    if (vote) return HandlerResult::Refuse("insufficient funds in " + account);
    return HandlerResult::Retry("unknown account " + account);
  }
  return HandlerResult::Ok();
}

// Set before Start(), read by handlers after.
std::string instance_id;

// --slow P:MS: handlers run one at a time, so these need no lock.
double slow_probability = 0;
int slow_ms = 0;
std::mt19937_64 slow_rng{std::random_device{}()};

HandlerResult Handle(const BranchContext& ctx) {
  int64_t ms = ctx.payload.is_object() ? ctx.payload.value("sleep_ms", int64_t{0}) : 0;
  if (slow_probability > 0 &&
      std::uniform_real_distribution<double>(0, 1)(slow_rng) < slow_probability) {
    ms += slow_ms;
  }
  if (ms > 0) std::this_thread::sleep_for(std::chrono::milliseconds(ms));  // slow, on purpose
  const bool vote = ctx.op == Op::kPrepare || ctx.op == Op::kCanCommit || ctx.op == Op::kAction;
  if (vote && ctx.payload.is_object() && ctx.payload.value("refuse", false)) {
    return HandlerResult::Refuse("refused by request");
  }
  const bool applies_outcome = !vote && ctx.op != Op::kPreCommit;
  if (applies_outcome && ctx.payload.is_object() &&
      ctx.attempt < ctx.payload.value("fail_until_attempt", 0)) {
    return HandlerResult::Retry("failing on purpose until attempt " +
                                std::to_string(ctx.payload.value("fail_until_attempt", 0)));
  }
  HandlerResult money = Bank(ctx);
  if (money.outcome != txc::wire::Outcome::kOk) return money;
  sqlite3_stmt* stmt = nullptr;
  sqlite3_prepare_v2(ctx.db,
                     "INSERT INTO effects (gid, branch, op, instance) VALUES (?1, ?2, ?3, ?4)", -1,
                     &stmt, nullptr);
  sqlite3_bind_text(stmt, 1, ctx.gid.c_str(), -1, SQLITE_TRANSIENT);
  sqlite3_bind_int(stmt, 2, ctx.branch);
  sqlite3_bind_text(stmt, 3, txc::wire::OpName(ctx.op), -1, SQLITE_STATIC);
  sqlite3_bind_text(stmt, 4, instance_id.c_str(), -1, SQLITE_TRANSIENT);
  const int rc = sqlite3_step(stmt);
  sqlite3_finalize(stmt);
  if (rc != SQLITE_DONE) return HandlerResult::Retry(sqlite3_errmsg(ctx.db));
  return HandlerResult::Ok();
}

}  // namespace

int main(int argc, char** argv) {
  std::map<std::string, std::string> flags = {
      {"nats-url", "nats://127.0.0.1:4222"}, {"in-doubt-ms", "2000"}, {"resolve-ms", "500"}};
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string flag = argv[i];
    if (flag.rfind("--", 0) != 0) {
      std::cerr << "bad argument " << flag << std::endl;
      return 2;
    }
    flags[flag.substr(2)] = argv[i + 1];
  }
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  txc::Participant::Options options;
  options.nats_url = flags["nats-url"];
  options.nats_security = txc::NatsSecurity::FromEnvironment();
  options.name = flags["name"];
  options.db_path = flags["db"];
  options.in_doubt_after = std::chrono::milliseconds(std::atoi(flags["in-doubt-ms"].c_str()));
  options.resolve_interval = std::chrono::milliseconds(std::atoi(flags["resolve-ms"].c_str()));
  options.status_timeout = std::chrono::milliseconds(500);
  options.faults.drop_reply = std::atof(flags["drop-reply"].c_str());
  options.faults.duplicate_reply = std::atof(flags["duplicate-reply"].c_str());
  if (const std::string& slow = flags["slow"]; !slow.empty()) {
    slow_probability = std::atof(slow.c_str());
    slow_ms = std::atoi(slow.c_str() + slow.find(':') + 1);
  }
  auto created = txc::Participant::Create(options);
  if (!created.ok()) {
    std::cerr << created.status().ToString() << std::endl;
    return 1;
  }
  txc::Participant& p = **created;
  const bool schema = p.WithDb([&](sqlite3* db) {
    if (!Exec(db,
              "CREATE TABLE IF NOT EXISTS effects (gid TEXT, branch INTEGER, op TEXT, "
              "instance TEXT)") ||
        !Exec(db,
              "CREATE TABLE IF NOT EXISTS accounts (id TEXT PRIMARY KEY, "
              "balance INTEGER NOT NULL, held INTEGER NOT NULL DEFAULT 0)")) {
      return false;
    }
    std::stringstream seeds(flags["accounts"]);
    std::string seed;
    while (std::getline(seeds, seed, ',')) {
      const auto eq = seed.find('=');
      if (eq == std::string::npos) continue;
      if (!Exec(db, "INSERT OR IGNORE INTO accounts (id, balance) VALUES ('" + seed.substr(0, eq) +
                        "', " + std::to_string(std::atoll(seed.c_str() + eq + 1)) + ")")) {
        return false;
      }
    }
    return true;
  });
  if (!schema) return 1;
  // --null-handlers 1: handlers that do no business work (benchmarks measure the SDK itself).
  const bool null_handlers = flags["null-handlers"] == "1";
  for (auto on : {&txc::Participant::OnPrepare, &txc::Participant::OnCommit,
                  &txc::Participant::OnAbort, &txc::Participant::OnPreCommit,
                  &txc::Participant::OnAction, &txc::Participant::OnCompensate}) {
    if (null_handlers) {
      (p.*on)([](const BranchContext&) { return HandlerResult::Ok(); });
    } else {
      (p.*on)(Handle);
    }
  }
  instance_id = p.instance_id();
  if (auto s = p.Start(); !s.ok()) {
    std::cerr << s.ToString() << std::endl;
    return 1;
  }
  std::cout << "instance " << instance_id << std::endl;
  std::cout << "ready" << std::endl;
  int sig = 0;
  sigwait(&signals, &sig);
  p.Stop();
  std::cout << "stopped" << std::endl;
  return 0;
}
