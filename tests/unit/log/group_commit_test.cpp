// SqliteTxLog's writer thread: group commit, batch boundaries, poisoning and shutdown.
// The writer is held deterministically by a `done` callback that blocks (callbacks run on the
// writer thread), so appends queue up behind it; no outcome here depends on timing (the lazy
// delay tests wait for the delay itself).
#include <chrono>
#include <future>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "log/sqlite_tx_log.h"
#include "log_test_util.h"
#include "wait_for.h"

namespace txc::log::test {
namespace {

// Parks the writer thread inside a completion callback until Release().
class WriterBlocker {
 public:
  explicit WriterBlocker(TxLog& log) {
    std::shared_future<void> released = release_.get_future().share();
    log.Append({}, [this, released](Status) {
      entered_.set_value();
      released.wait();
    });
    entered_.get_future().wait();
  }
  ~WriterBlocker() { Release(); }
  void Release() {
    if (!released_) {
      released_ = true;
      release_.set_value();
    }
  }

 private:
  std::promise<void> entered_;
  std::promise<void> release_;
  bool released_ = false;
};

class GroupCommitTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(dir_.ok()); }

  std::unique_ptr<SqliteTxLog> Open(size_t max_batch = 4096, std::chrono::microseconds lazy_delay =
                                                                 std::chrono::milliseconds(2)) {
    SqliteTxLog::Options o;
    o.path = dir_.File("txc.db");
    o.max_batch = max_batch;
    o.lazy_delay = lazy_delay;
    auto opened = SqliteTxLog::Open(o);
    EXPECT_TRUE(opened.ok()) << opened.status().ToString();
    return opened.ok() ? std::move(opened).value() : nullptr;
  }

  TempDir dir_;
};

// Three records for one new transaction.
std::vector<core::LogRecord> ThreeRecords(const std::string& id) {
  return {
      Created(MakeTx(id, 1)),
      core::BranchChanged{id, 0, core::BranchState::kPrepared, wire::Op::kPrepare, 1, 1, "", At(3)},
      StateChanged(id, core::TxState::kCommitting)};
}

TEST_F(GroupCommitTest, ConcurrentAppendsShareOneCommitAndEachDoneRunsOnceWithOk) {
  auto log = Open();
  ASSERT_NE(log, nullptr);
  constexpr int kThreads = 8;
  constexpr int kPerThread = 50;
  Completions done(kThreads * kPerThread);
  {
    WriterBlocker blocker(*log);
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t) {
      threads.emplace_back([&, t] {
        for (int i = 0; i < kPerThread; ++i) {
          size_t slot = static_cast<size_t>(t * kPerThread + i);
          log->Append({Created(MakeTx("tx-" + std::to_string(slot), 1))}, done.Track(slot));
        }
      });
    }
    for (auto& th : threads) th.join();
    EXPECT_EQ(done.total(), 0u);  // Append only queues: nothing is durable yet
  }
  ASSERT_TRUE(done.WaitAll());
  log.reset();  // joins the writer: no further callbacks can run after this
  for (size_t i = 0; i < kThreads * kPerThread; ++i) {
    EXPECT_EQ(done.calls(i), 1) << i;
    EXPECT_TRUE(done.status(i).ok()) << done.status(i).ToString();
  }
  log = Open();
  ASSERT_NE(log, nullptr);
  auto unfinished = log->LoadUnfinished();
  ASSERT_TRUE(unfinished.ok());
  EXPECT_EQ(unfinished->size(), static_cast<size_t>(kThreads * kPerThread));
}

TEST_F(GroupCommitTest, CountsFewerCommitsThanAppends) {
  auto log = Open();
  ASSERT_NE(log, nullptr);
  constexpr size_t kAppends = 400;
  Completions done(kAppends);
  {
    WriterBlocker blocker(*log);
    for (size_t i = 0; i < kAppends; ++i) {
      log->Append({Created(MakeTx("tx-" + std::to_string(i), 1))}, done.Track(i));
    }
  }
  ASSERT_TRUE(done.WaitAll());
  // The blocker had no records (no commit); everything queued behind it fit in one group.
  EXPECT_EQ(log->commits(), 1u);
  SqliteTxLog::Stats s = log->stats();
  EXPECT_EQ(s.commits, 1u);
  EXPECT_EQ(s.records, kAppends);
  EXPECT_EQ(s.appends, kAppends + 1);
}

// Lazy records wait (up to lazy_delay) for an urgent one and share its commit; the urgent one
// does not wait out the delay. With a delay of ten minutes, a writer that an urgent append
// failed to wake would fail WaitAll (a minute).
TEST_F(GroupCommitTest, LazyRecordsShareTheNextUrgentCommitWhichWaitsForNothing) {
  Completions done(3);  // outlives the log, whose Close may still complete appends
  auto log = Open(4096, std::chrono::minutes(10));
  ASSERT_NE(log, nullptr);
  log->Append({Created(MakeTx("tx-0", 1))}, done.Track(0), TxLog::Urgency::kLazy);
  log->Append({Created(MakeTx("tx-1", 1))}, done.Track(1), TxLog::Urgency::kLazy);
  EXPECT_EQ(log->commits(), 0u);
  // The writer is waiting for an urgent record (it counts the wait under the lock it releases
  // to wait), so the urgent append must wake it.
  ASSERT_TRUE(txc::testing::WaitFor([&] { return log->stats().lazy_waits >= 1; }));
  log->Append({Created(MakeTx("tx-2", 1))}, done.Track(2), TxLog::Urgency::kUrgent);
  ASSERT_TRUE(done.WaitAll());
  EXPECT_EQ(log->commits(), 1u);
  for (size_t i = 0; i < 3; ++i) EXPECT_TRUE(done.status(i).ok()) << i;
}

