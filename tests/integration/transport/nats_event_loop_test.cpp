// NatsEventLoop against a real nats-server: what a publisher defers is written by its Flush, what
// nobody flushes is written by the loop, a batch larger than the socket takes at once still
// arrives whole, the loop follows the connection through a server restart, and it hands the
// messages of a synchronous subscription over itself.
#include "nats_event_loop.h"

#include <gtest/gtest.h>
#include <nats/nats.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

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

// Messages of a synchronous subscription given to Deliver() are handed over in order on one
// thread, the loop's, including one that was waiting in the subscription before the call.
TEST_F(NatsEventLoopTest, HandsASynchronousSubscriptionsMessagesOverOnItsThread) {
  natsSubscription* sub = nullptr;
  ASSERT_EQ(natsConnection_SubscribeSync(&sub, nc_, "evloop.in"), NATS_OK);
  ASSERT_EQ(natsConnection_Flush(nc_), NATS_OK);
  natsConnection* other = nullptr;
  ASSERT_EQ(natsConnection_ConnectTo(&other, server_.url().c_str()), NATS_OK);
  ASSERT_EQ(natsConnection_PublishString(other, "evloop.in", "0"), NATS_OK);
  ASSERT_EQ(natsConnection_Flush(other), NATS_OK);
  ASSERT_TRUE(WaitFor([&] {
    int pending = 0;
    return natsSubscription_GetPending(sub, &pending, nullptr) == NATS_OK && pending == 1;
  }));

  std::mutex mu;
  std::vector<std::string> bodies;  // guarded by mu
  std::vector<std::thread::id> threads;
  loop_.Deliver(sub, [&](natsMsg* msg) {
    std::lock_guard lock(mu);
    bodies.emplace_back(natsMsg_GetData(msg), static_cast<size_t>(natsMsg_GetDataLength(msg)));
    threads.push_back(std::this_thread::get_id());
    natsMsg_Destroy(msg);
  });
  // No read announces this one: Deliver() must look for it. (The bound is well under the
  // server's first PING, ~2 s after connecting, whose read would find it too.)
  EXPECT_TRUE(WaitFor(
      [&] {
        std::lock_guard lock(mu);
        return bodies.size() == 1;
      },
      std::chrono::milliseconds(1000)));
  for (int i = 1; i < 100; ++i) {
    ASSERT_EQ(natsConnection_PublishString(other, "evloop.in", std::to_string(i).c_str()), NATS_OK);
  }
  ASSERT_EQ(natsConnection_Flush(other), NATS_OK);
  EXPECT_TRUE(WaitFor([&] {
    std::lock_guard lock(mu);
    return bodies.size() == 100;
  }));
  natsConnection_Close(nc_);
  loop_.Stop();  // no delivery after this
  std::lock_guard lock(mu);
  ASSERT_EQ(bodies.size(), 100u);
  for (size_t i = 0; i < bodies.size(); ++i) EXPECT_EQ(bodies[i], std::to_string(i));
  for (const auto& id : threads) EXPECT_EQ(id, threads.front());
  EXPECT_NE(threads.front(), std::this_thread::get_id());
  natsSubscription_Destroy(sub);
  natsConnection_Destroy(other);
}

// A message counts as consumed when it leaves the subscription, before its handler has it:
// AwaitDeliveries() is what tells that the handler has returned.
TEST_F(NatsEventLoopTest, AwaitDeliveriesReturnsOnceTheHandlerHasReturned) {
  natsSubscription* sub = nullptr;
  ASSERT_EQ(natsConnection_SubscribeSync(&sub, nc_, "evloop.in"), NATS_OK);
  std::mutex mu;
  std::condition_variable cv;
  bool entered = false, released = false;  // guarded by mu
  std::atomic<bool> handled{false};
  loop_.Deliver(sub, [&](natsMsg* msg) {
    natsMsg_Destroy(msg);
    std::unique_lock lock(mu);
    entered = true;
    cv.notify_all();
    cv.wait(lock, [&] { return released; });
    handled = true;
  });
  ASSERT_EQ(natsConnection_Flush(nc_), NATS_OK);
  natsConnection* other = nullptr;
  ASSERT_EQ(natsConnection_ConnectTo(&other, server_.url().c_str()), NATS_OK);
  ASSERT_EQ(natsConnection_PublishString(other, "evloop.in", "x"), NATS_OK);
  ASSERT_EQ(natsConnection_Flush(other), NATS_OK);
  {
    std::unique_lock lock(mu);
    ASSERT_TRUE(cv.wait_for(lock, std::chrono::seconds(10), [&] { return entered; }));
  }
  std::atomic<bool> returned{false};
  std::atomic<bool> handled_on_return{false};
  std::thread waiter([&] {
    loop_.AwaitDeliveries();
    handled_on_return = handled.load();
    returned = true;
  });
  EXPECT_FALSE(WaitFor([&] { return returned.load(); }, std::chrono::milliseconds(200)))
      << "returned while the handler was still running";
  {
    std::lock_guard lock(mu);
    released = true;
  }
  cv.notify_all();
  waiter.join();
  EXPECT_TRUE(handled_on_return.load());
  natsConnection_Close(nc_);
  loop_.Stop();
  natsSubscription_Destroy(sub);
  natsConnection_Destroy(other);
}

}  // namespace
}  // namespace txc
