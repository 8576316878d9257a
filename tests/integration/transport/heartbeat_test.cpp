// Heartbeats over a real nats-server: a Participant (the SDK) announces itself from Start to
// Stop and NatsTransport hands what it hears to its liveness handler; junk is ignored.
#include <gtest/gtest.h>
#include <nats/nats.h>
#include <stdlib.h>

#include <filesystem>
#include <mutex>
#include <vector>

#include "nats_server.h"
#include "transport/nats_transport.h"
#include "txc/participant.h"
#include "wait_for.h"

namespace txc::transport {
namespace {

using std::chrono::milliseconds;
using testing::WaitFor;

// What the liveness handlers saw.
class Heard {
 public:
  NatsTransport::LivenessHandlers Handlers() {
    return {[this](const wire::Heartbeat& h) {
              std::lock_guard lock(mu_);
              beats_.push_back(h);
            },
            [this](bool up) {
              std::lock_guard lock(mu_);
              connection_.push_back(up);
            }};
  }
  std::vector<wire::Heartbeat> beats() {
    std::lock_guard lock(mu_);
    return beats_;
  }
  std::vector<bool> connection() {
    std::lock_guard lock(mu_);
    return connection_;
  }

 private:
  std::mutex mu_;
  std::vector<wire::Heartbeat> beats_;
  std::vector<bool> connection_;
};

class HeartbeatTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(server_.Running());
    std::string tmpl = (std::filesystem::temp_directory_path() / "txc-hb-XXXXXX").string();
    ASSERT_NE(mkdtemp(tmpl.data()), nullptr);
    dir_ = tmpl;
    NatsTransport::Options options;
    options.url = server_.url();
    options.reconnect_wait = milliseconds(50);
    auto t = NatsTransport::Connect(options);
    ASSERT_TRUE(t.ok()) << t.status().ToString();
    transport_ = std::move(t).value();
    transport_->SetLivenessHandlers(heard_.Handlers());
  }
  void TearDown() override {
    transport_.reset();
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }

  std::unique_ptr<Participant> MakeParticipant(milliseconds interval) {
    Participant::Options o;
    o.nats_url = server_.url();
    o.name = "inventory";
    o.db_path = dir_ + "/inventory.db";
    o.heartbeat_interval = interval;
    auto p = Participant::Create(o);
    EXPECT_TRUE(p.ok()) << p.status().ToString();
    return p.ok() ? std::move(p).value() : nullptr;
  }

  testing::NatsServer server_;
  std::string dir_;
  Heard heard_;
  std::unique_ptr<NatsTransport> transport_;
};

TEST_F(HeartbeatTest, AParticipantHeartbeatsFromStartToStopAndSaysGoodbye) {
  auto p = MakeParticipant(milliseconds(50));
  ASSERT_TRUE(p);
  const std::string id = p->instance_id();
  EXPECT_EQ(id.rfind("inventory-", 0), 0u) << id;
  EXPECT_EQ(id.size(), std::string("inventory-").size() + 16);
  EXPECT_TRUE(wire::IsValidInstanceId(id));
  EXPECT_TRUE(heard_.beats().empty()) << "nothing before Start";

  ASSERT_TRUE(p->Start().ok());
  // The first one goes out with Start's round trip, then one every interval.
  ASSERT_TRUE(WaitFor([&] { return heard_.beats().size() >= 5; }, std::chrono::seconds(5)));
  for (const auto& h : heard_.beats()) {
    EXPECT_EQ(h.participant, "inventory");
    EXPECT_EQ(h.instance, id);
    EXPECT_EQ(h.interval_ms, 50);
    EXPECT_FALSE(h.leaving);
  }
  p->Stop();
  ASSERT_TRUE(WaitFor([&] { return heard_.beats().back().leaving; }));
  const size_t after_stop = heard_.beats().size();
  // A second process of the same service is another instance.
  auto q = MakeParticipant(milliseconds(1000));
  ASSERT_TRUE(q);
  EXPECT_NE(q->instance_id(), id);
  ASSERT_TRUE(q->Start().ok());
  ASSERT_TRUE(WaitFor([&] { return heard_.beats().size() > after_stop; }));
  for (size_t i = after_stop; i < heard_.beats().size(); ++i) {
    EXPECT_EQ(heard_.beats()[i].instance, q->instance_id()) << "nothing from a stopped one";
  }
}

TEST_F(HeartbeatTest, TheIntervalMustBePositiveAndAtMostAnHour) {
  for (milliseconds bad : {milliseconds(0), milliseconds(-5), milliseconds(3'600'001)}) {
    Participant::Options o;
    o.name = "inventory";
    o.db_path = dir_ + "/inventory.db";
    o.heartbeat_interval = bad;
    EXPECT_EQ(Participant::Create(o).status().code(), StatusCode::kInvalidArgument);
  }
}

TEST_F(HeartbeatTest, MalformedOrMisaddressedHeartbeatsAreIgnored) {
  natsConnection* nc = nullptr;
  ASSERT_EQ(natsConnection_ConnectTo(&nc, server_.url().c_str()), NATS_OK);
  const wire::Heartbeat good{"inventory", "inventory-1", 1000, false};
  for (const auto& [subject, body] : std::vector<std::pair<std::string, std::string>>{
           {"txc.heartbeat.inventory", "not json"},
           {"txc.heartbeat.inventory", R"({"participant":"inventory"})"},
           {"txc.heartbeat.inventory", std::string(200, '[')},
           {"txc.heartbeat.order", wire::Encode(good)},  // names another participant
           {"txc.heartbeat.inventory", wire::Encode(good)},
       }) {
    ASSERT_EQ(natsConnection_PublishString(nc, subject.c_str(), body.c_str()), NATS_OK);
  }
  ASSERT_EQ(natsConnection_Flush(nc), NATS_OK);
  natsConnection_Destroy(nc);
  // Messages on one subscription are delivered in order: once the good one is here, the
  // others have been seen and dropped.
  ASSERT_TRUE(WaitFor([&] { return !heard_.beats().empty(); }));
  ASSERT_EQ(heard_.beats().size(), 1u);
  EXPECT_EQ(heard_.beats()[0].instance, "inventory-1");
}

TEST_F(HeartbeatTest, ReportsTheConnectionGoingDownAndComingBack) {
  server_.Stop();
  ASSERT_TRUE(WaitFor([&] { return !heard_.connection().empty(); }));
  EXPECT_EQ(heard_.connection(), std::vector<bool>{false});
  ASSERT_TRUE(server_.Start());
  ASSERT_TRUE(WaitFor([&] { return heard_.connection().size() == 2; }));
  EXPECT_EQ(heard_.connection(), (std::vector<bool>{false, true}));
}

}  // namespace
}  // namespace txc::transport
