// E2eTest: real processes on free ports — a nats-server, the txc-coordinator binary and
// txc-test-participant processes, each participant with its own SQLite database — driven through
// the REST API, and inspected through the API and the participants' databases. Logs of every
// process stay in the test's temp directory and are printed when a test fails.
#pragma once

#include <gtest/gtest.h>
#include <httplib.h>
#include <sqlite3.h>
#include <stdlib.h>

#include <filesystem>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "nats_server.h"
#include "process.h"
#include "wait_for.h"

namespace txc::testing {

using nlohmann::json;

class E2eTest : public ::testing::Test {
 protected:
  // `nats_args`: extra nats-server flags (authentication, TLS).
  explicit E2eTest(std::vector<std::string> nats_args = {}) : nats_(std::move(nats_args)) {}

  void SetUp() override {
    ASSERT_TRUE(nats_.Running());
    std::string tmpl = (std::filesystem::temp_directory_path() / "txc-e2e-XXXXXX").string();
    ASSERT_NE(mkdtemp(tmpl.data()), nullptr);
    dir_ = tmpl;
    api_port_ = FreePort();
  }

  void TearDown() override {
    coordinator_.reset();
    participants_.clear();
    if (HasFailure()) {
      for (const auto& entry : std::filesystem::directory_iterator(dir_)) {
        if (entry.path().extension() != ".log") continue;
        std::cerr << "---- " << entry.path().filename().string() << "\n"
                  << ReadFile(entry.path().string()) << "\n";
      }
    }
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }

  std::string Path(const std::string& file) const { return dir_ + "/" + file; }

  // Starts (or restarts, on the same log and port) the coordinator; `env` e.g. TXC_CRASH_AT=...
  // `wrapper`: a command the coordinator runs under (e.g. fiu-run), its arguments first.
  // `flags` come after the defaults, so they override them.
  void StartCoordinator(const std::vector<std::string>& env = {},
                        const std::vector<std::string>& wrapper = {},
                        const std::vector<std::string>& flags = {}) {
    coordinator_.reset();  // kill -9 a running one: the port and the log must be free
    std::vector<std::string> argv = wrapper;
    for (std::string arg :
         {std::string(TXC_COORDINATOR_BIN), std::string("--nats-url"), nats_.url(),
          std::string("--http-addr"), "127.0.0.1:" + std::to_string(api_port_),
          std::string("--db-path"), Path("txc.db"), std::string("--reply-timeout-ms"),
          std::string("1000"), std::string("--backoff-base-ms"), std::string("50"),
          std::string("--backoff-cap-ms"), std::string("500")}) {
      argv.push_back(std::move(arg));
    }
    argv.insert(argv.end(), flags.begin(), flags.end());
    coordinator_ = Process::Start(argv, env, Path("coordinator.log"));
    ASSERT_NE(coordinator_, nullptr);
    ASSERT_TRUE(WaitFor([&] {
      auto res = Client().Get("/readyz");
      return res && res->status == 200;
    })) << "coordinator not ready";
  }

  // Waits for the coordinator to die by itself (an armed crash point).
  void ExpectCoordinatorCrash() {
    ASSERT_TRUE(coordinator_->Wait(std::chrono::seconds(20)).has_value())
        << "the coordinator did not reach its crash point";
  }

  void StartParticipant(const std::string& name, const std::vector<std::string>& extra = {},
                        const std::vector<std::string>& env = {}) {
    std::vector<std::string> argv = {TXC_TEST_PARTICIPANT_BIN,
                                     "--name",
                                     name,
                                     "--db",
                                     Path(name + ".db"),
                                     "--nats-url",
                                     nats_.url(),
                                     "--in-doubt-ms",
                                     "300",
                                     "--resolve-ms",
                                     "100"};
    argv.insert(argv.end(), extra.begin(), extra.end());
    StartNamed(name, argv, env);
  }

  // Starts a participant process (`name` keys it and its log) and waits for its "ready" line.
  void StartNamed(const std::string& name, const std::vector<std::string>& argv,
                  const std::vector<std::string>& env = {}) {
    participants_.erase(name);                                   // kill -9 a running one first
    const size_t logged = ReadFile(Path(name + ".log")).size();  // a restart appends
    auto p = Process::Start(argv, env, Path(name + ".log"));
    ASSERT_NE(p, nullptr);
    Process* raw = p.get();
    participants_[name] = std::move(p);
    ASSERT_TRUE(WaitFor(
        [&] { return raw->Log().find("ready", logged) != std::string::npos || !raw->Running(); }));
    ASSERT_TRUE(raw->Running()) << raw->Log();
  }

  // Waits for a participant to die by itself (an armed crash point).
  void ExpectParticipantCrash(const std::string& name) {
    ASSERT_TRUE(participants_.at(name)->Wait(std::chrono::seconds(20)).has_value())
        << name << " did not reach its crash point";
  }

  void KillParticipant(const std::string& name) { participants_.erase(name); }

