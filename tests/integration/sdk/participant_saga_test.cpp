// The SDK's saga steps over a real nats-server: an action runs once and is compensated once, a
// compensation that overtakes its action is recorded without running anything (null
// compensation), and the action that arrives after it is refused without effect (hanging).
#include <atomic>

#include "sdk_fixture.h"

namespace txc::testing {
namespace {

using wire::Op;

wire::BranchRequest Step(const std::string& gid, Op op, nlohmann::json payload = {}) {
  wire::BranchRequest r = Req(gid, op, payload.is_null() ? nlohmann::json::object() : payload);
  r.protocol = "saga";
  return r;
}

class SagaStepTest : public SdkTest {
 protected:
  // A service whose action reserves (or refuses on {"refuse": true}) and whose compensation
  // writes an undo row; both counted.
  std::unique_ptr<Participant> MakeSagaService() {
    auto p = Make();
    p->OnAction([this](const BranchContext& ctx) {
      actions_++;
      Reserve(ctx, "action");
      if (ctx.payload.value("refuse", false)) return HandlerResult::Refuse("insufficient funds");
      if (ctx.payload.value("retry", false)) return HandlerResult::Retry("ledger locked");
      return HandlerResult::Ok();
    });
    p->OnCompensate([this](const BranchContext& ctx) {
      compensations_++;
      Reserve(ctx, "undo");
      return HandlerResult::Ok();
    });
    return p;
  }
  std::atomic<int> actions_{0};
  std::atomic<int> compensations_{0};
};

TEST_F(SagaStepTest, ActionAndCompensationEachRunOnceAndALateActionIsRefused) {
  auto p = MakeSagaService();
  ASSERT_TRUE(p->Start().ok());
  EXPECT_EQ(Send(Step("g1", Op::kAction)), "ok");
  EXPECT_EQ(Send(Step("g1", Op::kAction)), "ok");  // duplicate
  EXPECT_EQ(State(*p, "g1"), "done");
  EXPECT_EQ(Send(Step("g1", Op::kCompensate)), "ok");
  EXPECT_EQ(Send(Step("g1", Op::kCompensate)), "ok");  // duplicate
  EXPECT_EQ(State(*p, "g1"), "compensated");
  EXPECT_EQ(Send(Step("g1", Op::kAction)), "refused");  // a re-sent action after the undo
  EXPECT_EQ(actions_.load(), 1);
  EXPECT_EQ(compensations_.load(), 1);
  EXPECT_EQ(Reservations(*p, "g1"), 2);  // the action's row and the undo row
}

TEST_F(SagaStepTest, NullCompensationThenHangingActionHasNoEffect) {
  auto p = MakeSagaService();
  ASSERT_TRUE(p->Start().ok());
  EXPECT_EQ(Send(Step("g1", Op::kCompensate)), "ok");
  EXPECT_EQ(State(*p, "g1"), "compensated");
  auto late = coordinator_->Send(Step("g1", Op::kAction));
  ASSERT_TRUE(late.ok());
  EXPECT_EQ(late->outcome, wire::Outcome::kRefused);
  EXPECT_NE(late->message.find("after its compensation"), std::string::npos) << late->message;
  EXPECT_EQ(actions_.load(), 0);
  EXPECT_EQ(compensations_.load(), 0);
  EXPECT_EQ(Reservations(*p, "g1"), 0);
}

TEST_F(SagaStepTest, RefusedActionLeavesNothingAndItsCompensationRunsNoHandler) {
  auto p = MakeSagaService();
  ASSERT_TRUE(p->Start().ok());
  EXPECT_EQ(Send(Step("g1", Op::kAction, {{"refuse", true}})), "refused");
  EXPECT_EQ(State(*p, "g1"), "failed");
  EXPECT_EQ(Reservations(*p, "g1"), 0);  // the handler's write was rolled back
  EXPECT_EQ(Send(Step("g1", Op::kAction, {{"refuse", true}})), "refused");
  EXPECT_EQ(Send(Step("g1", Op::kCompensate)), "ok");
  EXPECT_EQ(State(*p, "g1"), "compensated");
  EXPECT_EQ(actions_.load(), 1);
  EXPECT_EQ(compensations_.load(), 0);
}

TEST_F(SagaStepTest, TransientActionFailureRecordsNothingSoTheRetryRuns) {
  auto p = MakeSagaService();
  ASSERT_TRUE(p->Start().ok());
  EXPECT_EQ(Send(Step("g1", Op::kAction, {{"retry", true}})), "error");
  EXPECT_EQ(State(*p, "g1"), "none");
  EXPECT_EQ(Send(Step("g1", Op::kAction)), "ok");
  EXPECT_EQ(State(*p, "g1"), "done");
  EXPECT_EQ(actions_.load(), 2);
  EXPECT_EQ(Reservations(*p, "g1"), 1);
}

TEST_F(SagaStepTest, ServiceWithoutActionHandlerRefusesSagaSteps) {
  auto p = Make();
  ASSERT_TRUE(p->Start().ok());
  auto reply = coordinator_->Send(Step("g1", Op::kAction));
  ASSERT_TRUE(reply.ok());
  EXPECT_EQ(reply->outcome, wire::Outcome::kRefused);
  EXPECT_NE(reply->message.find("no action handler"), std::string::npos) << reply->message;
}

TEST_F(SagaStepTest, CommitProtocolOpsOnASagaStepAreErrors) {
  auto p = MakeSagaService();
  ASSERT_TRUE(p->Start().ok());
  ASSERT_EQ(Send(Step("g1", Op::kAction)), "ok");
  EXPECT_EQ(Send(Req("g1", Op::kAbort)), "error");
  EXPECT_EQ(Send(Req("g1", Op::kPrepare)), "error");
  EXPECT_EQ(State(*p, "g1"), "done");
}

// A database written by the first SDK (2PC states only, no schema table) is migrated in place.
TEST_F(SdkTest, OpensAndMigratesADatabaseOfTheFirstSchema) {
  {
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open(db_path_.c_str(), &db), SQLITE_OK);
    ASSERT_EQ(sqlite3_exec(db, R"sql(
      CREATE TABLE txc_branches (
        gid TEXT NOT NULL, branch INTEGER NOT NULL, protocol TEXT NOT NULL,
        state TEXT NOT NULL CHECK (state IN ('prepared', 'committed', 'aborted')),
        payload TEXT, updated_at INTEGER NOT NULL, PRIMARY KEY (gid, branch));
      CREATE INDEX txc_branches_by_state ON txc_branches (state, updated_at);
      INSERT INTO txc_branches VALUES ('old', 0, '2pc', 'prepared', '{}', 1);)sql",
                           nullptr, nullptr, nullptr),
              SQLITE_OK);
    sqlite3_close(db);
  }
  auto p = Make();
  ASSERT_NE(p, nullptr);
  EXPECT_EQ(State(*p, "old"), "prepared");
  ASSERT_TRUE(p->Start().ok());
  EXPECT_EQ(Send(Req("old", Op::kCommit)), "ok");
  EXPECT_EQ(State(*p, "old"), "committed");
  wire::BranchRequest step = Req("new", Op::kAction);
  step.protocol = "saga";
  EXPECT_EQ(Send(step), "refused");  // the new states fit: 'failed' was recorded
  EXPECT_EQ(State(*p, "new"), "failed");
}

}  // namespace
}  // namespace txc::testing
