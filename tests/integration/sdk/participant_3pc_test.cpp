// The SDK's three-phase commit over a real nats-server: the barrier for can_commit, pre_commit
// and do_commit, and Skeen's termination protocol between two participants when the
// coordinator is down (FakeCoordinator serves no status subject: NATS answers "no responders").
#include <atomic>

#include "sdk_fixture.h"

namespace txc::testing {
namespace {

using std::chrono::milliseconds;
using wire::Decision;
using wire::Op;
using wire::Outcome;

// Branch 0 belongs to "order", branch 1 to "inventory".
const std::vector<std::string> kPeers = {"order", "inventory"};

wire::BranchRequest Req3(const std::string& gid, Op op, const std::string& participant) {
  wire::BranchRequest r =
      Req(gid, op, {{"sku", "widget"}}, participant, participant == kPeers[0] ? 0 : 1);
  r.protocol = "3pc";
  r.participants = kPeers;
  return r;
}

class ThreePhaseTest : public SdkTest {
 protected:
  Participant::Options Peer(const std::string& name) {
    Participant::Options o = Options(name);
    o.db_path = dir_ + "/" + name + ".db";
    o.in_doubt_after = milliseconds(150);
    o.resolve_interval = milliseconds(50);
    o.status_timeout = milliseconds(300);
    return o;
  }
  // Both participants vote yes on `gid`.
  void VoteBoth(const std::string& gid) {
    ASSERT_EQ(Send(Req3(gid, Op::kCanCommit, "order")), "ok");
    ASSERT_EQ(Send(Req3(gid, Op::kCanCommit, "inventory")), "ok");
  }
};

TEST_F(ThreePhaseTest, PhasesRunTheirHandlersOnceAndDuplicatesAreAcknowledged) {
  auto p = Make(Peer("inventory"));
  std::atomic<int> votes{0}, pre_commits{0}, commits{0};
  p->OnCanCommit([&](const BranchContext& ctx) {
    votes++;
    EXPECT_EQ(ctx.protocol, "3pc");
    Reserve(ctx, "hold");
    return HandlerResult::Ok();
  });
  p->OnPreCommit([&](const BranchContext&) {
    pre_commits++;
    return HandlerResult::Ok();
  });
  p->OnCommit([&](const BranchContext& ctx) {  // do_commit falls back to the commit handler
    commits++;
    EXPECT_EQ(ctx.op, Op::kDoCommit);
    return HandlerResult::Ok();
  });
  ASSERT_TRUE(p->Start().ok());

  for (Op op : {Op::kCanCommit, Op::kPreCommit, Op::kDoCommit}) {
    for (int attempt = 1; attempt <= 2; ++attempt) {
      auto r = Req3("g1", op, "inventory");
      r.attempt = attempt;
      EXPECT_EQ(Send(r), "ok") << wire::OpName(op) << " attempt " << attempt;
    }
  }
  EXPECT_EQ(State(*p, "g1", 1), "committed");
  EXPECT_EQ(Reservations(*p, "g1"), 1);
  EXPECT_EQ(votes.load(), 1);
  EXPECT_EQ(pre_commits.load(), 1);
  EXPECT_EQ(commits.load(), 1);
}

TEST_F(ThreePhaseTest, PreCommitNeedsAVoteAndIsRefusedAfterAnAbort) {
  auto p = Make(Peer("inventory"));
  ASSERT_TRUE(p->Start().ok());
  EXPECT_EQ(Send(Req3("g1", Op::kPreCommit, "inventory")), "error");  // never voted
  EXPECT_EQ(State(*p, "g1", 1), "none");

  ASSERT_EQ(Send(Req3("g2", Op::kCanCommit, "inventory")), "ok");
  ASSERT_EQ(Send(Req3("g2", Op::kAbort, "inventory")), "ok");
  EXPECT_EQ(Send(Req3("g2", Op::kPreCommit, "inventory")), "refused");
  EXPECT_EQ(Send(Req3("g2", Op::kDoCommit, "inventory")), "error");
  EXPECT_EQ(State(*p, "g2", 1), "aborted");
}

TEST_F(ThreePhaseTest, PeersAnswerStateQueriesWithEveryBranchTheyHold) {
  auto p = Make(Peer("inventory"));
  ASSERT_TRUE(p->Start().ok());
  ASSERT_EQ(Send(Req3("g1", Op::kCanCommit, "inventory")), "ok");
  FakeCoordinator asker(server_.url());
  auto body = wire::Encode(wire::PeerStateQuery{"g1", "order"});
  auto answer = asker.Request(wire::PeerStateSubject("inventory"), body);
  ASSERT_TRUE(answer.ok()) << answer.status().ToString();
  auto reply = wire::DecodePeerStateReply(*answer);
  ASSERT_TRUE(reply.ok()) << reply.status().ToString();
  EXPECT_EQ(reply->participant, "inventory");
  ASSERT_EQ(reply->branches.size(), 1u);
  EXPECT_EQ(reply->branches[0].branch, 1);
  EXPECT_EQ(reply->branches[0].state, wire::PeerState::kUncertain);

  auto unknown = asker.Request(wire::PeerStateSubject("inventory"),
                               wire::Encode(wire::PeerStateQuery{"g-unknown", "order"}));
  ASSERT_TRUE(unknown.ok());
  EXPECT_TRUE(wire::DecodePeerStateReply(*unknown)->branches.empty());
  EXPECT_EQ(State(*p, "g1", 1), "prepared");  // answering changed nothing
}

// The case that splits outcomes under the naive rule: the coordinator died after pre_commit
// reached only one participant. Through the termination protocol both commit.
TEST_F(ThreePhaseTest, CoordinatorDeadAfterPartialPreCommitBothCommit) {
  auto order = Make(Peer("order"));
  auto inventory = Make(Peer("inventory"));
  ASSERT_TRUE(order->Start().ok());
  ASSERT_TRUE(inventory->Start().ok());
  VoteBoth("g1");
  ASSERT_EQ(Send(Req3("g1", Op::kPreCommit, "order")), "ok");
  // No more messages: the coordinator is gone.
  ASSERT_TRUE(WaitFor([&] {
    return State(*order, "g1", 0) == "committed" && State(*inventory, "g1", 1) == "committed";
  })) << State(*order, "g1", 0)
      << " / " << State(*inventory, "g1", 1);
  EXPECT_GE(order->counters().peer_queries + inventory->counters().peer_queries, 1u);
  EXPECT_TRUE(WaitFor(
      [&] { return order->counters().terminated + inventory->counters().terminated >= 1; }));
}

TEST_F(ThreePhaseTest, CoordinatorDeadBeforeAnyPreCommitBothAbort) {
  auto order = Make(Peer("order"));
  auto inventory = Make(Peer("inventory"));
  ASSERT_TRUE(order->Start().ok());
  ASSERT_TRUE(inventory->Start().ok());
  VoteBoth("g1");
  ASSERT_TRUE(WaitFor([&] {
    return State(*order, "g1", 0) == "aborted" && State(*inventory, "g1", 1) == "aborted";
  })) << State(*order, "g1", 0)
      << " / " << State(*inventory, "g1", 1);
}

TEST_F(ThreePhaseTest, ALivingCoordinatorIsWaitedForAndPeersAreNotAsked) {
  ASSERT_TRUE(coordinator_->ServeStatus([](const std::string&) { return Decision::kPending; }));
  auto order = Make(Peer("order"));
  auto inventory = Make(Peer("inventory"));
  ASSERT_TRUE(order->Start().ok());
  ASSERT_TRUE(inventory->Start().ok());
  VoteBoth("g1");
  ASSERT_TRUE(WaitFor([&] { return coordinator_->status_queries("g1") >= 6; }));
  EXPECT_EQ(order->counters().peer_queries + inventory->counters().peer_queries, 0u);
  EXPECT_EQ(State(*order, "g1", 0), "prepared");

  ASSERT_TRUE(coordinator_->ServeStatus([](const std::string&) { return Decision::kCommit; }));
  ASSERT_TRUE(WaitFor([&] {
    return State(*order, "g1", 0) == "committed" && State(*inventory, "g1", 1) == "committed";
  }));
}

TEST_F(ThreePhaseTest, SilentPeerIsAskedAgainRatherThanGuessed) {
  // Inventory must go down before either peer starts the termination protocol (both alive and
  // uncertain would rightly abort together); a long in_doubt_after keeps that true on a slow
  // machine, and order still asks within the test's waits.
  Participant::Options order_options = Peer("order");
  order_options.in_doubt_after = milliseconds(1000);
  auto order = Make(order_options);
  {
    Participant::Options inventory_options = Peer("inventory");
    inventory_options.in_doubt_after = std::chrono::hours(1);
    auto inventory = Make(inventory_options);
    ASSERT_TRUE(order->Start().ok());
    ASSERT_TRUE(inventory->Start().ok());
    VoteBoth("g1");
  }  // inventory goes down in doubt
  const uint64_t before = order->counters().peer_queries;
  ASSERT_TRUE(WaitFor([&] { return order->counters().peer_queries >= before + 4; }));
  EXPECT_EQ(State(*order, "g1", 0), "prepared");

  // Inventory comes back, restarted in doubt: it will not apply the all-uncertain rule itself,
  // but it answers; order (which never went down) concludes abort and inventory adopts it.
  auto inventory = Make(Peer("inventory"));
  ASSERT_TRUE(inventory->Start().ok());
  ASSERT_TRUE(WaitFor([&] {
    return State(*order, "g1", 0) == "aborted" && State(*inventory, "g1", 1) == "aborted";
  })) << State(*order, "g1", 0)
      << " / " << State(*inventory, "g1", 1);
  // Counted just after the abort is committed.
  EXPECT_TRUE(WaitFor([&] { return inventory->counters().terminated == 1; }));
}

TEST_F(ThreePhaseTest, ParticipantsRestartedInDoubtNeverAbortAlone) {
  {
    // Their first life must end before either starts the termination protocol: two peers that
    // never went down would rightly abort together. A slow machine may take longer than the
    // usual in_doubt_after between the votes and the shutdown, so this life never gets there.
    Participant::Options order_options = Peer("order");
    Participant::Options inventory_options = Peer("inventory");
    order_options.in_doubt_after = inventory_options.in_doubt_after = std::chrono::hours(1);
    auto order = Make(order_options);
    auto inventory = Make(inventory_options);
    ASSERT_TRUE(order->Start().ok());
    ASSERT_TRUE(inventory->Start().ok());
    VoteBoth("g1");
  }  // both go down uncertain
  auto order = Make(Peer("order"));
  auto inventory = Make(Peer("inventory"));
  ASSERT_TRUE(order->Start().ok());
  ASSERT_TRUE(inventory->Start().ok());
  ASSERT_TRUE(WaitFor([&] {
    return order->counters().peer_queries >= 4 && inventory->counters().peer_queries >= 4;
  }));
  EXPECT_EQ(State(*order, "g1", 0), "prepared");
  EXPECT_EQ(State(*inventory, "g1", 1), "prepared");

  // Only the coordinator (or a peer that knows) can settle it.
  ASSERT_TRUE(coordinator_->ServeStatus([](const std::string&) { return Decision::kAbort; }));
  ASSERT_TRUE(WaitFor([&] {
    return State(*order, "g1", 0) == "aborted" && State(*inventory, "g1", 1) == "aborted";
  }));
}

}  // namespace
}  // namespace txc::testing