  httplib::Client Client() {
    httplib::Client c("127.0.0.1", api_port_);
    c.set_connection_timeout(2);
    c.set_read_timeout(30);
    return c;
  }

  // POST /v1/transactions; the response body (with "_status" added).
  json Post(const json& body, bool wait = true, const std::string& idempotency_key = "") {
    httplib::Headers headers;
    if (!idempotency_key.empty()) headers.emplace("Idempotency-Key", idempotency_key);
    auto res = Client().Post(wait ? "/v1/transactions?wait=true" : "/v1/transactions", headers,
                             body.dump(), "application/json");
    if (!res) return {{"_status", 0}};
    json out = json::parse(res->body, nullptr, false);
    if (!out.is_object()) out = json::object();
    out["_status"] = res->status;
    return out;
  }

  json Get(const std::string& id) {
    auto res = Client().Get("/v1/transactions/" + id);
    if (!res || res->status != 200) return json::object();
    return json::parse(res->body, nullptr, false);
  }

  // Polls GET until the transaction is terminal; returns the last body seen (check "terminal").
  json WaitForTerminal(const std::string& id,
                       std::chrono::milliseconds timeout = std::chrono::seconds(30)) {
    json last;
    WaitFor(
        [&] {
          last = Get(id);
          return last.value("terminal", false);
        },
        timeout);
    return last;
  }

  // Polls GET until the transaction is in `state`; returns the last body seen.
  json WaitForState(const std::string& id, const std::string& state,
                    std::chrono::milliseconds timeout = std::chrono::seconds(20)) {
    json last;
    WaitFor(
        [&] {
          last = Get(id);
          return last.value("state", "") == state;
        },
        timeout);
    return last;
  }

  // One SQL value from a participant's database (as text), "" if no row.
  std::string Query(const std::string& participant, const std::string& sql) {
    sqlite3* db = nullptr;
    std::string out;
    if (sqlite3_open_v2(Path(participant + ".db").c_str(), &db, SQLITE_OPEN_READWRITE, nullptr) ==
        SQLITE_OK) {
      sqlite3_busy_timeout(db, 5000);
      sqlite3_stmt* stmt = nullptr;
      if (sqlite3_prepare_v2(db, sql.c_str(), -1, &stmt, nullptr) == SQLITE_OK &&
          sqlite3_step(stmt) == SQLITE_ROW && sqlite3_column_text(stmt, 0) != nullptr) {
        out = reinterpret_cast<const char*>(sqlite3_column_text(stmt, 0));
      }
      sqlite3_finalize(stmt);
    }
    sqlite3_close(db);
    return out;
  }

  // The SDK's record of a branch at a participant ("none" without one).
  std::string BranchState(const std::string& participant, const std::string& gid, int branch) {
    const std::string s = Query(participant, "SELECT state FROM txc_branches WHERE gid = '" + gid +
                                                 "' AND branch = " + std::to_string(branch));
    return s.empty() ? "none" : s;
  }

  // How many times a handler ran for (gid, op) at a participant.
  int Effects(const std::string& participant, const std::string& gid, const std::string& op) {
    return std::stoi("0" + Query(participant, "SELECT COUNT(*) FROM effects WHERE gid = '" + gid +
                                                  "' AND op = '" + op + "'"));
  }

  // The instance id a txc-test-participant process printed ("instance <id>"); of its latest
  // start if it was restarted. "" before it printed one.
  std::string InstanceId(const std::string& key) {
    const std::string log = ReadFile(Path(key + ".log"));
    const size_t at = log.rfind("instance ");
    if (at == std::string::npos) return "";
    return log.substr(at + 9, log.find('\n', at) - at - 9);
  }

  // GET /v1/participants; an empty object if it did not answer 200.
  json Participants() {
    auto res = Client().Get("/v1/participants");
    if (!res || res->status != 200) return json::object();
    json body = json::parse(res->body, nullptr, false);
    return body.is_object() ? body : json::object();
  }

  // The entry of `name` in GET /v1/participants, or null.
  json Participant(const std::string& name) {
    for (const json& p : Participants().value("participants", json::array())) {
      if (p.value("name", "") == name) return p;
    }
    return nullptr;
  }

  // The ids of `name`'s live instances in GET /v1/participants.
  std::set<std::string> LiveInstances(const std::string& name) {
    std::set<std::string> ids;
    const json p = Participant(name);
    if (p.is_null()) return ids;
    for (const json& i : p.value("instances", json::array())) {
      if (i.value("live", false)) ids.insert(i.value("id", ""));
    }
    return ids;
  }

  static json Branch(const std::string& participant, json payload = json::object()) {
    return {{"participant", participant}, {"payload", std::move(payload)}};
  }

  NatsServer nats_;
  std::string dir_;
  int api_port_ = 0;
  std::unique_ptr<Process> coordinator_;
  std::map<std::string, std::unique_ptr<Process>> participants_;
};

}  // namespace txc::testing
