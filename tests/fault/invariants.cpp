#include "invariants.h"

#include <httplib.h>
#include <sqlite3.h>

#include <nlohmann/json.hpp>
#include <set>

#include "wait_for.h"

namespace txc::fault {
namespace {

using nlohmann::json;

const char* const kUnfinished[] = {"preparing", "precommitting", "committing",
                                   "aborting",  "running",       "compensating"};

// Rows of a query on a participant's database, each row's columns as text.
std::vector<std::vector<std::string>> Rows(const std::string& path, const std::string& sql) {
  std::vector<std::vector<std::string>> rows;
  sqlite3* db = nullptr;
  if (sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READWRITE, nullptr) == SQLITE_OK) {
    sqlite3_busy_timeout(db, 10000);
    sqlite3_stmt* stmt = nullptr;
    if (sqlite3_prepare_v2(db, sql.c_str(), -1, &stmt, nullptr) == SQLITE_OK) {
      while (sqlite3_step(stmt) == SQLITE_ROW) {
        std::vector<std::string> row;
        for (int c = 0; c < sqlite3_column_count(stmt); ++c) {
          const auto* text = sqlite3_column_text(stmt, c);
          row.emplace_back(text ? reinterpret_cast<const char*>(text) : "");
        }
        rows.push_back(std::move(row));
      }
    }
    sqlite3_finalize(stmt);
  }
  sqlite3_close(db);
  return rows;
}

json GetJson(int port, const std::string& path) {
  httplib::Client c("127.0.0.1", port);
  c.set_connection_timeout(2);
  c.set_read_timeout(30);
  auto res = c.Get(path);
  if (!res || res->status != 200) return nullptr;
  return json::parse(res->body, nullptr, false);
}

// Every transaction in the coordinator's log, following the list's cursor.
std::vector<json> AllTransactions(int port, bool* complete) {
  std::vector<json> all;
  std::string cursor;
  *complete = false;
  while (true) {
    const json page =
        GetJson(port, "/v1/transactions?limit=1000" + (cursor.empty() ? "" : "&cursor=" + cursor));
    if (!page.is_object() || !page.contains("items")) return all;
    for (const json& tx : page["items"]) all.push_back(tx);
    if (page["next_cursor"].is_null()) break;
    cursor = page["next_cursor"].get<std::string>();
  }
  *complete = true;
  return all;
}

}  // namespace

bool WaitQuiet(const Topology& topology, std::chrono::seconds timeout, std::string* why) {
  return testing::WaitFor(
      [&] {
        for (const char* state : kUnfinished) {
          const json page =
              GetJson(topology.api_port(), std::string("/v1/transactions?limit=1&state=") + state);
          if (!page.is_object()) {
            *why = "the coordinator does not answer";
            return false;
          }
          if (!page["items"].empty()) {
            *why = "transaction " + page["items"][0]["id"].get<std::string>() + " is " + state;
            return false;
          }
        }
        for (int i = 0; i < topology.options().participants; ++i) {
          const auto rows = Rows(topology.DbPath(i),
                                 "SELECT gid, branch, state FROM txc_branches "
                                 "WHERE state IN ('prepared', 'precommitted') LIMIT 1");
          if (!rows.empty()) {
            *why = topology.ParticipantName(i) + " holds " + rows[0][0] + "/" + rows[0][1] + " " +
                   rows[0][2];
            return false;
          }
        }
        return true;
      },
      timeout);
}

CheckResult CheckInvariants(const Topology& topology, const std::vector<Accepted>& accepted) {
  CheckResult result;
  auto violation = [&](std::string v) {
    if (result.violations.size() < 50) result.violations.push_back(std::move(v));
  };
  bool complete = false;
  const std::vector<json> txs = AllTransactions(topology.api_port(), &complete);
  if (!complete) violation("could not list every transaction from the coordinator");
  result.transactions = static_cast<int>(txs.size());

  // (gid, branch) -> the participant's record state.
  std::map<std::pair<std::string, int>, std::string> records;
  const int n = topology.options().participants;
  int64_t total = 0;
  for (int i = 0; i < n; ++i) {
    const std::string db = topology.DbPath(i);
    const std::string name = topology.ParticipantName(i);
    for (const auto& r : Rows(db, "SELECT gid, branch, state FROM txc_branches")) {
      records[{r[0], std::stoi(r[1])}] = r[2];
    }
    for (const auto& r : Rows(db,
                              "SELECT gid, branch, op, COUNT(*) FROM effects "
                              "GROUP BY gid, branch, op HAVING COUNT(*) > 1")) {
      violation("E: " + name + " ran " + r[2] + " of " + r[0] + "/" + r[1] + " " + r[3] + " times");
    }
    for (const auto& r : Rows(db, "SELECT id, balance, held FROM accounts")) {
      total += std::stoll(r[1]) + std::stoll(r[2]);
      if (std::stoll(r[2]) != 0) violation("O: " + name + "/" + r[0] + " still holds " + r[2]);
      if (std::stoll(r[1]) < 0) violation("C: " + name + "/" + r[0] + " is negative: " + r[1]);
    }
  }
  const int64_t expected =
      int64_t{n} * topology.options().accounts * topology.options().initial_balance;
  if (total != expected) {
    violation("C: the balances add up to " + std::to_string(total) + ", not " +
              std::to_string(expected));
  }

  std::set<std::string> known;
  for (const json& tx : txs) {
    const std::string id = tx["id"];
    const std::string protocol = tx["protocol"];
    const std::string state = tx["state"];
    known.insert(id);
    result.outcomes[protocol + " " + state]++;
    if (!tx["terminal"].get<bool>()) violation("T: " + id + " is still " + state);
    for (const json& b : tx["branches"]) {
      const int index = b["index"];
      auto it = records.find({id, index});
      const std::string at = it == records.end() ? "none" : it->second;
      const std::string where =
          id + "/" + std::to_string(index) + " (" + b["participant"].get<std::string>() + ")";
      bool ok = true;
      if (state == "committed") ok = at == "committed";
      if (state == "aborted") ok = at == "aborted" || at == "none";
      if (state == "completed") ok = at == "done";
      if (state == "compensated") ok = at == "compensated" || at == "failed" || at == "none";
      if (!ok)
        violation("A: " + protocol + " " + id + " is " + state + " but " + where + " is " + at);
    }
  }
  for (const Accepted& a : accepted) {
    if (!known.count(a.id)) violation("T: acknowledged transaction " + a.id + " is not in the log");
  }
  // A participant's settled effect must belong to a transaction the coordinator knows.
  for (const auto& [key, state] : records) {
    if (!known.count(key.first) && (state == "committed" || state == "done")) {
      violation("A: " + key.first + "/" + std::to_string(key.second) + " is " + state +
                " at its participant but unknown to the coordinator");
    }
  }
  return result;
}

}  // namespace txc::fault
