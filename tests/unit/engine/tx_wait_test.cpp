#include "engine/tx_wait.h"

#include <gtest/gtest.h>

#include <chrono>
#include <optional>
#include <thread>

namespace txc::engine {
namespace {

using Clock = TxWait::Clock;
using std::chrono::milliseconds;
using std::chrono::seconds;

BeginOutcome Started(const std::string& id) {
  BeginOutcome o;
  o.tx.id = id;
  return o;
}

core::Transaction Ended(const std::string& id) {
  core::Transaction tx;
  tx.id = id;
  tx.state = core::TxState::kCommitted;
  return tx;
}

TEST(TxWaitTest, AStartIsEnoughWhenTheEndIsNotWanted) {
  TxWait w(/*want_end=*/false);
  std::thread engine([&] { w.Begun(Started("t1")); });
  const auto t0 = Clock::now();
  TxWait::Arrived a = w.Wait(t0 + seconds(30), t0 + seconds(30));
  engine.join();
  ASSERT_TRUE(a.begun.has_value());
  ASSERT_TRUE(a.begun->ok());
  EXPECT_EQ((*a.begun)->tx.id, "t1");
  EXPECT_FALSE(a.ended);
  EXPECT_LT(Clock::now() - t0, seconds(10));
}

TEST(TxWaitTest, WaitsForTheEndAfterTheStartWhenAskedTo) {
  TxWait w(/*want_end=*/true);
  std::thread engine([&] {
    w.Begun(Started("t1"));
    w.Ended(Ended("t1"));
  });
  const auto t0 = Clock::now();
  TxWait::Arrived a = w.Wait(t0 + seconds(30), t0 + seconds(30));
  engine.join();
  ASSERT_TRUE(a.begun.has_value());
  ASSERT_TRUE(a.ended);
  ASSERT_TRUE(a.end.has_value());
  EXPECT_EQ(a.end->state, core::TxState::kCommitted);
  EXPECT_LT(Clock::now() - t0, seconds(10));
}

TEST(TxWaitTest, TheEndWaitRunsOutAtItsDeadlineWithTheStartKept) {
  TxWait w(/*want_end=*/true);
  w.Begun(Started("t1"));
  const auto t0 = Clock::now();
  TxWait::Arrived a = w.Wait(t0 + seconds(30), t0 + milliseconds(20));
  EXPECT_GE(Clock::now() - t0, milliseconds(20));
  ASSERT_TRUE(a.begun.has_value());
  EXPECT_FALSE(a.ended);
}

TEST(TxWaitTest, AFailedStartEndsTheWaitAtOnce) {
  TxWait w(/*want_end=*/true);
  std::thread engine([&] { w.Begun(Status::Unavailable("log poisoned")); });
  const auto t0 = Clock::now();
  TxWait::Arrived a = w.Wait(t0 + seconds(30), t0 + seconds(30));
  engine.join();
  ASSERT_TRUE(a.begun.has_value());
  EXPECT_FALSE(a.begun->ok());
  EXPECT_LT(Clock::now() - t0, seconds(10));
}

TEST(TxWaitTest, AStartThatNeverComesRunsOutAtTheStartDeadline) {
  TxWait w(/*want_end=*/false);
  const auto t0 = Clock::now();
  TxWait::Arrived a = w.Wait(t0 + milliseconds(20), t0 + seconds(30));
  EXPECT_GE(Clock::now() - t0, milliseconds(20));
  EXPECT_FALSE(a.begun.has_value());
}

TEST(TxWaitTest, StopDoesNotCutTheWaitForTheStart) {
  TxWait w(/*want_end=*/true);
  w.Stop();
  const auto t0 = Clock::now();
  TxWait::Arrived a = w.Wait(t0 + milliseconds(20), t0 + seconds(30));
  // Stopped before it began waiting, it still waited for the start until its deadline.
  EXPECT_GE(Clock::now() - t0, milliseconds(20));
  EXPECT_FALSE(a.begun.has_value());
}

TEST(TxWaitTest, StopEndsTheWaitForTheEndOnceTheStartIsKnown) {
  TxWait w(/*want_end=*/true);
  w.Stop();
  std::thread engine([&] { w.Begun(Started("t1")); });
  const auto t0 = Clock::now();
  TxWait::Arrived a = w.Wait(t0 + seconds(30), t0 + seconds(30));
  engine.join();
  ASSERT_TRUE(a.begun.has_value());
  EXPECT_FALSE(a.ended);
  EXPECT_LT(Clock::now() - t0, seconds(10));
}

TEST(TxWaitTest, AStartAfterTheEndDeadlineIsNotWaitedOutToTheStartDeadline) {
  TxWait w(/*want_end=*/true);
  const auto t0 = Clock::now();
  std::thread engine([&] {
    // Not synchronisation: the case under test is a start that arrives after the end's deadline.
    std::this_thread::sleep_until(t0 + milliseconds(20));
    w.Begun(Started("t1"));
  });
  TxWait::Arrived a = w.Wait(t0 + seconds(30), t0 + milliseconds(10));
  engine.join();
  EXPECT_LT(Clock::now() - t0, seconds(10));
  ASSERT_TRUE(a.begun.has_value());
  EXPECT_FALSE(a.ended);
}

TEST(TxWaitTest, CallbacksAfterTheWaitReturnedAreDropped) {
  TxWait w(/*want_end=*/true);
  w.Begun(Started("t1"));
  const auto t0 = Clock::now();
  EXPECT_FALSE(w.Wait(t0, t0).ended);
  w.Ended(Ended("t1"));  // the engine finishing after the client gave up
  w.Begun(Started("t1"));
  TxWait::Arrived again = w.Wait(t0, t0);
  EXPECT_FALSE(again.begun.has_value());
  EXPECT_FALSE(again.ended);
}

TEST(WaitSetTest, StopAllEndsEveryRegisteredWaitForAnEnd) {
  WaitSet set;
  TxWait a(/*want_end=*/true), b(/*want_end=*/true), c(/*want_end=*/true);
  a.Begun(Started("a"));
  b.Begun(Started("b"));
  c.Begun(Started("c"));
  TxWait d(/*want_end=*/true);
  std::optional<WaitSet::Entry> ea(std::in_place, set, a);
  WaitSet::Entry eb(set, b);
  std::optional<WaitSet::Entry> ed(std::in_place, set, d);
  WaitSet::Entry ec(set, c);
  ea.reset();  // the list's tail
  ed.reset();  // and a middle one: the others stay reachable
  std::thread stopper([&] { set.StopAll(); });
  const auto t0 = Clock::now();
  EXPECT_FALSE(b.Wait(t0 + seconds(30), t0 + seconds(30)).ended);
  EXPECT_FALSE(c.Wait(t0 + seconds(30), t0 + seconds(30)).ended);
  stopper.join();
  EXPECT_LT(Clock::now() - t0, seconds(10));
}

TEST(WaitSetTest, AWaitAddedAfterStopAllIsStoppedAtOnce) {
  WaitSet set;
  set.StopAll();
  TxWait w(/*want_end=*/true);
  w.Begun(Started("t1"));
  WaitSet::Entry entry(set, w);
  const auto t0 = Clock::now();
  EXPECT_FALSE(w.Wait(t0 + seconds(30), t0 + seconds(30)).ended);
  EXPECT_LT(Clock::now() - t0, seconds(10));
}

}  // namespace
}  // namespace txc::engine
