// The termination protocol concludes from peers' states read over the network, then acts. A
// conclusion drawn from a view that went stale must not be carried out: the race the Spin model
// (model/three_phase.pml, -DUNGUARDED_ABORT) finds without this guard.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "in_doubt_resolver.h"
#include "temp_dir.h"
#include "wait_for.h"

namespace txc::sdk {
namespace {

using wire::Op;

wire::BranchRequest Req(Op op) {
  wire::BranchRequest r;
  r.gid = "g1";
  r.branch = 0;
  r.participant = "inventory";
  r.protocol = "3pc";
  r.op = op;
  r.participants = {"inventory", "order"};
  return r;
}

class InDoubtResolverTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(dir_.ok());
    auto store = BranchStore::Open(dir_.File("db"), std::chrono::milliseconds(1000));
    ASSERT_TRUE(store.ok()) << store.status().ToString();
    store_ = std::move(store).value();
  }
  std::string State() {
    auto lock = store_->Lock();
    auto r = store_->Find("g1", 0);
    return r.ok() && r->has_value() ? BranchStateName((*r)->state) : "none";
  }
  // A resolver whose coordinator is down and whose peer answers through `ask_peer`; the
  // pre_commits it sends peers go unanswered. Retries every 5 ms.
  std::unique_ptr<InDoubtResolver> ResolverAskingPeers(
      Dispatcher& dispatcher,
      std::function<std::optional<wire::PeerStateReply>(const std::string&, const std::string&)>
          ask_peer) {
    ResolverLink link;
    link.ask_coordinator = [](const std::string&) {
      return CoordinatorAnswer{CoordinatorAnswer::Kind::kDown, wire::Decision::kPending};
    };
    link.ask_peer = std::move(ask_peer);
    link.send = [](const wire::BranchRequest&) { return std::optional<wire::BranchReply>(); };
    return std::make_unique<InDoubtResolver>(
        InDoubtResolver::Options{"inventory", std::chrono::milliseconds(0),
                                 std::chrono::milliseconds(5)},
        store_.get(), &dispatcher, link, &counters_);
  }

  testing::TempDir dir_;  // outlives the store: members go in reverse order
  std::unique_ptr<BranchStore> store_;
  CounterSet counters_;
};

wire::PeerStateReply OrderSays(wire::PeerState state) { return {"g1", "order", {{1, state}}}; }

TEST_F(InDoubtResolverTest, AbortConcludedFromAStaleViewIsNotCarriedOut) {
  Dispatcher dispatcher("inventory", store_.get(), Handlers{}, &counters_);
  std::atomic<int> asked{0};
  auto resolver = ResolverAskingPeers(dispatcher, [&](const std::string&, const std::string&) {
    // The peer answers "uncertain"; by the time its answer is acted on, the peer, which held a
    // pre_commit, has pre-committed our branch (and may have committed itself).
    if (asked++ == 0) {
      EXPECT_EQ(dispatcher.Handle(Req(Op::kPreCommit)).outcome, wire::Outcome::kOk);
    }
    return std::optional<wire::PeerStateReply>(OrderSays(wire::PeerState::kUncertain));
  });
  resolver->Start();
  ASSERT_EQ(dispatcher.Handle(Req(Op::kCanCommit)).outcome, wire::Outcome::kOk);
  // Second round: it has seen the pre-committed branch and concluded pre_commit-then-commit,
  // whose pre_commit of the peer (link.send) goes unanswered.
  ASSERT_TRUE(testing::WaitFor([&] { return asked.load() >= 2; }));
  resolver->Stop();
  EXPECT_EQ(State(), "precommitted");
  EXPECT_EQ(counters_.terminated.load(), 0u);
}

TEST_F(InDoubtResolverTest, AbortConcludedFromAFreshViewIsCarriedOut) {
  Dispatcher dispatcher("inventory", store_.get(), Handlers{}, &counters_);
  auto resolver = ResolverAskingPeers(dispatcher, [](const std::string&, const std::string&) {
    return std::optional<wire::PeerStateReply>(OrderSays(wire::PeerState::kUncertain));
  });
  resolver->Start();
  ASSERT_EQ(dispatcher.Handle(Req(Op::kCanCommit)).outcome, wire::Outcome::kOk);
  ASSERT_TRUE(testing::WaitFor([&] { return State() == "aborted"; }));
  resolver->Stop();
  EXPECT_EQ(counters_.terminated.load(), 1u);
}

}  // namespace
}  // namespace txc::sdk
