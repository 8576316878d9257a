// The participant SDK's barrier, end to end over a real nats-server: what each request does to
// the branch record and to the service's own writes, and what it answers.
#include <atomic>
#include <mutex>
#include <stdexcept>

#include "sdk_fixture.h"

namespace txc::testing {
namespace {

using wire::Op;
using wire::Outcome;

// A prepare handler steered by the payload: {"then": "ok" | "refuse" | "retry" | "throw"}.
// It always writes a reservation first, so the test sees whether that write survived.
HandlerResult SteeredPrepare(const BranchContext& ctx) {
  SdkTest::Reserve(ctx, "prepare");
  const std::string then = ctx.payload.value("then", "ok");
  if (then == "refuse") return HandlerResult::Refuse("out of stock");
  if (then == "retry") return HandlerResult::Retry("warehouse busy");
  if (then == "throw") throw std::runtime_error("handler bug");
  return HandlerResult::Ok();
}

TEST_F(SdkTest, PrepareRecordsBranchAndKeepsHandlerWritesOnlyOnOk) {
  auto p = Make();
  p->OnPrepare(SteeredPrepare);
  ASSERT_TRUE(p->Start().ok());

  auto ok = coordinator_->Send(Req("g-ok", Op::kPrepare, {{"then", "ok"}}));
  ASSERT_TRUE(ok.ok()) << ok.status().ToString();
  EXPECT_EQ(ok->outcome, Outcome::kOk);
  EXPECT_EQ(ok->gid, "g-ok");
  EXPECT_EQ(ok->op, Op::kPrepare);
  EXPECT_EQ(State(*p, "g-ok"), "prepared");
  EXPECT_EQ(Reservations(*p, "g-ok"), 1);

  auto refused = coordinator_->Send(Req("g-refuse", Op::kPrepare, {{"then", "refuse"}}));
  ASSERT_TRUE(refused.ok());
  EXPECT_EQ(refused->outcome, Outcome::kRefused);
  EXPECT_EQ(State(*p, "g-refuse"), "aborted");
  EXPECT_EQ(Reservations(*p, "g-refuse"), 0);

  auto retry = coordinator_->Send(Req("g-retry", Op::kPrepare, {{"then", "retry"}}));
  ASSERT_TRUE(retry.ok());
  EXPECT_EQ(retry->outcome, Outcome::kError);
  EXPECT_EQ(retry->message, "warehouse busy");
  EXPECT_EQ(State(*p, "g-retry"), "none");
  EXPECT_EQ(Reservations(*p, "g-retry"), 0);

  EXPECT_EQ(p->counters().prepare_calls, 3u);
  // Counted after the publish returns, which may be after the reply arrived.
  EXPECT_TRUE(WaitFor([&] { return p->counters().replies_sent == 3; }));
}

TEST_F(SdkTest, HandlersSeeTheTraceparentOfTheRequest) {
  auto p = Make();
  std::vector<std::string> seen;  // handlers run on the SDK's thread, one at a time
  std::mutex mu;
  auto record = [&](const BranchContext& ctx) {
    std::lock_guard lock(mu);
    seen.push_back(ctx.traceparent);
    return HandlerResult::Ok();
  };
  p->OnPrepare(record);
  p->OnCommit(record);
  ASSERT_TRUE(p->Start().ok());
  const std::string tp = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
  wire::BranchRequest prepare = Req("g-trace", Op::kPrepare);
  prepare.traceparent = tp;
  ASSERT_EQ(coordinator_->Send(prepare)->outcome, Outcome::kOk);
  ASSERT_EQ(coordinator_->Send(Req("g-plain", Op::kPrepare))->outcome, Outcome::kOk);
  std::lock_guard lock(mu);
  EXPECT_EQ(seen, (std::vector<std::string>{tp, ""}));
}

TEST_F(SdkTest, HandlerExceptionRollsBackAndRepliesError) {
  auto p = Make();
  p->OnPrepare(SteeredPrepare);
  ASSERT_TRUE(p->Start().ok());

  auto reply = coordinator_->Send(Req("g-throw", Op::kPrepare, {{"then", "throw"}}));
  ASSERT_TRUE(reply.ok());
  EXPECT_EQ(reply->outcome, Outcome::kError);
  EXPECT_NE(reply->message.find("handler bug"), std::string::npos) << reply->message;
  EXPECT_EQ(State(*p, "g-throw"), "none");
  EXPECT_EQ(Reservations(*p, "g-throw"), 0);

  // The participant still works and the retried prepare can succeed.
  auto again = coordinator_->Send(Req("g-throw", Op::kPrepare, {{"then", "ok"}}));
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->outcome, Outcome::kOk);
  EXPECT_EQ(Reservations(*p, "g-throw"), 1);
}

TEST_F(SdkTest, RefusedPrepareIsRefusedAgainWithoutCallingHandler) {
  auto p = Make();
  std::atomic<int> calls{0};
  p->OnPrepare([&](const BranchContext&) {
    calls++;
    return HandlerResult::Refuse("credit limit exceeded");
  });
  ASSERT_TRUE(p->Start().ok());

  auto first = coordinator_->Send(Req("g1", Op::kPrepare));
  ASSERT_TRUE(first.ok());
  EXPECT_EQ(first->outcome, Outcome::kRefused);
  EXPECT_EQ(first->message, "credit limit exceeded");

  auto dup = Req("g1", Op::kPrepare);
  dup.attempt = 2;
  auto second = coordinator_->Send(dup);
  ASSERT_TRUE(second.ok());
  EXPECT_EQ(second->outcome, Outcome::kRefused);
  EXPECT_EQ(calls.load(), 1);
  EXPECT_EQ(State(*p, "g1"), "aborted");
}

TEST_F(SdkTest, DuplicatePrepareAndCommitCallHandlersOnce) {
  auto p = Make();
  std::atomic<int> prepares{0}, commits{0};
  p->OnPrepare([&](const BranchContext& ctx) {
    prepares++;
    Reserve(ctx, "prepare");
    return HandlerResult::Ok();
  });
  p->OnCommit([&](const BranchContext& ctx) {
    commits++;
    Reserve(ctx, "commit");
    return HandlerResult::Ok();
  });
  ASSERT_TRUE(p->Start().ok());

  for (int attempt = 1; attempt <= 2; ++attempt) {
    auto r = Req("g1", Op::kPrepare);
    r.attempt = attempt;
    auto reply = coordinator_->Send(r);
    ASSERT_TRUE(reply.ok());
    EXPECT_EQ(reply->outcome, Outcome::kOk) << "attempt " << attempt;
  }
  for (int attempt = 1; attempt <= 2; ++attempt) {
    auto r = Req("g1", Op::kCommit);
    r.attempt = attempt;
    auto reply = coordinator_->Send(r);
    ASSERT_TRUE(reply.ok());
    EXPECT_EQ(reply->outcome, Outcome::kOk) << "attempt " << attempt;
  }
  // A prepare re-sent after the commit (reordered) is still a yes.
  auto late = coordinator_->Send(Req("g1", Op::kPrepare));
  ASSERT_TRUE(late.ok());
  EXPECT_EQ(late->outcome, Outcome::kOk);

  EXPECT_EQ(prepares.load(), 1);
  EXPECT_EQ(commits.load(), 1);
  EXPECT_EQ(State(*p, "g1"), "committed");
  EXPECT_EQ(Reservations(*p, "g1"), 2);
  EXPECT_EQ(p->counters().prepare_calls, 1u);
  EXPECT_EQ(p->counters().commit_calls, 1u);
}

TEST_F(SdkTest, AbortBeforePrepareIsNullRollbackAndLatePrepareIsRefused) {
  auto p = Make();
  std::atomic<int> prepares{0}, aborts{0};
  p->OnPrepare([&](const BranchContext&) {
    prepares++;
    return HandlerResult::Ok();
  });
  p->OnAbort([&](const BranchContext&) {
    aborts++;
    return HandlerResult::Ok();
  });
  ASSERT_TRUE(p->Start().ok());

  auto abort = coordinator_->Send(Req("g1", Op::kAbort));
  ASSERT_TRUE(abort.ok());
  EXPECT_EQ(abort->outcome, Outcome::kOk);
  EXPECT_EQ(aborts.load(), 0);
  EXPECT_EQ(State(*p, "g1"), "aborted");

  auto late = coordinator_->Send(Req("g1", Op::kPrepare));
  ASSERT_TRUE(late.ok());
  EXPECT_EQ(late->outcome, Outcome::kRefused);
  EXPECT_EQ(late->message, "already aborted");
  EXPECT_EQ(prepares.load(), 0);

  auto dup = coordinator_->Send(Req("g1", Op::kAbort));
  ASSERT_TRUE(dup.ok());
  EXPECT_EQ(dup->outcome, Outcome::kOk);
  EXPECT_EQ(aborts.load(), 0);
}

TEST_F(SdkTest, AbortAfterPrepareRunsAbortHandlerOnce) {
  auto p = Make();
  std::atomic<int> aborts{0};
  p->OnPrepare([](const BranchContext& ctx) {
    Reserve(ctx, "prepare");
    return HandlerResult::Ok();
  });
  p->OnAbort([&](const BranchContext& ctx) {
    aborts++;
    sqlite3_exec(ctx.db, ("DELETE FROM reservations WHERE gid = '" + ctx.gid + "'").c_str(),
                 nullptr, nullptr, nullptr);
    return HandlerResult::Ok();
  });
  ASSERT_TRUE(p->Start().ok());

  ASSERT_EQ(Send(Req("g1", Op::kPrepare)), "ok");
  EXPECT_EQ(Reservations(*p, "g1"), 1);
  ASSERT_EQ(Send(Req("g1", Op::kAbort)), "ok");
  ASSERT_EQ(Send(Req("g1", Op::kAbort)), "ok");
  EXPECT_EQ(aborts.load(), 1);
  EXPECT_EQ(Reservations(*p, "g1"), 0);
  EXPECT_EQ(State(*p, "g1"), "aborted");

  // Commit after abort is a protocol violation: error, state unchanged.
  auto commit = coordinator_->Send(Req("g1", Op::kCommit));
  ASSERT_TRUE(commit.ok());
  EXPECT_EQ(commit->outcome, Outcome::kError);
  EXPECT_EQ(State(*p, "g1"), "aborted");
}

TEST_F(SdkTest, CommitIsRetriedAfterHandlerAsksToRetry) {
  auto p = Make();
  std::atomic<int> commits{0};
  p->OnCommit([&](const BranchContext& ctx) {
    Reserve(ctx, "commit");
    if (++commits == 1) return HandlerResult::Retry("ledger unavailable");
    return HandlerResult::Ok();
  });
  ASSERT_TRUE(p->Start().ok());

  ASSERT_EQ(Send(Req("g1", Op::kPrepare)), "ok");
  auto first = coordinator_->Send(Req("g1", Op::kCommit));
  ASSERT_TRUE(first.ok());
  EXPECT_EQ(first->outcome, Outcome::kError);
  EXPECT_EQ(first->message, "ledger unavailable");
  EXPECT_EQ(State(*p, "g1"), "prepared");
  EXPECT_EQ(Reservations(*p, "g1"), 0);

  auto retry = Req("g1", Op::kCommit);
  retry.attempt = 2;
  auto second = coordinator_->Send(retry);
  ASSERT_TRUE(second.ok());
  EXPECT_EQ(second->outcome, Outcome::kOk);
  EXPECT_EQ(State(*p, "g1"), "committed");
  EXPECT_EQ(Reservations(*p, "g1"), 1);
  EXPECT_EQ(commits.load(), 2);
}

TEST_F(SdkTest, CommitHandlerCannotRefuseADecidedCommit) {
  auto p = Make();
  p->OnCommit([](const BranchContext&) { return HandlerResult::Refuse("changed my mind"); });
  ASSERT_TRUE(p->Start().ok());
  ASSERT_EQ(Send(Req("g1", Op::kPrepare)), "ok");
  auto reply = coordinator_->Send(Req("g1", Op::kCommit));
  ASSERT_TRUE(reply.ok());
  EXPECT_EQ(reply->outcome, Outcome::kError);
  EXPECT_EQ(State(*p, "g1"), "prepared");
}

TEST_F(SdkTest, WithoutHandlersPrepareVotesYesAndCommitOnlyRecords) {
  auto p = Make();
  ASSERT_TRUE(p->Start().ok());
  EXPECT_EQ(Send(Req("g1", Op::kPrepare)), "ok");
  EXPECT_EQ(Send(Req("g1", Op::kCommit)), "ok");
  EXPECT_EQ(State(*p, "g1"), "committed");
  EXPECT_EQ(Send(Req("g2", Op::kPrepare)), "ok");
  EXPECT_EQ(Send(Req("g2", Op::kAbort)), "ok");
  EXPECT_EQ(State(*p, "g2"), "aborted");
}

TEST_F(SdkTest, CommitOfUnknownBranchIsAnError) {
  auto p = Make();
  ASSERT_TRUE(p->Start().ok());
  auto reply = coordinator_->Send(Req("nobody", Op::kCommit));
  ASSERT_TRUE(reply.ok());
  EXPECT_EQ(reply->outcome, Outcome::kError);
  EXPECT_NE(reply->message.find("unknown branch"), std::string::npos);
  EXPECT_EQ(State(*p, "nobody"), "none");
}

TEST_F(SdkTest, BadRequestsGetErrorRepliesAndDoNotTouchTheDatabase) {
  auto p = Make();
  std::atomic<int> calls{0};
  p->OnPrepare([&](const BranchContext&) {
    calls++;
    return HandlerResult::Ok();
  });
  ASSERT_TRUE(p->Start().ok());
  const std::string subject = wire::ParticipantSubject("inventory", Op::kPrepare);

  auto garbage = coordinator_->SendRaw(subject, "not json");
  ASSERT_TRUE(garbage.ok()) << garbage.status().ToString();
  EXPECT_EQ(garbage->outcome, Outcome::kError);
  EXPECT_EQ(garbage->gid, "");

  // Missing participant: the reply still names the gid and op it could read.
  auto partial = coordinator_->SendRaw(subject, R"({"gid":"g9","branch":2,"op":"commit"})");
  ASSERT_TRUE(partial.ok());
  EXPECT_EQ(partial->outcome, Outcome::kError);
  EXPECT_EQ(partial->gid, "g9");
  EXPECT_EQ(partial->branch, 2);
  EXPECT_EQ(partial->op, Op::kCommit);

  // Addressed to someone else (published on our subject).
  auto other = Req("g1", Op::kPrepare, nlohmann::json::object(), "billing");
  auto misaddressed = coordinator_->SendRaw(subject, wire::Encode(other));
  ASSERT_TRUE(misaddressed.ok());
  EXPECT_EQ(misaddressed->outcome, Outcome::kError);
  EXPECT_EQ(misaddressed->gid, "g1");

  // A body whose op is not the subject's (subject permissions are granted per op).
  auto smuggled = coordinator_->SendRaw(subject, wire::Encode(Req("g2", Op::kCommit)));
  ASSERT_TRUE(smuggled.ok());
  EXPECT_EQ(smuggled->outcome, Outcome::kError);
  EXPECT_NE(smuggled->message.find("arrived on subject"), std::string::npos) << smuggled->message;

  // No reply subject: dropped quietly, and the participant keeps serving.
  ASSERT_TRUE(coordinator_->Publish(subject, "still not json"));
  EXPECT_TRUE(WaitFor([&] { return p->counters().bad_requests >= 5; }));
  EXPECT_EQ(Send(Req("g3", Op::kPrepare)), "ok");

  EXPECT_EQ(calls.load(), 1);
  EXPECT_EQ(State(*p, "g1"), "none");
  EXPECT_EQ(State(*p, "g2"), "none");
}

TEST_F(SdkTest, HandlerCannotEndTheSdkTransaction) {
  auto p = Make();
  std::vector<int> codes;
  p->OnPrepare([&codes](const BranchContext& ctx) {
    Reserve(ctx, "before");
    for (const char* sql : {"COMMIT", "ROLLBACK", "BEGIN", "RELEASE txc_request"}) {
      codes.push_back(sqlite3_exec(ctx.db, sql, nullptr, nullptr, nullptr));
    }
    // Savepoints of its own are the handler's business.
    codes.push_back(
        sqlite3_exec(ctx.db, "SAVEPOINT mine; RELEASE mine", nullptr, nullptr, nullptr));
    return HandlerResult::Ok();
  });
  ASSERT_TRUE(p->Start().ok());
  EXPECT_EQ(Send(Req("g1", Op::kPrepare)), "ok");
  EXPECT_EQ(codes,
            (std::vector<int>{SQLITE_AUTH, SQLITE_AUTH, SQLITE_AUTH, SQLITE_AUTH, SQLITE_OK}));
  // The handler's write and the record committed together, once.
  EXPECT_EQ(State(*p, "g1"), "prepared");
  EXPECT_EQ(Reservations(*p, "g1"), 1);
}

TEST_F(SdkTest, CreateRejectsInvalidOptions) {
  auto bad_name = Options("no spaces allowed");
  EXPECT_EQ(Participant::Create(bad_name).status().code(), StatusCode::kInvalidArgument);
  auto no_db = Options();
  no_db.db_path.clear();
  EXPECT_EQ(Participant::Create(no_db).status().code(), StatusCode::kInvalidArgument);
  auto bad_dir = Options();
  bad_dir.db_path = dir_ + "/missing/dir/service.db";
  EXPECT_EQ(Participant::Create(bad_dir).status().code(), StatusCode::kUnavailable);
}

TEST_F(SdkTest, StopIsIdempotentAndFinal) {
  auto p = Make();
  ASSERT_TRUE(p->Start().ok());
  EXPECT_EQ(p->Start().code(), StatusCode::kFailedPrecondition);
  p->Stop();
  p->Stop();
  EXPECT_EQ(p->Start().code(), StatusCode::kFailedPrecondition);
  // No longer subscribed.
  EXPECT_FALSE(coordinator_->Send(Req("g1", Op::kPrepare), std::chrono::milliseconds(300)).ok());
  // The database stays usable.
  EXPECT_EQ(State(*p, "g1"), "none");
}

TEST_F(SdkTest, WithDbRollsBackATransactionLeftOpen) {
  auto p = Make();
  p->WithDb([](sqlite3* db) {
    sqlite3_exec(db, "BEGIN; INSERT INTO reservations VALUES ('leak', 'x')", nullptr, nullptr,
                 nullptr);
  });
  EXPECT_EQ(Reservations(*p, "leak"), 0);
  ASSERT_TRUE(p->Start().ok());
  EXPECT_EQ(Send(Req("g1", Op::kPrepare)), "ok");
}

}  // namespace
}  // namespace txc::testing
