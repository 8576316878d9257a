#include "liveness/participant_registry.h"

#include <gtest/gtest.h>

#include <thread>

#include "fake_clock.h"

namespace txc::liveness {
namespace {

using std::chrono::milliseconds;
using testing::FakeClock;

wire::Heartbeat Beat(const std::string& participant, const std::string& instance,
                     int interval_ms = 1000) {
  return wire::Heartbeat{participant, instance, interval_ms, false};
}

wire::Heartbeat Leaving(const std::string& participant, const std::string& instance) {
  return wire::Heartbeat{participant, instance, 1000, true};
}

// A registry connected to NATS long enough ago that the startup grace is over.
struct Connected {
  FakeClock clock;
  ParticipantRegistry registry{clock};
  Connected() {
    registry.ConnectionChanged(true);
    clock.Advance(milliseconds(3000));
  }
};

TEST(ParticipantRegistry, ListsParticipantsAndInstancesSortedWithLastSeenAndAge) {
  Connected c;
  c.registry.Heard(Beat("order", "order-b"));
  c.registry.Heard(Beat("inventory", "inventory-1", 250));
  const core::TimePoint order_a_seen = c.clock.Now() + milliseconds(100);
  c.clock.Advance(milliseconds(100));
  c.registry.Heard(Beat("order", "order-a"));
  c.clock.Advance(milliseconds(40));

  const auto snapshot = c.registry.Snapshot();
  ASSERT_EQ(snapshot.size(), 2u);
  EXPECT_EQ(snapshot[0].name, "inventory");
  EXPECT_EQ(snapshot[1].name, "order");
  EXPECT_TRUE(snapshot[1].live);
  ASSERT_EQ(snapshot[1].instances.size(), 2u);
  EXPECT_EQ(snapshot[1].instances[0].id, "order-a");
  EXPECT_EQ(snapshot[1].instances[0].last_seen, order_a_seen);
  EXPECT_EQ(snapshot[1].instances[0].age_ms, 40);
  EXPECT_EQ(snapshot[1].instances[1].id, "order-b");
  EXPECT_EQ(snapshot[1].instances[1].age_ms, 140);
  EXPECT_EQ(snapshot[0].instances[0].interval_ms, 250);
}

TEST(ParticipantRegistry, AnInstanceIsLiveForThreeOfItsOwnIntervals) {
  Connected c;
  c.registry.Heard(Beat("order", "order-1", 1000));
  c.registry.Heard(Beat("fast", "fast-1", 100));
  c.clock.Advance(milliseconds(300));
  EXPECT_TRUE(c.registry.CheckLive({"order", "fast"}).ok());
  c.clock.Advance(milliseconds(1));
  Status fast = c.registry.CheckLive({"order", "fast"});
  EXPECT_EQ(fast.code(), StatusCode::kFailedPrecondition);
  EXPECT_EQ(fast.message(),
            "participant \"fast\" has no live instance (no heartbeat within 300 ms)");
  c.clock.Advance(milliseconds(2699));
  EXPECT_TRUE(c.registry.CheckLive({"order"}).ok());
  c.clock.Advance(milliseconds(1));
  EXPECT_EQ(c.registry.CheckLive({"order"}).message(),
            "participant \"order\" has no live instance (no heartbeat within 3 s)");

  // Dead instances stay listed, marked not live, until forgotten.
  const auto snapshot = c.registry.Snapshot();
  ASSERT_EQ(snapshot.size(), 2u);
  EXPECT_FALSE(snapshot[1].live);
  EXPECT_FALSE(snapshot[1].instances[0].live);
  EXPECT_EQ(c.registry.LiveInstances(), (std::map<std::string, int>{{"fast", 0}, {"order", 0}}));
}

TEST(ParticipantRegistry, OneLiveInstanceIsEnough) {
  Connected c;
  c.registry.Heard(Beat("order", "order-1"));
  c.clock.Advance(milliseconds(2000));
  c.registry.Heard(Beat("order", "order-2"));
  c.clock.Advance(milliseconds(2000));  // order-1 is dead, order-2 is not
  EXPECT_TRUE(c.registry.CheckLive({"order"}).ok());
  const auto snapshot = c.registry.Snapshot();
  ASSERT_EQ(snapshot.size(), 1u);
  EXPECT_TRUE(snapshot[0].live);
  EXPECT_FALSE(snapshot[0].instances[0].live);
  EXPECT_TRUE(snapshot[0].instances[1].live);
  EXPECT_EQ(c.registry.LiveInstances(), (std::map<std::string, int>{{"order", 1}}));
}

TEST(ParticipantRegistry, AStrangerIsRefusedNamingTheDefaultWindow) {
  Connected c;
  c.registry.Heard(Beat("order", "order-1"));
  Status s = c.registry.CheckLive({"order", "payments", "nobody"});
  EXPECT_EQ(s.code(), StatusCode::kFailedPrecondition);
  EXPECT_EQ(s.message(), "participant \"payments\" has no live instance (no heartbeat within 3 s)");
}

TEST(ParticipantRegistry, ALeavingInstanceIsDroppedAtOnceAndItsParticipantWithTheLastOne) {
  Connected c;
  c.registry.Heard(Beat("order", "order-1"));
  c.registry.Heard(Beat("order", "order-2"));
  c.registry.Heard(Leaving("order", "order-1"));
  auto snapshot = c.registry.Snapshot();
  ASSERT_EQ(snapshot.size(), 1u);
  ASSERT_EQ(snapshot[0].instances.size(), 1u);
  EXPECT_EQ(snapshot[0].instances[0].id, "order-2");
  c.registry.Heard(Leaving("order", "order-2"));
  EXPECT_TRUE(c.registry.Snapshot().empty());
  EXPECT_FALSE(c.registry.CheckLive({"order"}).ok());
  c.registry.Heard(Leaving("never-heard", "x"));  // harmless
  EXPECT_TRUE(c.registry.Snapshot().empty());
}

TEST(ParticipantRegistry, ALateHeartbeatRevivesAnInstance) {
  Connected c;
  c.registry.Heard(Beat("order", "order-1"));
  c.clock.Advance(milliseconds(5000));
  EXPECT_FALSE(c.registry.CheckLive({"order"}).ok());
  c.registry.Heard(Beat("order", "order-1"));
  EXPECT_TRUE(c.registry.CheckLive({"order"}).ok());
}

TEST(ParticipantRegistry, LongDeadInstancesAreForgotten) {
  Connected c;
  c.registry.Heard(Beat("order", "order-1"));
  c.registry.Heard(Beat("slow", "slow-1", 3'600'000));  // live for 3 hours
  c.clock.Advance(milliseconds(10 * 60 * 1000));
  ASSERT_EQ(c.registry.Snapshot().size(), 2u);
  c.clock.Advance(milliseconds(1));
  auto snapshot = c.registry.Snapshot();
  ASSERT_EQ(snapshot.size(), 1u) << "order-1 was silent for longer than 10 minutes";
  EXPECT_EQ(snapshot[0].name, "slow");
  EXPECT_TRUE(snapshot[0].live) << "never forgotten while live";
  c.registry.Heard(Beat("other", "other-1"));  // a write also sweeps
  EXPECT_EQ(c.registry.LiveInstances(), (std::map<std::string, int>{{"other", 1}, {"slow", 1}}));
}

// Right after (re)connecting the coordinator has heard nobody: refusing then would refuse
// everything after every restart.
TEST(ParticipantRegistry, RefusesNothingUntilConnectedAndForAGracePeriodAfter) {
  FakeClock clock;
  ParticipantRegistry registry(clock);
  EXPECT_TRUE(registry.CheckLive({"payments"}).ok()) << "not connected: nothing is known";
  clock.Advance(milliseconds(60'000));
  EXPECT_TRUE(registry.CheckLive({"payments"}).ok());
  registry.ConnectionChanged(true);
  clock.Advance(milliseconds(2999));
  EXPECT_TRUE(registry.CheckLive({"payments"}).ok()) << "within the grace period";
  clock.Advance(milliseconds(1));
  EXPECT_FALSE(registry.CheckLive({"payments"}).ok());

  registry.ConnectionChanged(false);
  EXPECT_TRUE(registry.CheckLive({"payments"}).ok()) << "disconnected: nothing is known";
  clock.Advance(milliseconds(10'000));
  registry.ConnectionChanged(true);  // a reconnect starts a new grace period
  clock.Advance(milliseconds(1000));
  EXPECT_TRUE(registry.CheckLive({"payments"}).ok());
  clock.Advance(milliseconds(2000));
  EXPECT_FALSE(registry.CheckLive({"payments"}).ok());
}

TEST(ParticipantRegistry, TheGracePeriodAndWindowAreOptions) {
  FakeClock clock;
  ParticipantRegistry::Options options;
  options.window_factor = 2;
  options.startup_grace = milliseconds(500);
  ParticipantRegistry registry(clock, options);
  registry.ConnectionChanged(true);
  registry.Heard(Beat("order", "order-1", 1000));
  clock.Advance(milliseconds(2000));
  EXPECT_TRUE(registry.CheckLive({"order"}).ok());
  clock.Advance(milliseconds(1));
  EXPECT_EQ(registry.CheckLive({"order"}).message(),
            "participant \"order\" has no live instance (no heartbeat within 2 s)");
}

// Heartbeats arrive on the NATS thread while HTTP threads read; run under TSan/ASan to matter.
TEST(ParticipantRegistry, IsSafeToUseFromSeveralThreads) {
  Connected c;
  std::thread writer([&] {
    for (int i = 0; i < 2000; ++i) {
      c.registry.Heard(Beat("p" + std::to_string(i % 7), "i" + std::to_string(i % 13)));
      if (i % 5 == 0) c.registry.Heard(Leaving("p" + std::to_string(i % 7), "i0"));
    }
  });
  size_t seen = 0;
  for (int i = 0; i < 2000; ++i) {
    seen += c.registry.Snapshot().size();
    (void)c.registry.CheckLive({"p1", "p2"});
    (void)c.registry.LiveInstances();
  }
  writer.join();
  EXPECT_EQ(c.registry.Snapshot().size(), 7u);
  (void)seen;
}

}  // namespace
}  // namespace txc::liveness
