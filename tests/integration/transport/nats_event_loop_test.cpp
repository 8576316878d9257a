// NatsEventLoop against a real nats-server: what a publisher defers is written by its Flush, what
// nobody flushes is written by the loop, a batch larger than the socket takes at once still
// arrives whole, and the loop follows the connection through a server restart.
#include "nats_event_loop.h"

#include <gtest/gtest.h>
#include <nats/nats.h>

#include <atomic>
#include <chrono>
#include <string>

#include "nats_server.h"
#include "wait_for.h"

namespace txc {
namespace {

using testing::NatsServer;
using testing::WaitFor;

// A plain (threaded) connection counting what arrives on "evloop.test".
class Counter {
 public:
  explicit Counter(const std::string& url) {
    natsConnection_ConnectTo(&nc_, url.c_str());
    natsConnection_Subscribe(&sub_, nc_, "evloop.test", &OnMsg, this);
    natsSubscription_SetPendingLimits(sub_, -1, -1);
    natsConnection_Flush(nc_);
  }
  ~Counter() {
    natsSubscription_Destroy(sub_);
    natsConnection_Destroy(nc_);
  }
  int64_t count() const { return count_.load(); }
  int64_t bytes() const { return bytes_.load(); }

 private:
  static void OnMsg(natsConnection*, natsSubscription*, natsMsg* msg, void* closure) {
    auto* self = static_cast<Counter*>(closure);
    self->bytes_ += natsMsg_GetDataLength(msg);
    self->count_++;
    natsMsg_Destroy(msg);
  }
  natsConnection* nc_ = nullptr;
  natsSubscription* sub_ = nullptr;
  std::atomic<int64_t> count_{0};
  std::atomic<int64_t> bytes_{0};
};

class NatsEventLoopTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(server_.Running());
    natsOptions* opts = nullptr;
    ASSERT_EQ(natsOptions_Create(&opts), NATS_OK);
    natsOptions_SetURL(opts, server_.url().c_str());
    natsOptions_SetMaxReconnect(opts, -1);
    natsOptions_SetReconnectWait(opts, 50);
    ASSERT_EQ(loop_.Configure(opts), NATS_OK);
    ASSERT_EQ(natsConnection_Connect(&nc_, opts), NATS_OK);
    natsOptions_Destroy(opts);
  }
  void TearDown() override {
    natsConnection_Close(nc_);
    loop_.Stop();
    natsConnection_Destroy(nc_);
  }
  natsStatus Publish(const std::string& body) {
    return natsConnection_PublishString(nc_, "evloop.test", body.c_str());
  }

  NatsServer server_;
  NatsEventLoop loop_;
  natsConnection* nc_ = nullptr;
};

TEST_F(NatsEventLoopTest, ADeferredBatchIsWrittenByItsFlush) {
  Counter counter(server_.url());
  {
    NatsEventLoop::DeferredFlush defer(loop_);
    for (int i = 0; i < 100; ++i) ASSERT_EQ(Publish("m" + std::to_string(i)), NATS_OK);
  }
  loop_.Flush(nc_);
  EXPECT_TRUE(WaitFor([&] { return counter.count() == 100; }));
}

TEST_F(NatsEventLoopTest, WhatNobodyFlushesIsWrittenByTheLoop) {
  Counter counter(server_.url());
  ASSERT_EQ(Publish("alone"), NATS_OK);  // no DeferredFlush, no Flush
  EXPECT_TRUE(WaitFor([&] { return counter.count() == 1; }));
  // nats.c's own round trip goes through the loop both ways.
  EXPECT_EQ(natsConnection_FlushTimeout(nc_, 5000), NATS_OK);
}

TEST_F(NatsEventLoopTest, ABatchLargerThanTheSocketTakesArrivesWhole) {
  Counter counter(server_.url());
  const std::string body(64 * 1024, 'x');
  constexpr int kMessages = 400;  // 25 MiB: far more than one non-blocking write takes
  {
    NatsEventLoop::DeferredFlush defer(loop_);
    for (int i = 0; i < kMessages; ++i) ASSERT_EQ(Publish(body), NATS_OK);
  }
  loop_.Flush(nc_);
  EXPECT_TRUE(WaitFor([&] { return counter.count() == kMessages; }, std::chrono::seconds(30)));
  EXPECT_EQ(counter.bytes(), static_cast<int64_t>(kMessages) * 64 * 1024);
}

TEST_F(NatsEventLoopTest, FollowsTheConnectionThroughAServerRestart) {
  ASSERT_TRUE(server_.Restart());
  ASSERT_TRUE(WaitFor([&] { return natsConnection_Status(nc_) == NATS_CONN_STATUS_CONNECTED; },
                      std::chrono::seconds(20)));
  // After the re-attachment the loop wakes for what happens, not round and round (e.g. polling
  // for a write with nothing to write): ten round trips to the server take a few wake-ups each.
  const uint64_t before = loop_.wakeups();
  for (int i = 0; i < 10; ++i) ASSERT_EQ(natsConnection_FlushTimeout(nc_, 5000), NATS_OK);
  EXPECT_LT(loop_.wakeups() - before, 100u);
  Counter counter(server_.url());
  {
    NatsEventLoop::DeferredFlush defer(loop_);
    ASSERT_EQ(Publish("after"), NATS_OK);
  }
  loop_.Flush(nc_);
  EXPECT_TRUE(WaitFor([&] { return counter.count() == 1; }));
}

}  // namespace
}  // namespace txc
