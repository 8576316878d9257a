// AsyncBeginWaits: each BeginAsync is answered exactly once, by whoever can: the engine's
// callbacks when they have the answer, the class's own thread (through the log) when they do
// not, in time, or at shutdown.
#include "engine/async_begin_waits.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "wait_for.h"

namespace txc::engine {
namespace {

using Clock = AsyncBeginWaits::Clock;
using std::chrono::milliseconds;
using std::chrono::seconds;
using testing::WaitFor;

BeginOutcome Started(const std::string& id, bool created = true) {
  BeginOutcome o;
  o.tx.id = id;
  o.tx.state = core::TxState::kPreparing;
  o.created = created;
  return o;
}

core::Transaction InState(const std::string& id, core::TxState state) {
  core::Transaction tx;
  tx.id = id;
  tx.state = state;
  return tx;
}

// What one wait was answered, and on which thread.
struct Answers {
  std::mutex mu;
  std::vector<Result<api::BeginResult>> got;
  std::vector<std::thread::id> threads;

  AsyncBeginWaits::Done Done() {
    return [this](Result<api::BeginResult> r) {
      std::lock_guard lock(mu);
      got.push_back(std::move(r));
      threads.push_back(std::this_thread::get_id());
    };
  }
  size_t count() {
    std::lock_guard lock(mu);
    return got.size();
  }
  Result<api::BeginResult> only() {
    std::lock_guard lock(mu);
    EXPECT_EQ(got.size(), 1u);
    return got.empty() ? Result<api::BeginResult>(Status::Internal("none")) : got.front();
  }
};

class AsyncBeginWaitsTest : public ::testing::Test {
 protected:
  std::atomic<int> lookups_{0};
  std::atomic<int> flushes_{0};
  const Clock::time_point later_ = Clock::now() + seconds(60);
  // The log says every transaction is committed; counts its reads and the flushes after.
  AsyncBeginWaits waits_{[this](const std::vector<std::string>& ids) {
                           std::vector<Result<core::Transaction>> out;
                           for (const auto& id : ids) {
                             lookups_++;
                             out.push_back(InState(id, core::TxState::kCommitted));
                           }
                           return out;
                         },
                         [this] { flushes_++; }};
};

TEST_F(AsyncBeginWaitsTest, TheStartAloneIsAnsweredWhereItArrives) {
  Answers a;
  auto w = waits_.Add(a.Done(), /*want_end=*/false, later_, later_);
  EXPECT_EQ(a.count(), 0u);
  waits_.Begun(w, Started("t1", /*created=*/false));
  auto r = a.only();
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->tx.id, "t1");
  EXPECT_FALSE(r->created);
  EXPECT_EQ(a.threads[0], std::this_thread::get_id());
  EXPECT_EQ(waits_.open(), 0u);
  EXPECT_EQ(lookups_, 0);
}

TEST_F(AsyncBeginWaitsTest, AWaitForTheEndIsAnsweredWithTheEnd) {
  Answers a;
  auto w = waits_.Add(a.Done(), /*want_end=*/true, later_, later_);
  waits_.Begun(w, Started("t1"));
  EXPECT_EQ(a.count(), 0u);
  waits_.Ended(w, InState("t1", core::TxState::kAborted));
  auto r = a.only();
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->tx.state, core::TxState::kAborted);
  EXPECT_TRUE(r->created);
  EXPECT_EQ(lookups_, 0);
}

TEST_F(AsyncBeginWaitsTest, AnEndBeforeTheStartWaitsForTheStart) {
  // A replay of a decided transaction: the engine answers the watcher before the start.
  Answers a;
  auto w = waits_.Add(a.Done(), /*want_end=*/true, later_, later_);
  waits_.Ended(w, InState("t1", core::TxState::kCommitting));
  EXPECT_EQ(a.count(), 0u);
  waits_.Begun(w, Started("t1", /*created=*/false));
  auto r = a.only();
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->tx.state, core::TxState::kCommitting);
  EXPECT_FALSE(r->created);
}

TEST_F(AsyncBeginWaitsTest, AFailedStartIsTheAnswerAndNothingWaitsForAnEnd) {
  Answers a;
  auto w = waits_.Add(a.Done(), /*want_end=*/true, later_, later_);
  waits_.Begun(w, Status::AlreadyExists("Idempotency-Key 'k' was used for a different request"));
  auto r = a.only();
  EXPECT_EQ(r.status().code(), StatusCode::kAlreadyExists);
  waits_.Ended(w, InState("t1", core::TxState::kCommitted));  // ignored
  EXPECT_EQ(a.count(), 1u);
}

TEST_F(AsyncBeginWaitsTest, AnEndTheEngineDoesNotHaveIsReadFromTheLogOnItsThread) {
  // Replay of a transaction that finished before: the engine's watcher gets nullopt.
  Answers a;
  auto w = waits_.Add(a.Done(), /*want_end=*/true, later_, later_);
  waits_.Begun(w, Started("t1", /*created=*/false));
  waits_.Ended(w, std::nullopt);
  ASSERT_TRUE(WaitFor([&] { return a.count() == 1; }));
  auto r = a.only();
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->tx.state, core::TxState::kCommitted);  // what the log says
  EXPECT_NE(a.threads[0], std::this_thread::get_id());
  EXPECT_EQ(lookups_, 1);
  EXPECT_TRUE(WaitFor([&] { return flushes_ >= 1; }));
}

