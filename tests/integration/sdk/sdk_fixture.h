// Shared fixture for the participant SDK integration tests: a nats-server of its own, a temp
// directory for the service database, a FakeCoordinator, and helpers to read the database.
#pragma once

#include <gtest/gtest.h>
#include <sqlite3.h>
#include <stdlib.h>

#include <filesystem>
#include <memory>
#include <string>

#include "fake_coordinator.h"
#include "nats_server.h"
#include "txc/participant.h"
#include "txc/wire.h"
#include "wait_for.h"

namespace txc::testing {

inline wire::BranchRequest Req(const std::string& gid, wire::Op op,
                               nlohmann::json payload = nlohmann::json::object(),
                               const std::string& participant = "inventory", int branch = 0) {
  wire::BranchRequest r;
  r.gid = gid;
  r.branch = branch;
  r.participant = participant;
  r.protocol = "2pc";
  r.op = op;
  r.attempt = 1;
  r.payload = std::move(payload);
  return r;
}

class SdkTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(server_.Running());
    std::string tmpl = (std::filesystem::temp_directory_path() / "txc-sdk-XXXXXX").string();
    ASSERT_NE(mkdtemp(tmpl.data()), nullptr);
    dir_ = tmpl;
    db_path_ = dir_ + "/service.db";
    coordinator_ = std::make_unique<FakeCoordinator>(server_.url());
    ASSERT_TRUE(coordinator_->ok());
  }

  void TearDown() override {
    coordinator_.reset();
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }

  Participant::Options Options(const std::string& name = "inventory") {
    Participant::Options o;
    o.nats_url = server_.url();
    o.name = name;
    o.db_path = db_path_;
    o.reconnect_wait = std::chrono::milliseconds(50);
    return o;
  }

  // Creates a participant and the service's own table (reservations).
  std::unique_ptr<Participant> Make(Participant::Options options) {
    auto p = Participant::Create(std::move(options));
    EXPECT_TRUE(p.ok()) << p.status().ToString();
    if (!p.ok()) return nullptr;
    (*p)->WithDb([](sqlite3* db) {
      sqlite3_exec(db, "CREATE TABLE IF NOT EXISTS reservations (gid TEXT, note TEXT)", nullptr,
                   nullptr, nullptr);
    });
    return std::move(p).value();
  }
  std::unique_ptr<Participant> Make() { return Make(Options()); }

  // Sends a request and returns the reply's outcome ("ok", "refused", "error") or why no reply.
  std::string Send(const wire::BranchRequest& request) {
    auto reply = coordinator_->Send(request);
    if (!reply.ok()) return "no reply: " + reply.status().ToString();
    return wire::OutcomeName(reply->outcome);
  }

  static std::string State(Participant& p, const std::string& gid, int branch = 0) {
    auto state = p.BranchState(gid, branch);
    if (!state.ok()) return "error: " + state.status().ToString();
    return state->value_or("none");
  }

  static int Reservations(Participant& p, const std::string& gid) {
    return p.WithDb([&gid](sqlite3* db) {
      sqlite3_stmt* stmt = nullptr;
      sqlite3_prepare_v2(db, "SELECT COUNT(*) FROM reservations WHERE gid = ?1", -1, &stmt,
                         nullptr);
      sqlite3_bind_text(stmt, 1, gid.c_str(), -1, SQLITE_TRANSIENT);
      int n = -1;
      if (sqlite3_step(stmt) == SQLITE_ROW) n = sqlite3_column_int(stmt, 0);
      sqlite3_finalize(stmt);
      return n;
    });
  }

 public:
  // A handler's business write through ctx.db (inside the SDK's transaction).
  static void Reserve(const BranchContext& ctx, const std::string& note) {
    sqlite3_stmt* stmt = nullptr;
    sqlite3_prepare_v2(ctx.db, "INSERT INTO reservations (gid, note) VALUES (?1, ?2)", -1, &stmt,
                       nullptr);
    sqlite3_bind_text(stmt, 1, ctx.gid.c_str(), -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(stmt, 2, note.c_str(), -1, SQLITE_TRANSIENT);
    sqlite3_step(stmt);
    sqlite3_finalize(stmt);
  }

 protected:
  NatsServer server_;
  std::string dir_;
  std::string db_path_;
  std::unique_ptr<FakeCoordinator> coordinator_;
};

}  // namespace txc::testing