// Alone, lazy records are committed once their delay has passed.
TEST_F(GroupCommitTest, LazyRecordsAloneAreCommittedAfterTheirDelay) {
  Completions done(2);
  auto log = Open(4096, std::chrono::milliseconds(20));
  ASSERT_NE(log, nullptr);
  {
    WriterBlocker blocker(*log);  // both are queued before the writer looks
    log->Append({Created(MakeTx("tx-0", 1))}, done.Track(0), TxLog::Urgency::kLazy);
    log->Append({Created(MakeTx("tx-1", 1))}, done.Track(1), TxLog::Urgency::kLazy);
  }
  ASSERT_TRUE(done.WaitAll());
  EXPECT_EQ(log->commits(), 1u);
}

TEST_F(GroupCommitTest, RespectsMaxBatchWithoutSplittingABatch) {
  auto log = Open(/*max_batch=*/10);
  ASSERT_NE(log, nullptr);
  Completions done(10);
  {
    WriterBlocker blocker(*log);
    for (size_t i = 0; i < 9; ++i)
      log->Append(ThreeRecords("t" + std::to_string(i)), done.Track(i));
    // 25 records: larger than max_batch, committed whole and alone.
    std::vector<core::LogRecord> big;
    for (int i = 0; i < 25; ++i) big.push_back(Created(MakeTx("big" + std::to_string(i), 1)));
    log->Append(std::move(big), done.Track(9));
  }
  ASSERT_TRUE(done.WaitAll());
  for (size_t i = 0; i < 10; ++i) EXPECT_TRUE(done.status(i).ok());
  // Groups: 3+3+3 (a fourth would make 12 > 10), three times, then the 25 on its own.
  EXPECT_EQ(log->commits(), 4u);
  EXPECT_EQ(log->stats().records, 9u * 3 + 25);
}

TEST_F(GroupCommitTest, AFailedWriteFailsItsWholeGroupAndEveryLaterAppend) {
  auto log = Open();
  ASSERT_NE(log, nullptr);
  ASSERT_TRUE(AppendSync(*log, {Created(MakeTx("a", 1))}).ok());

  Completions done(3);
  {
    WriterBlocker blocker(*log);
    log->Append({Created(MakeTx("b", 1))}, done.Track(0));  // valid, but shares the group
    log->Append({Created(MakeTx("a", 1))}, done.Track(1));  // UNIQUE(id) violation
    log->Append({Created(MakeTx("c", 1))}, done.Track(2));
  }
  ASSERT_TRUE(done.WaitAll());
  for (size_t i = 0; i < 3; ++i) {
    EXPECT_EQ(done.status(i).code(), StatusCode::kDataLoss) << done.status(i).ToString();
  }
  EXPECT_NE(done.status(1).message().find("UNIQUE"), std::string::npos)
      << done.status(1).ToString();
  Status health = log->Health();
  EXPECT_EQ(health.code(), StatusCode::kDataLoss);
  EXPECT_NE(health.message().find("UNIQUE"), std::string::npos);

  EXPECT_EQ(AppendSync(*log, {Created(MakeTx("d", 1))}).code(), StatusCode::kDataLoss);
  EXPECT_EQ(log->commits(), 1u);

  // Nothing of the failed group reached the file; a reopened log is healthy again.
  log.reset();
  log = Open();
  ASSERT_NE(log, nullptr);
  EXPECT_TRUE(log->Health().ok());
  for (const char* id : {"b", "c", "d"}) {
    auto found = log->Find(id, false);
    ASSERT_TRUE(found.ok());
    EXPECT_FALSE(found->has_value()) << id;
  }
  auto a = log->Find("a", false);
  ASSERT_TRUE(a.ok());
  EXPECT_TRUE(a->has_value());
}

TEST_F(GroupCommitTest, CloseCompletesQueuedAppendsThenRefusesNewOnes) {
  auto log = Open();
  ASSERT_NE(log, nullptr);
  constexpr size_t kAppends = 50;
  Completions done(kAppends);
  auto blocker = std::make_unique<WriterBlocker>(*log);
  for (size_t i = 0; i < kAppends; ++i) {
    log->Append({Created(MakeTx("tx-" + std::to_string(i), 1))}, done.Track(i));
  }
  std::thread closer([&] { log->Close(); });
  blocker.reset();  // releases the writer; Close() waits for the queue to drain
  closer.join();
  EXPECT_EQ(done.total(), kAppends);
  for (size_t i = 0; i < kAppends; ++i) EXPECT_TRUE(done.status(i).ok());

  Status after = AppendSync(*log, {Created(MakeTx("late", 1))});
  EXPECT_EQ(after.code(), StatusCode::kUnavailable);
  auto found = log->Find("tx-49", false);  // reads still work after Close
  ASSERT_TRUE(found.ok());
  EXPECT_TRUE(found->has_value());
  log->Close();  // idempotent
}

TEST_F(GroupCommitTest, ReadsDuringWritesSeeOnlyCommittedData) {
  auto log = Open();
  ASSERT_NE(log, nullptr);
  Completions done(1);
  {
    WriterBlocker blocker(*log);
    log->Append({Created(MakeTx("queued", 1))}, done.Track(0));
    auto found = log->Find("queued", false);  // queued, not committed: invisible
    ASSERT_TRUE(found.ok());
    EXPECT_FALSE(found->has_value());
  }
  ASSERT_TRUE(done.WaitAll());
  auto found = log->Find("queued", false);
  ASSERT_TRUE(found.ok());
  EXPECT_TRUE(found->has_value());
}

}  // namespace
}  // namespace txc::log::test