TEST_F(AsyncBeginWaitsTest, AWaitThatRunsOutIsAnsweredWithTheStateThenAndOnlyOnce) {
  Answers a;
  auto w = waits_.Add(a.Done(), /*want_end=*/true, later_, Clock::now() + milliseconds(20));
  waits_.Begun(w, Started("t1"));
  ASSERT_TRUE(WaitFor([&] { return a.count() == 1; }));
  EXPECT_EQ(lookups_, 1);
  waits_.Ended(w, InState("t1", core::TxState::kAborted));  // too late: already answered
  EXPECT_EQ(a.count(), 1u);
  EXPECT_EQ(waits_.open(), 0u);
}

// The engine calls an end watcher with the end; it may keep one long after its wait ran out,
// and drops it only once the wait is gone (WatcherList), so the watcher must not hold the wait.
TEST_F(AsyncBeginWaitsTest, AnEndWatcherAnswersAnOpenWaitAndDoesNotKeepOneThatRanOut) {
  Answers open;
  int after = 0;
  auto w = waits_.Add(open.Done(), /*want_end=*/true, later_, later_);
  Engine::Watcher at_end = waits_.EndWatcher(w, [&after] { ++after; });
  waits_.Begun(w, Started("t1"));
  at_end(InState("t1", core::TxState::kCommitted));
  auto r = open.only();
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->tx.state, core::TxState::kCommitted);
  EXPECT_EQ(after, 1);

  Answers ran_out;
  auto v = waits_.Add(ran_out.Done(), /*want_end=*/true, later_, Clock::now() + milliseconds(20));
  Engine::Watcher late = waits_.EndWatcher(v, [&after] { ++after; });
  waits_.Begun(v, Started("t2"));
  ASSERT_TRUE(WaitFor([&] { return ran_out.count() == 1; }));
  const std::weak_ptr<const void> probe = v;
  v.reset();
  EXPECT_TRUE(WaitFor([&] { return probe.expired(); })) << "the end watcher keeps the wait";
  late(InState("t2", core::TxState::kCommitted));  // its end, long after
  EXPECT_EQ(ran_out.count(), 1u);
  EXPECT_EQ(after, 1);
}

TEST_F(AsyncBeginWaitsTest, AStartThatArrivesAfterTheEndsDeadlineIsAnsweredAtOnce) {
  Answers a;
  auto w = waits_.Add(a.Done(), /*want_end=*/true, later_, Clock::now());
  waits_.Begun(w, Started("t1"));
  ASSERT_TRUE(WaitFor([&] { return a.count() == 1; }));
  EXPECT_EQ(lookups_, 1);
}

TEST_F(AsyncBeginWaitsTest, AStartNotLoggedInTimeIsUnavailable) {
  Answers a;
  auto w = waits_.Add(a.Done(), /*want_end=*/false, Clock::now() + milliseconds(20), later_);
  ASSERT_TRUE(WaitFor([&] { return a.count() == 1; }));
  EXPECT_EQ(a.only().status().code(), StatusCode::kUnavailable);
  waits_.Begun(w, Started("t1"));  // late: ignored
  EXPECT_EQ(a.count(), 1u);
  EXPECT_EQ(lookups_, 0);
}

TEST_F(AsyncBeginWaitsTest, StopAllAnswersEveryWaitForAnEndFromTheLogAndLaterOnesAtOnce) {
  Answers waiting, only_start, later;
  auto w1 = waits_.Add(waiting.Done(), /*want_end=*/true, later_, later_);
  waits_.Begun(w1, Started("t1"));
  auto w2 = waits_.Add(only_start.Done(), /*want_end=*/false, later_, later_);
  auto w3 = waits_.Add(later.Done(), /*want_end=*/true, later_, later_);
  waits_.StopAll();
  ASSERT_TRUE(WaitFor([&] { return waiting.count() == 1; }));
  EXPECT_EQ(waiting.only()->tx.state, core::TxState::kCommitted);
  // A start still being logged is answered when it is, as without a shutdown.
  EXPECT_EQ(only_start.count(), 0u);
  waits_.Begun(w2, Started("t2"));
  EXPECT_EQ(only_start.count(), 1u);
  // A wait for an end whose start comes after the shutdown does not wait for the end.
  waits_.Begun(w3, Started("t3"));
  ASSERT_TRUE(WaitFor([&] { return later.count() == 1; }));
  EXPECT_EQ(later.only()->tx.id, "t3");
}

TEST_F(AsyncBeginWaitsTest, StopAnswersWhatIsLeftExactlyOnce) {
  Answers never_logged, running;
  waits_.Add(never_logged.Done(), /*want_end=*/false, later_, later_);
  auto w = waits_.Add(running.Done(), /*want_end=*/true, later_, later_);
  waits_.Begun(w, Started("t1"));
  waits_.Stop();
  EXPECT_EQ(never_logged.only().status().code(), StatusCode::kUnavailable);
  EXPECT_EQ(running.only()->tx.state, core::TxState::kCommitted);
  EXPECT_EQ(waits_.open(), 0u);
  waits_.Stop();  // idempotent
}

