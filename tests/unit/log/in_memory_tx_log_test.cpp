// InMemoryTxLog's test controls: pending batches, CompleteAll, DropPending, Poison, Snapshot.
// (Its TxLog semantics are checked against SqliteTxLog's in tx_log_contract_test.cpp.)
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "in_memory_tx_log.h"
#include "log_test_util.h"

namespace txc::log::test {
namespace {

using testing::InMemoryTxLog;

bool Exists(TxLog& log, const std::string& id) {
  auto found = log.Find(id, false);
  return found.ok() && found->has_value();
}

TEST(InMemoryTxLog, AutoCompleteAppliesAndCallsDoneInline) {
  InMemoryTxLog log;
  bool called = false;
  log.Append({Created(MakeTx("a", 1))}, [&](Status st) {
    EXPECT_TRUE(st.ok());
    called = true;
  });
  EXPECT_TRUE(called);
  EXPECT_TRUE(Exists(log, "a"));
  EXPECT_EQ(log.durable_records().size(), 1u);
}

TEST(InMemoryTxLog, PendingBatchesWaitForCompleteAllInOrder) {
  InMemoryTxLog log(/*auto_complete=*/false);
  std::vector<std::string> order;
  log.Append({Created(MakeTx("a", 1))}, [&](Status st) { order.push_back("a:" + st.ToString()); });
  log.Append({Created(MakeTx("b", 1))}, [&](Status st) { order.push_back("b:" + st.ToString()); });
  EXPECT_EQ(log.pending_batches(), 2u);
  EXPECT_TRUE(order.empty());
  EXPECT_FALSE(Exists(log, "a"));  // not durable yet: invisible to reads

  EXPECT_EQ(log.CompleteAll(), 2u);
  EXPECT_EQ(order, (std::vector<std::string>{"a:ok", "b:ok"}));
  EXPECT_TRUE(Exists(log, "a"));
  EXPECT_TRUE(Exists(log, "b"));
  EXPECT_EQ(log.pending_batches(), 0u);
}

TEST(InMemoryTxLog, DropPendingForgetsBatchesWithoutCallingDone) {
  InMemoryTxLog log(/*auto_complete=*/false);
  log.Append({Created(MakeTx("kept", 1))}, [](Status) {});
  log.CompleteAll();
  bool called = false;
  log.Append({Created(MakeTx("lost", 1))}, [&](Status) { called = true; });
  EXPECT_EQ(log.DropPending(), 1u);
  EXPECT_EQ(log.CompleteAll(), 0u);
  EXPECT_FALSE(called);
  EXPECT_FALSE(Exists(log, "lost"));

  // A restart sees exactly the durable records.
  auto restarted = log.Snapshot();
  EXPECT_TRUE(Exists(*restarted, "kept"));
  EXPECT_FALSE(Exists(*restarted, "lost"));
  EXPECT_EQ(restarted->durable_records().size(), 1u);
}

TEST(InMemoryTxLog, PoisonFailsLaterAppendsInline) {
  InMemoryTxLog log;
  log.Poison(Status::DataLoss("disk gone"));
  Status got;
  log.Append({Created(MakeTx("a", 1))}, [&](Status st) { got = st; });
  EXPECT_EQ(got.code(), StatusCode::kDataLoss);
  EXPECT_EQ(log.Health().code(), StatusCode::kDataLoss);
  EXPECT_FALSE(Exists(log, "a"));
  EXPECT_TRUE(log.Snapshot()->Health().ok());  // a restart clears the poison
}

TEST(InMemoryTxLog, SnapshotRebuildsStateFromRecords) {
  InMemoryTxLog log;
  core::Attempt at{wire::Op::kPrepare, 1, At(4), core::AttemptResult::kOk, "", 10};
  ASSERT_TRUE(AppendSync(log, {Created(MakeTx("a", 2, core::Protocol::kSaga, "k")),
                               core::AttemptRecorded{"a", 1, at},
                               StateChanged("a", core::TxState::kCommitted, "done")})
                  .ok());
  auto copy = log.Snapshot();
  auto want = log.Find("a", true);
  auto got = copy->Find("a", true);
  ASSERT_TRUE(want.ok() && want->has_value() && got.ok() && got->has_value());
  ExpectSameTx(**got, **want);
  EXPECT_EQ((*got)->branches[1].history.size(), 1u);
}

TEST(InMemoryTxLog, DoneMayCallBackIntoTheLog) {
  InMemoryTxLog log;
  bool nested = false;
  log.Append({Created(MakeTx("a", 1))}, [&](Status) {
    log.Append({StateChanged("a", core::TxState::kAborted)}, [&](Status st) { nested = st.ok(); });
  });
  EXPECT_TRUE(nested);
}

TEST(InMemoryTxLog, IsSafeToUseFromSeveralThreads) {
  InMemoryTxLog log(/*auto_complete=*/false);
  constexpr int kThreads = 4, kPerThread = 100;
  Completions done(kThreads * kPerThread);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) {
        size_t slot = static_cast<size_t>(t * kPerThread + i);
        log.Append({Created(MakeTx("tx-" + std::to_string(slot), 1))}, done.Track(slot));
        if (i % 10 == 0) log.CompleteAll();
        (void)log.LoadUnfinished();
      }
    });
  }
  for (auto& th : threads) th.join();
  log.CompleteAll();
  ASSERT_TRUE(done.WaitAll());
  auto all = log.LoadUnfinished();
  ASSERT_TRUE(all.ok());
  EXPECT_EQ(all->size(), static_cast<size_t>(kThreads * kPerThread));
}

}  // namespace
}  // namespace txc::log::test
