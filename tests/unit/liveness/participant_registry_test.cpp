#include "liveness/participant_registry.h"

#include <gtest/gtest.h>

#include <thread>
#include <vector>

#include "fake_clock.h"

namespace txc::liveness {
namespace {

using std::chrono::milliseconds;
using testing::FakeClock;

wire::Heartbeat Beat(const std::string& participant, const std::string& instance,
                     int interval_ms = 1000) {
  return wire::Heartbeat{participant, instance, interval_ms, false};
}

// "p-3".
std::string Id(const char* prefix, int n) { return prefix + std::to_string(n); }

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

size_t InstanceCount(const ParticipantRegistry& registry) {
  size_t n = 0;
  for (const auto& p : registry.Snapshot()) n += p.instances.size();
  return n;
}

// Heartbeats are unauthenticated, so what they can make the registry hold is bounded: a new
// instance finding it full makes room by dropping the instances that are not live; if every one
// is live, the newcomer is not tracked and the known ones keep their places.
TEST(ParticipantRegistry, TracksAtMostMaxInstancesDroppingTheNotLiveFirst) {
  FakeClock clock;
  ParticipantRegistry::Options options;
  options.max_instances = 3;
  std::vector<ParticipantRegistry::Overflow> reports;
  options.on_full = [&](const ParticipantRegistry::Overflow& o) { reports.push_back(o); };
  ParticipantRegistry registry(clock, options);
  registry.ConnectionChanged(true);
  clock.Advance(milliseconds(3000));
  registry.Heard(Beat("order", "order-1"));
  registry.Heard(Beat("order", "order-2"));
  registry.Heard(Beat("inventory", "inventory-1"));

  clock.Advance(milliseconds(100));
  registry.Heard(Beat("payments", "payments-1"));  // full, and all three live
  EXPECT_EQ(InstanceCount(registry), 3u);
  EXPECT_FALSE(registry.CheckLive({"payments"}).ok());
  EXPECT_TRUE(registry.CheckLive({"order", "inventory"}).ok());
  ASSERT_EQ(reports.size(), 1u) << "told at the first heartbeat not tracked";
  EXPECT_EQ(reports[0].dropped, 1u);
  EXPECT_EQ(reports[0].max_instances, 3u);
  EXPECT_EQ(reports[0].participant, "payments");
  EXPECT_EQ(reports[0].instance, "payments-1");

  registry.Heard(Beat("order", "order-1"));  // a known instance needs no room
  registry.Heard(Leaving("order", "order-2"));
  registry.Heard(Beat("payments", "payments-1"));  // the leaver's place
  EXPECT_TRUE(registry.CheckLive({"payments"}).ok());
  EXPECT_EQ(InstanceCount(registry), 3u);

  // inventory-1 falls silent past its window; the others keep heartbeating.
  clock.Advance(milliseconds(3500));
  registry.Heard(Beat("order", "order-1"));
  registry.Heard(Beat("payments", "payments-1"));
  registry.Heard(Beat("shipping", "shipping-1"));  // room is made by dropping inventory-1
  EXPECT_TRUE(registry.CheckLive({"order", "payments", "shipping"}).ok());
  const auto snapshot = registry.Snapshot();
  ASSERT_EQ(snapshot.size(), 3u);
  EXPECT_EQ(snapshot[0].name, "order");
  EXPECT_EQ(snapshot[1].name, "payments");
  EXPECT_EQ(snapshot[2].name, "shipping");
  EXPECT_EQ(reports.size(), 1u);
}

TEST(ParticipantRegistry, ReportsBeingFullAtOnceThenAtMostOncePerReportInterval) {
  FakeClock clock;
  ParticipantRegistry::Options options;
  options.max_instances = 1;
  options.full_report_every = milliseconds(60'000);
  std::vector<ParticipantRegistry::Overflow> reports;
  options.on_full = [&](const ParticipantRegistry::Overflow& o) { reports.push_back(o); };
  ParticipantRegistry registry(clock, options);
  registry.Heard(Beat("order", "order-1", 3'600'000));  // live for three hours
  registry.Heard(Beat("x", "x-1"));
  ASSERT_EQ(reports.size(), 1u);
  EXPECT_EQ(reports[0].dropped, 1u);
  for (int i = 2; i <= 5; ++i) registry.Heard(Beat("x", Id("x-", i)));
  clock.Advance(milliseconds(59'999));
  registry.Heard(Beat("x", "x-6"));
  EXPECT_EQ(reports.size(), 1u) << "within a minute of the last report";
  clock.Advance(milliseconds(1));
  registry.Heard(Beat("y", "y-1"));
  ASSERT_EQ(reports.size(), 2u);
  EXPECT_EQ(reports[1].dropped, 6u) << "x-2..x-6 and y-1";
  EXPECT_EQ(reports[1].participant, "y");
  EXPECT_EQ(reports[1].instance, "y-1");
  EXPECT_TRUE(registry.CheckLive({"order"}).ok());
  EXPECT_EQ(InstanceCount(registry), 1u);
}

TEST(ParticipantRegistry, AFloodOfNewInstancesNeverGrowsItPastTheLimit) {
  FakeClock clock;
  ParticipantRegistry::Options options;
  options.max_instances = 100;
  ParticipantRegistry registry(clock, options);
  registry.ConnectionChanged(true);
  clock.Advance(milliseconds(3000));
  registry.Heard(Beat("order", "order-1"));
  for (int i = 0; i < 20'000; ++i) {
    if (i % 1000 == 0) {
      clock.Advance(milliseconds(500));  // ten seconds in all: order-1 keeps heartbeating
      registry.Heard(Beat("order", "order-1"));
    }
    registry.Heard(Beat(Id("p", i % 500), Id("fake-", i), 3'600'000));
  }
  EXPECT_EQ(InstanceCount(registry), 100u);
  EXPECT_LE(registry.LiveInstances().size(), 100u);
  EXPECT_TRUE(registry.CheckLive({"order"}).ok()) << "a known instance keeps its place";
}

// Heartbeats arrive on the NATS thread while HTTP threads read; run under TSan/ASan to matter.
TEST(ParticipantRegistry, IsSafeToUseFromSeveralThreads) {
  Connected c;
  std::thread writer([&] {
    for (int i = 0; i < 2000; ++i) {
      c.registry.Heard(Beat(Id("p", i % 7), Id("i", i % 13)));
      if (i % 5 == 0) c.registry.Heard(Leaving(Id("p", i % 7), "i0"));
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