TEST_F(AsyncBeginWaitsTest, WhatItsThreadAnswersIsFlushedEvenWithoutALookup) {
  Answers a;
  waits_.Add(a.Done(), /*want_end=*/false, Clock::now() + milliseconds(20), later_);
  ASSERT_TRUE(WaitFor([&] { return a.count() == 1; }));
  EXPECT_TRUE(WaitFor([&] { return flushes_ >= 1; }));
}

TEST(AsyncBeginWaitsLimits, BeyondTheLimitAWaitIsAnsweredAtOnceAndNothingStarts) {
  Answers first, second, third;  // before `waits`, which may still answer them as it goes
  AsyncBeginWaits waits(
      [](const std::vector<std::string>&) { return std::vector<Result<core::Transaction>>{}; },
      nullptr, /*max_open=*/1);
  const auto later = Clock::now() + seconds(60);
  auto w1 = waits.Add(first.Done(), /*want_end=*/false, later, later);
  ASSERT_NE(w1, nullptr);
  EXPECT_EQ(waits.Add(second.Done(), /*want_end=*/false, later, later), nullptr);
  EXPECT_EQ(second.only().status().code(), StatusCode::kUnavailable);
  waits.Begun(w1, Started("t1"));
  EXPECT_TRUE(first.only().ok());
  auto w3 = waits.Add(third.Done(), /*want_end=*/false, later, later);  // room again
  ASSERT_NE(w3, nullptr);
  waits.Begun(w3, Started("t3"));
  EXPECT_TRUE(third.only().ok());
}

TEST(AsyncBeginWaitsLookups, AFailedLookupAnswersWithTheStartAsItWas) {
  Answers a;
  AsyncBeginWaits waits(
      [](const std::vector<std::string>& ids) {
        return std::vector<Result<core::Transaction>>(ids.size(),
                                                      Status::Unavailable("log not readable"));
      },
      nullptr);
  auto w = waits.Add(a.Done(), /*want_end=*/true, Clock::now() + seconds(60), Clock::now());
  waits.Begun(w, Started("t1"));
  ASSERT_TRUE(WaitFor([&] { return a.count() == 1; }));
  auto r = a.only();
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->tx.id, "t1");
  EXPECT_EQ(r->tx.state, core::TxState::kPreparing);
}

TEST_F(AsyncBeginWaitsTest, AwaitStartsReturnsOnceEveryStartIsKnown) {
  Answers a, b;
  auto w1 = waits_.Add(a.Done(), /*want_end=*/true, later_, later_);
  auto w2 = waits_.Add(b.Done(), /*want_end=*/false, later_, later_);
  std::atomic<bool> returned{false};
  std::thread stopping([&] {
    waits_.AwaitStarts(Clock::now() + seconds(60));
    returned = true;
  });
  waits_.Begun(w1, Started("t1"));
  EXPECT_FALSE(returned.load());  // w2's start is still being logged
  waits_.Begun(w2, Status::Unavailable("the transaction log cannot be written"));
  stopping.join();
  EXPECT_TRUE(returned.load());
  EXPECT_EQ(a.count(), 0u);  // started, its end still awaited
  // And with nothing being started, it returns at once.
  waits_.AwaitStarts(Clock::now() + seconds(60));
  waits_.Ended(w1, InState("t1", core::TxState::kCommitted));  // `a` must not outlive its answer
  EXPECT_EQ(a.count(), 1u);
}

TEST_F(AsyncBeginWaitsTest, ManyWaitsFromManyThreadsAreEachAnsweredOnce) {
  constexpr int kThreads = 4;
  constexpr int kEach = 500;
  std::vector<Answers> answers(kThreads * kEach);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kEach; ++i) {
        const int n = t * kEach + i;
        const std::string id = "t" + std::to_string(n);
        // Every third one runs out at once and is read from the log; the rest end normally.
        const auto ended_by = n % 3 == 0 ? Clock::now() : later_;
        auto w = waits_.Add(answers[n].Done(), /*want_end=*/true, later_, ended_by);
        waits_.Begun(w, Started(id));
        waits_.Ended(w, InState(id, core::TxState::kAborted));
      }
    });
  }
  for (auto& t : threads) t.join();
  // Each answer is given just after its wait leaves the open ones: wait for the answers.
  for (auto& a : answers) ASSERT_TRUE(WaitFor([&] { return a.count() >= 1; }));
  EXPECT_EQ(waits_.open(), 0u);
  for (int n = 0; n < kThreads * kEach; ++n) {
    auto r = answers[n].only();
    ASSERT_TRUE(r.ok());
    // The ones that ran out were read from the log; the others got their end.
    EXPECT_EQ(r->tx.state, n % 3 == 0 ? core::TxState::kCommitted : core::TxState::kAborted) << n;
  }
}

}  // namespace
}  // namespace txc::engine
