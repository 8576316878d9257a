#include "engine/engine.h"

#include <gtest/gtest.h>

#include <map>
#include <memory>
#include <optional>
#include <set>

#include "fake_clock.h"
#include "in_memory_transport.h"
#include "in_memory_tx_log.h"

namespace txc::engine {
namespace {

using core::AttemptResult;
using core::TxState;
using testing::FakeClock;
using testing::InMemoryTransport;
using testing::InMemoryTxLog;
using wire::Op;

core::Transaction Draft(int branches, std::string key = "", std::string hash = "") {
  core::Transaction tx;
  tx.protocol = core::Protocol::kTwoPhase;
  tx.timeout = core::Duration(5000);
  tx.idempotency_key = std::move(key);
  tx.request_hash = std::move(hash);
  for (int i = 0; i < branches; ++i) {
    core::Branch b;
    b.index = i;
    b.participant = "p" + std::to_string(i);
    b.payload = {{"i", i}};
    tx.branches.push_back(b);
  }
  return tx;
}

// One coordinator "process": an engine over a log that outlives it, driven by the test.
class Coordinator {
 public:
  Coordinator(InMemoryTxLog& log, FakeClock& clock, core::RetryPolicy retry = {})
      : engine_(std::make_unique<Engine>(log, transport_, clock, EngineOptions{retry, {}})) {
    EXPECT_TRUE(engine_->Start(/*own_thread=*/false).ok());
    engine_->RunUntilIdle();
  }

  Result<BeginOutcome> Begin(core::Transaction draft) {
    std::optional<Result<BeginOutcome>> out;
    engine_->Begin(std::move(draft), [&](Result<BeginOutcome> r) { out.emplace(std::move(r)); });
    engine_->RunUntilIdle();
    if (!out) return Status::Internal("begin not answered yet");
    return std::move(*out);
  }

  // Begin, with a watcher until `until` whose answer lands in `*told`.
  Result<BeginOutcome> BeginWatching(core::Transaction draft, Engine::Until until,
                                     std::optional<std::optional<core::Transaction>>* told) {
    std::optional<Result<BeginOutcome>> out;
    engine_->Begin(
        std::move(draft), [&](Result<BeginOutcome> r) { out.emplace(std::move(r)); },
        [told](std::optional<core::Transaction> tx) { told->emplace(std::move(tx)); }, until);
    engine_->RunUntilIdle();
    if (!out) return Status::Internal("begin not answered yet");
    return std::move(*out);
  }

  void Reply(const wire::BranchRequest& to, AttemptResult result, std::string message = "") {
    transport_.Deliver({to.gid, to.branch, to.op, to.attempt, result, std::move(message), 50});
    engine_->RunUntilIdle();
  }

  void ReplyAll(const std::vector<wire::BranchRequest>& to, AttemptResult result) {
    for (const auto& r : to) Reply(r, result);
  }
  std::vector<wire::BranchRequest> Take(Op op) {
    std::vector<wire::BranchRequest> out;
    for (auto& r : transport_.TakeSent()) {
      if (r.op == op) out.push_back(r);
    }
    return out;
  }

  Engine& engine() { return *engine_; }
  InMemoryTransport& transport() { return transport_; }

 private:
  InMemoryTransport transport_;  // declared first: destroyed after the engine
  std::unique_ptr<Engine> engine_;
};

std::optional<TxState> StateInLog(InMemoryTxLog& log, const std::string& id) {
  auto found = log.Find(id, false);
  if (!found.ok() || !found->has_value()) return std::nullopt;
  return (*found)->state;
}

// Prepares need not wait for the transaction's record (presumed abort covers a crash before
// it), but the client is answered only once the record is durable.
TEST(Engine, AnswersOnceTheTransactionIsDurableWhilePreparesLeaveAtOnce) {
  InMemoryTxLog log;
  FakeClock clock;
  log.set_auto_complete(false);
  Coordinator c(log, clock);
  std::optional<Result<BeginOutcome>> begun;
  c.engine().Begin(Draft(2), [&](Result<BeginOutcome> r) { begun.emplace(std::move(r)); });
  c.engine().RunUntilIdle();
  EXPECT_FALSE(begun.has_value()) << "answered before the transaction was durable";
  EXPECT_EQ(c.transport().sent().size(), 2u);
  log.CompleteAll();
  c.engine().RunUntilIdle();
  ASSERT_TRUE(begun.has_value());
  ASSERT_TRUE(begun->ok());
  EXPECT_TRUE((*begun)->created);
  EXPECT_EQ((*begun)->tx.id.size(), 32u);
  auto prepares = c.Take(Op::kPrepare);
  ASSERT_EQ(prepares.size(), 2u);
  EXPECT_EQ(prepares[1].participant, "p1");
  EXPECT_EQ(prepares[1].payload["i"], 1);
  EXPECT_EQ(prepares[1].gid, (*begun)->tx.id);
  EXPECT_GE(c.transport().flushes(), 1);
}

TEST(Engine, CommitsLeaveOnlyAfterTheDecisionIsDurableAndStatusReflectsOnlyDurableState) {
  InMemoryTxLog log;
  FakeClock clock;
  Coordinator c(log, clock);
  auto begun = c.Begin(Draft(2));
  ASSERT_TRUE(begun.ok());
  const std::string id = begun->tx.id;
  auto prepares = c.Take(Op::kPrepare);
  EXPECT_EQ(c.transport().AskStatus(id)->decision, wire::Decision::kPending);

  log.set_auto_complete(false);
  c.ReplyAll(prepares, AttemptResult::kOk);
  EXPECT_TRUE(c.Take(Op::kCommit).empty()) << "commit sent before the decision was durable";
  EXPECT_EQ(c.transport().AskStatus(id)->decision, wire::Decision::kPending)
      << "a decision still in the log queue must not be reported";
  log.CompleteAll();
  c.engine().RunUntilIdle();
  EXPECT_EQ(c.transport().AskStatus(id)->decision, wire::Decision::kCommit);
  auto commits = c.Take(Op::kCommit);
  ASSERT_EQ(commits.size(), 2u);
  log.set_auto_complete(true);
  log.CompleteAll();
  c.ReplyAll(commits, AttemptResult::kOk);
  EXPECT_EQ(StateInLog(log, id), TxState::kCommitted);
  EXPECT_EQ(c.engine().live_count(), 0u);
  // Finished transactions are answered from the log; unknown ones are presumed aborted.
  EXPECT_EQ(c.transport().AskStatus(id)->decision, wire::Decision::kCommit);
  EXPECT_EQ(c.transport().AskStatus("nope")->decision, wire::Decision::kAbort);
}

// A decision watcher is answered once the commit decision is durable and the commits have
// left, not before the decision is on disk and not only at the end; an end watcher keeps waiting.
TEST(Engine, ADecisionWatcherIsAnsweredOnceTheDecisionIsDurable) {
  InMemoryTxLog log;
  FakeClock clock;
  Coordinator c(log, clock);
  std::optional<std::optional<core::Transaction>> decided, ended;
  auto begun = c.BeginWatching(Draft(2), Engine::Until::kDecision, &decided);
  ASSERT_TRUE(begun.ok());
  const std::string id = begun->tx.id;
  c.engine().Watch(id, [&](std::optional<core::Transaction> tx) { ended.emplace(std::move(tx)); });
  auto prepares = c.Take(Op::kPrepare);
  ASSERT_EQ(prepares.size(), 2u);

  log.set_auto_complete(false);
  c.ReplyAll(prepares, AttemptResult::kOk);
  EXPECT_FALSE(decided.has_value()) << "answered before the decision was durable";
  log.CompleteAll();
  c.engine().RunUntilIdle();
  ASSERT_TRUE(decided.has_value());
  ASSERT_TRUE(decided->has_value());
  EXPECT_EQ((*decided)->state, TxState::kCommitting);
  EXPECT_EQ(c.Take(Op::kCommit).size(), 2u) << "the commits are sent with the answer";
  EXPECT_FALSE(ended.has_value());

  // Watching a decided transaction answers at once.
  std::optional<std::optional<core::Transaction>> late;
  c.engine().Watch(
      id, [&](std::optional<core::Transaction> tx) { late.emplace(std::move(tx)); },
      Engine::Until::kDecision);
  c.engine().RunUntilIdle();
  ASSERT_TRUE(late.has_value() && late->has_value());
  EXPECT_EQ((*late)->state, TxState::kCommitting);
  EXPECT_FALSE(ended.has_value());
}

// The decision's append fails: its watcher is not told "decided" (it keeps waiting for a
// restart's recovery, or its deadline).
TEST(Engine, ADecisionWatcherIsNotAnsweredWhenTheDecisionCannotBeLogged) {
  InMemoryTxLog log;
  FakeClock clock;
  Coordinator c(log, clock);
  std::optional<std::optional<core::Transaction>> decided;
  auto begun = c.BeginWatching(Draft(2), Engine::Until::kDecision, &decided);
  ASSERT_TRUE(begun.ok());
  auto prepares = c.Take(Op::kPrepare);
  log.set_auto_complete(false);
  c.ReplyAll(prepares, AttemptResult::kOk);
  log.Poison(Status::DataLoss("disk I/O error"));
  log.CompleteAll();  // the pending decision fails
  c.engine().RunUntilIdle();
  EXPECT_FALSE(decided.has_value());
  EXPECT_TRUE(c.Take(Op::kCommit).empty());
}

// A transaction that ends without a decision state of its own (a saga's last action ends it) still
// answers its decision watchers, at the end.
TEST(Engine, ADecisionWatcherIsAnsweredAtTheEndAtTheLatest) {
  InMemoryTxLog log;
  FakeClock clock;
  Coordinator c(log, clock);
  core::Transaction draft = Draft(1);
  draft.protocol = core::Protocol::kSaga;  // no decision record: the last action ends it
  std::optional<std::optional<core::Transaction>> decided;
  auto begun = c.BeginWatching(std::move(draft), Engine::Until::kDecision, &decided);
  ASSERT_TRUE(begun.ok());
  auto actions = c.Take(Op::kAction);
  ASSERT_EQ(actions.size(), 1u);
  EXPECT_FALSE(decided.has_value());
  c.Reply(actions[0], AttemptResult::kOk);
  ASSERT_TRUE(decided.has_value() && decided->has_value());
  EXPECT_EQ((*decided)->state, TxState::kCompleted);
}

// A finished transaction leaves timers behind (reply timeouts, its deadline); the engine must
// not wake up for them.
TEST(Engine, TimersOfFinishedTransactionsDoNotWakeTheEngine) {
  InMemoryTxLog log;
  FakeClock clock;
  Coordinator c(log, clock);
  auto begun = c.Begin(Draft(2));
  ASSERT_TRUE(begun.ok());
  ASSERT_TRUE(c.engine().NextTimerDue().has_value()) << "a live transaction has its timers";
  auto prepares = c.Take(Op::kPrepare);
  c.ReplyAll(prepares, AttemptResult::kOk);
  auto commits = c.Take(Op::kCommit);
  ASSERT_EQ(commits.size(), 2u);
  c.ReplyAll(commits, AttemptResult::kOk);
  ASSERT_EQ(c.engine().live_count(), 0u);
  EXPECT_FALSE(c.engine().NextTimerDue().has_value());

  // Another live transaction's timers stay.
  auto other = c.Begin(Draft(1));
  ASSERT_TRUE(other.ok());
  EXPECT_TRUE(c.engine().NextTimerDue().has_value());
}

TEST(Engine, AbortsOnARefusalAndExplainsWhy) {
  InMemoryTxLog log;
  FakeClock clock;
  Coordinator c(log, clock);
  auto begun = c.Begin(Draft(2));
  auto prepares = c.Take(Op::kPrepare);
  c.Reply(prepares[0], AttemptResult::kOk);
  c.Reply(prepares[1], AttemptResult::kRefused, "out of stock");
  auto aborts = c.Take(Op::kAbort);
  ASSERT_EQ(aborts.size(), 1u);
  EXPECT_EQ(aborts[0].branch, 0);
  c.Reply(aborts[0], AttemptResult::kOk);
  auto tx = log.Find(begun->tx.id, true);
  ASSERT_TRUE(tx.ok() && tx->has_value());
  EXPECT_EQ((*tx)->state, TxState::kAborted);
  EXPECT_NE((*tx)->reason.find("out of stock"), std::string::npos);
  EXPECT_EQ((*tx)->branches[1].state, core::BranchState::kRefused);
}

// An operator's abort of an aborting transaction changes nothing but is logged; if the last
// acknowledgement ends the transaction while that record is being written, the operator is
// still answered (not left waiting for a callback that never comes).
TEST(Engine, AnOperatorActionIsAnsweredWhenItsTransactionFinishesMeanwhile) {
  InMemoryTxLog log;
  FakeClock clock;
  Coordinator c(log, clock);
  auto begun = c.Begin(Draft(2));
  ASSERT_TRUE(begun.ok());
  const std::string id = begun->tx.id;
  auto prepares = c.Take(Op::kPrepare);
  c.Reply(prepares[0], AttemptResult::kOk);
  c.Reply(prepares[1], AttemptResult::kRefused, "out of stock");
  auto aborts = c.Take(Op::kAbort);
  ASSERT_EQ(aborts.size(), 1u);

  log.set_auto_complete(false);
  std::optional<Result<core::Transaction>> answer;
  c.engine().Operate(id, core::OperatorAbort{"again"},
                     [&](Result<core::Transaction> tx) { answer.emplace(std::move(tx)); });
  c.engine().RunUntilIdle();
  EXPECT_FALSE(answer.has_value()) << "answered before the action was durable";
  c.Reply(aborts[0], AttemptResult::kOk);
  EXPECT_EQ(c.engine().live_count(), 0u);
  log.CompleteAll();
  c.engine().RunUntilIdle();
  ASSERT_TRUE(answer.has_value()) << "the operator was never answered";
  ASSERT_TRUE(answer->ok()) << answer->status().ToString();
  EXPECT_EQ((*answer)->state, TxState::kAborting);
  auto tx = log.Find(id, true);
  ASSERT_TRUE(tx.ok() && tx->has_value());
  EXPECT_EQ((*tx)->state, TxState::kAborted);
  ASSERT_FALSE((*tx)->events.empty());
  EXPECT_EQ((*tx)->events[1].kind, core::TxEventKind::kOperatorAbort);
}

TEST(Engine, DeadlineAndReplyTimeoutsRunOnTheClock) {
  InMemoryTxLog log;
  FakeClock clock;
  core::RetryPolicy retry{core::Duration(1000), core::Duration(100), core::Duration(400)};
  Coordinator c(log, clock, retry);
  auto begun = c.Begin(Draft(1));
  ASSERT_EQ(c.Take(Op::kPrepare).size(), 1u);
  clock.Advance(core::Duration(999));
  c.engine().RunUntilIdle();
  EXPECT_TRUE(c.transport().sent().empty());
  clock.Advance(core::Duration(1));  // reply timeout
  c.engine().RunUntilIdle();
  clock.Advance(core::Duration(100));  // back-off
  c.engine().RunUntilIdle();
  auto again = c.Take(Op::kPrepare);
  ASSERT_EQ(again.size(), 1u);
  EXPECT_EQ(again[0].attempt, 2);
  clock.Advance(core::Duration(5000));  // the phase-one deadline
  c.engine().RunUntilIdle();
  EXPECT_EQ(StateInLog(log, begun->tx.id), TxState::kAborting);
  EXPECT_FALSE(c.Take(Op::kAbort).empty());
}

TEST(Engine, RetriesCommitUntilAcknowledged) {
  InMemoryTxLog log;
  FakeClock clock;
  core::RetryPolicy retry{core::Duration(1000), core::Duration(100), core::Duration(400)};
  Coordinator c(log, clock, retry);
  auto begun = c.Begin(Draft(1));
  c.Reply(c.Take(Op::kPrepare)[0], AttemptResult::kOk);
  auto commit = c.Take(Op::kCommit);
  for (int i = 0; i < 5; ++i) {
    c.Reply(commit.at(0), AttemptResult::kError, "locked");
    clock.Advance(core::Duration(400));
    c.engine().RunUntilIdle();
    commit = c.Take(Op::kCommit);
    ASSERT_EQ(commit.size(), 1u) << "round " << i;
  }
  EXPECT_EQ(commit[0].attempt, 6);
  c.Reply(commit[0], AttemptResult::kOk);
  auto tx = log.Find(begun->tx.id, true);
  EXPECT_EQ((*tx)->state, TxState::kCommitted);
  EXPECT_EQ((*tx)->branches[0].history.size(), 7u);  // prepare + 5 errors + ack
}

TEST(Engine, IdempotencyKeyReturnsTheSameTransactionLiveFinishedAndAfterRestart) {
  InMemoryTxLog log;
  FakeClock clock;
  std::string id;
  {
    Coordinator c(log, clock);
    auto first = c.Begin(Draft(1, "key-1", "h1"));
    ASSERT_TRUE(first.ok());
    id = first->tx.id;
    auto again = c.Begin(Draft(1, "key-1", "h1"));
    ASSERT_TRUE(again.ok());
    EXPECT_FALSE(again->created);
    EXPECT_EQ(again->tx.id, id);
    auto other = c.Begin(Draft(1, "key-1", "other body"));
    ASSERT_FALSE(other.ok());
    EXPECT_EQ(other.status().code(), StatusCode::kAlreadyExists);
    c.Reply(c.Take(Op::kPrepare)[0], AttemptResult::kOk);
    c.Reply(c.Take(Op::kCommit)[0], AttemptResult::kOk);
    auto finished = c.Begin(Draft(1, "key-1", "h1"));
    ASSERT_TRUE(finished.ok());
    EXPECT_EQ(finished->tx.id, id);
  }
  Coordinator restarted(log, clock);
  auto after = restarted.Begin(Draft(1, "key-1", "h1"));
  ASSERT_TRUE(after.ok());
  EXPECT_FALSE(after->created);
  EXPECT_EQ(after->tx.id, id);
  EXPECT_TRUE(restarted.transport().sent().empty());
}

// A transaction that cannot finish yet (a participant silent) is started again and again under
// its Idempotency-Key, each time with a wait for the end that then runs out (WatcherList). The
// engine lets go of those watchers before the transaction ends; the wait still open is answered.
TEST(Engine, WatchersOfWaitsThatRanOutAreLetGoBeforeTheTransactionEnds) {
  InMemoryTxLog log;
  FakeClock clock;
  Coordinator c(log, clock);
  auto first = c.Begin(Draft(1, "key-1", "h1"));
  ASSERT_TRUE(first.ok());
  auto held = std::make_shared<int>(0);  // each watcher holds it while the engine keeps it
  int ran_out_told = 0;
  for (int i = 0; i < 1000; ++i) {
    auto wait = std::make_shared<int>(i);
    c.engine().Begin(
        Draft(1, "key-1", "h1"), [](Result<BeginOutcome>) {},
        [held, &ran_out_told](std::optional<core::Transaction>) { ++ran_out_told; },
        Engine::Until::kEnd, wait);
    c.engine().RunUntilIdle();
  }  // each wait ran out: nothing holds it any more
  // The test's own reference, and at most what the list holds between two sweeps.
  EXPECT_LE(held.use_count(), 1 + 16) << "the engine keeps a watcher for every wait that ran out";

  auto open_wait = std::make_shared<int>(-1);
  std::optional<std::optional<core::Transaction>> ended;
  c.engine().Begin(
      Draft(1, "key-1", "h1"), [](Result<BeginOutcome>) {},
      [&ended](std::optional<core::Transaction> tx) { ended.emplace(std::move(tx)); },
      Engine::Until::kEnd, open_wait);
  c.engine().RunUntilIdle();
  c.Reply(c.Take(Op::kPrepare)[0], AttemptResult::kOk);
  c.Reply(c.Take(Op::kCommit)[0], AttemptResult::kOk);
  ASSERT_TRUE(ended.has_value() && ended->has_value());
  EXPECT_EQ((*ended)->id, first->tx.id);
  EXPECT_EQ((*ended)->state, TxState::kCommitted);
  EXPECT_EQ(ran_out_told, 0);
}

TEST(Engine, ALogFailureStopsAllDecisions) {
  InMemoryTxLog log;
  FakeClock clock;
  Coordinator c(log, clock);
  auto begun = c.Begin(Draft(2));
  auto prepares = c.Take(Op::kPrepare);
  log.Poison(Status::DataLoss("disk I/O error"));
  c.ReplyAll(prepares, AttemptResult::kOk);
  EXPECT_TRUE(c.Take(Op::kCommit).empty());
  EXPECT_FALSE(c.engine().Health().ok());
  auto refused = c.Begin(Draft(1));
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.status().code(), StatusCode::kUnavailable);
}

// Crash the coordinator after each step of a run (any number of log batches may be lost with
// it), restart from the log, and let the participants answer everything. Each participant
// remembers what it was told: no one may hear commit and abort for the same transaction, and
// the restarted coordinator must reach a terminal state.
TEST(Engine, CrashAtEveryStepNeverSplitsTheOutcome) {
  for (int crash_at = 0; crash_at < 12; ++crash_at) {
    for (bool lose_pending : {false, true}) {
      InMemoryTxLog log;
      FakeClock clock;
      std::map<int, std::set<Op>> heard;  // branch -> decisions heard
      std::string id;
      int step = 0;
      bool crashed = false;
      {
        Coordinator c(log, clock);
        log.set_auto_complete(false);
        std::optional<Result<BeginOutcome>> begun;
        c.engine().Begin(Draft(2), [&](Result<BeginOutcome> r) { begun.emplace(std::move(r)); });
        // Each step: make the log durable, then answer every message sent so far with yes/ack.
        while (!crashed && step < 12) {
          if (step++ == crash_at) {
            crashed = true;
            break;
          }
          c.engine().RunUntilIdle();
          log.CompleteAll();
          c.engine().RunUntilIdle();
          if (begun && begun->ok()) id = (*begun)->tx.id;
          for (auto& r : c.transport().TakeSent()) {
            if (r.op != Op::kPrepare) heard[r.branch].insert(r.op);
            c.Reply(r, AttemptResult::kOk);
          }
        }
        if (lose_pending) log.DropPending();
        log.CompleteAll();
      }
      log.set_auto_complete(true);
      Coordinator restarted(log, clock);
      for (int round = 0; round < 4; ++round) {
        for (auto& r : restarted.transport().TakeSent()) {
          if (r.op != Op::kPrepare) heard[r.branch].insert(r.op);
          restarted.Reply(r, AttemptResult::kOk);
        }
      }
      for (auto& [branch, ops] : heard) {
        EXPECT_LE(ops.size(), 1u) << "crash_at=" << crash_at << " branch " << branch
                                  << " heard both commit and abort";
      }
      EXPECT_EQ(restarted.engine().live_count(), 0u) << "crash_at=" << crash_at;
      if (!id.empty()) {
        auto state = StateInLog(log, id);
        ASSERT_TRUE(state.has_value());
        EXPECT_TRUE(core::IsTerminal(*state)) << "crash_at=" << crash_at;
      }
    }
  }
}

}  // namespace
}  // namespace txc::engine
