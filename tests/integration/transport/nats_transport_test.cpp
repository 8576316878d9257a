// NatsTransport against a real nats-server (one per test) and participants built on raw nats.c.
#include "transport/nats_transport.h"

#include <gtest/gtest.h>
#include <nats/nats.h>
#include <signal.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "fake_participant.h"
#include "nats_server.h"
#include "wait_for.h"

namespace txc::transport {
namespace {

using std::chrono::milliseconds;
using testing::FakeParticipant;
using testing::NatsServer;
using testing::WaitFor;

wire::BranchRequest Request(std::string gid, int branch, std::string participant,
                            wire::Op op = wire::Op::kPrepare, int attempt = 1) {
  wire::BranchRequest r;
  r.gid = std::move(gid);
  r.branch = branch;
  r.participant = std::move(participant);
  r.protocol = "2pc";
  r.op = op;
  r.attempt = attempt;
  r.payload = {{"sku", "A-1"}, {"qty", 2}};
  return r;
}

// Collects replies delivered on the transport's thread.
class Replies {
 public:
  Transport::Handlers Handlers() {
    Transport::Handlers h;
    h.on_reply = [this](InboundReply r) {
      std::lock_guard lock(mu_);
      replies_.push_back(std::move(r));
    };
    return h;
  }
  size_t size() {
    std::lock_guard lock(mu_);
    return replies_.size();
  }
  std::vector<InboundReply> all() {
    std::lock_guard lock(mu_);
    return replies_;
  }
  bool WaitForCount(size_t n) {
    return WaitFor([&] { return size() >= n; });
  }

 private:
  std::mutex mu_;
  std::vector<InboundReply> replies_;
};

class NatsTransportTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(server_.Running()); }

  std::unique_ptr<NatsTransport> Connect() {
    NatsTransport::Options options;
    options.url = server_.url();
    options.reconnect_wait = milliseconds(50);
    auto result = NatsTransport::Connect(options);
    EXPECT_TRUE(result.ok()) << result.status().ToString();
    return result.ok() ? std::move(result).value() : nullptr;
  }

  // Sends one request and waits for its reply.
  InboundReply RoundTrip(NatsTransport& transport, Replies& replies,
                         const wire::BranchRequest& request) {
    const size_t before = replies.size();
    EXPECT_TRUE(transport.Send(request).ok());
    EXPECT_TRUE(transport.Flush().ok());
    EXPECT_TRUE(replies.WaitForCount(before + 1));
    auto all = replies.all();
    return all.size() > before ? all[before] : InboundReply{};
  }

  NatsServer server_;
};

// A raw nats.c client, for status queries.
class RawClient {
 public:
  explicit RawClient(const std::string& url) {
    ok_ = natsConnection_ConnectTo(&nc_, url.c_str()) == NATS_OK;
  }
  ~RawClient() { natsConnection_Destroy(nc_); }
  bool ok() const { return ok_; }
  // Returns the reply body, or the nats.c status on failure.
  std::pair<natsStatus, std::string> Request(const std::string& subject, const std::string& body,
                                             int64_t timeout_ms) {
    natsMsg* reply = nullptr;
    natsStatus s = natsConnection_Request(&reply, nc_, subject.c_str(), body.data(),
                                          static_cast<int>(body.size()), timeout_ms);
    std::string data;
    if (s == NATS_OK) data.assign(natsMsg_GetData(reply), natsMsg_GetDataLength(reply));
    natsMsg_Destroy(reply);
    return {s, data};
  }

 private:
  natsConnection* nc_ = nullptr;
  bool ok_ = false;
};

TEST_F(NatsTransportTest, DeliversReplyWithRoutingFieldsAndLatency) {
  FakeParticipant inventory(server_.url(), "inventory");
  ASSERT_TRUE(inventory.ok());
  auto transport = Connect();
  ASSERT_TRUE(transport && transport->Connected());
  Replies replies;
  transport->SetHandlers(replies.Handlers());

  const InboundReply reply =
      RoundTrip(*transport, replies, Request("tx-1", 3, "inventory", wire::Op::kCommit, 2));
  EXPECT_EQ(reply.gid, "tx-1");
  EXPECT_EQ(reply.branch, 3);
  EXPECT_EQ(reply.op, wire::Op::kCommit);
  EXPECT_EQ(reply.attempt, 2);
  EXPECT_EQ(reply.result, core::AttemptResult::kOk);
  EXPECT_EQ(reply.message, "");
  EXPECT_GT(reply.latency_us, 0);
  EXPECT_LT(reply.latency_us, 10'000'000);

  // The participant saw the whole request on its op subject.
  auto requests = inventory.requests();
  ASSERT_EQ(requests.size(), 1u);
  EXPECT_EQ(requests[0].gid, "tx-1");
  EXPECT_EQ(requests[0].participant, "inventory");
  EXPECT_EQ(requests[0].protocol, "2pc");
  EXPECT_EQ(requests[0].payload["sku"], "A-1");
}

TEST_F(NatsTransportTest, ThousandRequestsInFlightAcrossParticipantsAllGetReplies) {
  const std::vector<std::string> names = {"orders", "inventory", "payments", "shipping"};
  std::vector<std::unique_ptr<FakeParticipant>> participants;
  for (const auto& name : names) {
    participants.push_back(std::make_unique<FakeParticipant>(server_.url(), name));
    ASSERT_TRUE(participants.back()->ok());
  }
  auto transport = Connect();
  ASSERT_TRUE(transport);
  Replies replies;
  transport->SetHandlers(replies.Handlers());

  constexpr int kRequests = 1000;
  for (int i = 0; i < kRequests; ++i) {
    ASSERT_TRUE(transport->Send(Request("tx-" + std::to_string(i / 4), i % 4, names[i % 4])).ok());
  }
  ASSERT_TRUE(transport->Flush().ok());
  ASSERT_TRUE(replies.WaitForCount(kRequests)) << replies.size() << " replies";

  std::set<std::pair<std::string, int>> seen;
  for (const auto& r : replies.all()) {
    EXPECT_EQ(r.result, core::AttemptResult::kOk) << r.message;
    seen.emplace(r.gid, r.branch);
  }
  EXPECT_EQ(seen.size(), static_cast<size_t>(kRequests));
  for (const auto& p : participants) EXPECT_EQ(p->received(), kRequests / 4);
}

TEST_F(NatsTransportTest, MapsRefusedAndErrorOutcomes) {
  FakeParticipant payments(server_.url(), "payments", [](const wire::BranchRequest& r) {
    const auto outcome = r.branch == 0 ? wire::Outcome::kRefused : wire::Outcome::kError;
    const std::string why = r.branch == 0 ? "insufficient funds" : "database busy";
    return std::optional(wire::Encode(wire::BranchReply{r.gid, r.branch, r.op, outcome, why}));
  });
  ASSERT_TRUE(payments.ok());
  auto transport = Connect();
  ASSERT_TRUE(transport);
  Replies replies;
  transport->SetHandlers(replies.Handlers());

  const InboundReply refused = RoundTrip(*transport, replies, Request("tx-r", 0, "payments"));
  EXPECT_EQ(refused.result, core::AttemptResult::kRefused);
  EXPECT_EQ(refused.message, "insufficient funds");
  const InboundReply error = RoundTrip(*transport, replies, Request("tx-r", 1, "payments"));
  EXPECT_EQ(error.result, core::AttemptResult::kError);
  EXPECT_EQ(error.message, "database busy");
}

TEST_F(NatsTransportTest, MalformedReplyBodyIsAnError) {
  FakeParticipant broken(server_.url(), "broken", [](const wire::BranchRequest&) {
    return std::optional<std::string>("{");
  });
  ASSERT_TRUE(broken.ok());
  auto transport = Connect();
  ASSERT_TRUE(transport);
  Replies replies;
  transport->SetHandlers(replies.Handlers());

  const InboundReply reply = RoundTrip(*transport, replies, Request("tx-m", 1, "broken"));
  EXPECT_EQ(reply.gid, "tx-m");
  EXPECT_EQ(reply.branch, 1);
  EXPECT_EQ(reply.result, core::AttemptResult::kError);
  EXPECT_EQ(reply.message.rfind("malformed reply: ", 0), 0u) << reply.message;
}

TEST_F(NatsTransportTest, ReplyNamingAnotherBranchIsMalformed) {
  FakeParticipant confused(server_.url(), "confused", [](const wire::BranchRequest& r) {
    return std::optional(
        wire::Encode(wire::BranchReply{r.gid, r.branch + 1, r.op, wire::Outcome::kOk, ""}));
  });
  ASSERT_TRUE(confused.ok());
  auto transport = Connect();
  ASSERT_TRUE(transport);
  Replies replies;
  transport->SetHandlers(replies.Handlers());

  const InboundReply reply = RoundTrip(*transport, replies, Request("tx-c", 0, "confused"));
  EXPECT_EQ(reply.branch, 0);
  EXPECT_EQ(reply.result, core::AttemptResult::kError);
  EXPECT_EQ(reply.message.rfind("malformed reply: ", 0), 0u) << reply.message;
}

// nats.c announces headers + no_responders in CONNECT, so the server answers a PublishRequest
// nobody receives with a 503 status message on the reply subject, which our wildcard inbox gets.
TEST_F(NatsTransportTest, NoSubscriberGivesNoResponders) {
  auto transport = Connect();
  ASSERT_TRUE(transport);
  Replies replies;
  transport->SetHandlers(replies.Handlers());

  const InboundReply reply =
      RoundTrip(*transport, replies, Request("tx-n", 2, "nobody", wire::Op::kAbort, 4));
  EXPECT_EQ(reply.gid, "tx-n");
  EXPECT_EQ(reply.branch, 2);
  EXPECT_EQ(reply.op, wire::Op::kAbort);
  EXPECT_EQ(reply.attempt, 4);
  EXPECT_EQ(reply.result, core::AttemptResult::kNoResponders);
}

TEST_F(NatsTransportTest, RejectsGidsAndParticipantsThatAreNotSubjectTokens) {
  auto transport = Connect();
  ASSERT_TRUE(transport);
  for (const std::string gid : {"", "a.b", "a*", "tx>", "a b", "a\tb", "a\nb"}) {
    const Status s = transport->Send(Request(gid, 0, "inventory"));
    EXPECT_EQ(s.code(), StatusCode::kInvalidArgument) << "gid '" << gid << "'";
  }
  for (const std::string name : {"", "in.ventory", "inv*", "inv>", "in ventory"}) {
    const Status s = transport->Send(Request("tx-1", 0, name));
    EXPECT_EQ(s.code(), StatusCode::kInvalidArgument) << "participant '" << name << "'";
  }
  EXPECT_TRUE(transport->Send(Request("tx-1_ok-2", 0, "inventory")).ok());
}

TEST_F(NatsTransportTest, AnswersStatusQueries) {
  auto transport = Connect();
  ASSERT_TRUE(transport);
  Transport::Handlers handlers;
  handlers.on_status_query = [](const wire::StatusQuery& q) {
    return wire::StatusReply{q.gid,
                             q.gid == "tx-done" ? wire::Decision::kCommit : wire::Decision::kAbort};
  };
  transport->SetHandlers(handlers);
  RawClient client(server_.url());
  ASSERT_TRUE(client.ok());

  auto [s, body] = client.Request(std::string(wire::kStatusSubject),
                                  wire::Encode(wire::StatusQuery{"tx-done"}), 5000);
  ASSERT_EQ(s, NATS_OK) << natsStatus_GetText(s);
  auto reply = wire::DecodeStatusReply(body);
  ASSERT_TRUE(reply.ok()) << reply.status().ToString();
  EXPECT_EQ(reply->gid, "tx-done");
  EXPECT_EQ(reply->decision, wire::Decision::kCommit);
}

TEST_F(NatsTransportTest, MalformedStatusQueryGetsNoAnswer) {
  auto transport = Connect();
  ASSERT_TRUE(transport);
  std::atomic<int> calls{0};
  Transport::Handlers handlers;
  handlers.on_status_query = [&](const wire::StatusQuery& q) {
    ++calls;
    return wire::StatusReply{q.gid, wire::Decision::kAbort};
  };
  transport->SetHandlers(handlers);
  RawClient client(server_.url());
  ASSERT_TRUE(client.ok());

  // A negative check needs a bounded wait: the request's own timeout.
  auto [s, body] = client.Request(std::string(wire::kStatusSubject), "not json", 300);
  EXPECT_EQ(s, NATS_TIMEOUT) << body;
  EXPECT_EQ(calls.load(), 0);
  // The subscription still works afterwards.
  auto [s2, body2] = client.Request(std::string(wire::kStatusSubject),
                                    wire::Encode(wire::StatusQuery{"tx-2"}), 5000);
  EXPECT_EQ(s2, NATS_OK);
  EXPECT_EQ(calls.load(), 1);
}

TEST_F(NatsTransportTest, SlowStatusHandlerDoesNotDelayReplies) {
  FakeParticipant inventory(server_.url(), "inventory");
  ASSERT_TRUE(inventory.ok());
  auto transport = Connect();
  ASSERT_TRUE(transport);
  std::mutex mu;
  std::condition_variable cv;
  bool release = false;
  std::atomic<bool> in_status{false};
  Replies replies;
  Transport::Handlers handlers = replies.Handlers();
  handlers.on_status_query = [&](const wire::StatusQuery& q) {
    in_status = true;
    std::unique_lock lock(mu);
    cv.wait(lock, [&] { return release; });
    return wire::StatusReply{q.gid, wire::Decision::kPending};
  };
  transport->SetHandlers(handlers);

  RawClient client(server_.url());
  ASSERT_TRUE(client.ok());
  std::thread asker([&] {
    auto result = client.Request(std::string(wire::kStatusSubject),
                                 wire::Encode(wire::StatusQuery{"tx-s"}), 10000);
    EXPECT_EQ(result.first, NATS_OK);
  });
  ASSERT_TRUE(WaitFor([&] { return in_status.load(); }));

  const InboundReply reply = RoundTrip(*transport, replies, Request("tx-s", 0, "inventory"));
  EXPECT_EQ(reply.result, core::AttemptResult::kOk);
  {
    std::lock_guard lock(mu);
    release = true;
  }
  cv.notify_all();
  asker.join();
}

TEST_F(NatsTransportTest, MessagesArrivingWithoutHandlersAreDropped) {
  FakeParticipant inventory(server_.url(), "inventory");
  ASSERT_TRUE(inventory.ok());
  auto transport = Connect();
  ASSERT_TRUE(transport);
  // No handlers yet: a status query goes unanswered (bounded by the request's own timeout)...
  RawClient client(server_.url());
  ASSERT_TRUE(client.ok());
  EXPECT_EQ(client
                .Request(std::string(wire::kStatusSubject),
                         wire::Encode(wire::StatusQuery{"tx-early"}), 300)
                .first,
            NATS_TIMEOUT);
  // ... and a reply is dropped without harm (it may also land after SetHandlers below).
  ASSERT_TRUE(transport->Send(Request("tx-early", 0, "inventory")).ok());
  ASSERT_TRUE(transport->Flush().ok());
  ASSERT_TRUE(WaitFor([&] { return inventory.received() == 1; }));

  Replies replies;
  transport->SetHandlers(replies.Handlers());
  ASSERT_TRUE(transport->Send(Request("tx-late", 0, "inventory")).ok());
  ASSERT_TRUE(transport->Flush().ok());
  EXPECT_TRUE(WaitFor([&] {
    for (const auto& r : replies.all()) {
      if (r.gid == "tx-late") return true;
    }
    return false;
  }));
}

TEST_F(NatsTransportTest, ReconnectsAfterServerRestartAndSendsAgain) {
  FakeParticipant inventory(server_.url(), "inventory");
  ASSERT_TRUE(inventory.ok());
  auto transport = Connect();
  ASSERT_TRUE(transport && transport->Connected());
  Replies replies;
  transport->SetHandlers(replies.Handlers());
  EXPECT_EQ(RoundTrip(*transport, replies, Request("tx-a", 0, "inventory")).result,
            core::AttemptResult::kOk);

  server_.Stop();
  ASSERT_TRUE(WaitFor([&] { return !transport->Connected(); }));
  ASSERT_TRUE(server_.Start());
  ASSERT_TRUE(WaitFor([&] { return transport->Connected(); }));
  // The reconnected callback runs on nats.c's callback thread, shortly after the status flips.
  EXPECT_TRUE(WaitFor([&] { return transport->reconnects() == 1; }));
  ASSERT_TRUE(WaitFor([&] { return inventory.Connected(); }));
  ASSERT_TRUE(inventory.Sync());  // its subscription is back on the server

  const InboundReply reply = RoundTrip(*transport, replies, Request("tx-b", 0, "inventory"));
  EXPECT_EQ(reply.gid, "tx-b");
  EXPECT_EQ(reply.result, core::AttemptResult::kOk);
}

TEST_F(NatsTransportTest, ConnectsWhenServerStartsLater) {
  server_.Stop();
  auto transport = Connect();
  ASSERT_TRUE(transport);
  EXPECT_FALSE(transport->Connected());
  Replies replies;
  transport->SetHandlers(replies.Handlers());

  ASSERT_TRUE(server_.Start());
  ASSERT_TRUE(WaitFor([&] { return transport->Connected(); }));
  FakeParticipant inventory(server_.url(), "inventory");
  ASSERT_TRUE(inventory.ok());
  const InboundReply reply = RoundTrip(*transport, replies, Request("tx-l", 0, "inventory"));
  EXPECT_EQ(reply.result, core::AttemptResult::kOk);
}

// A server that stops reading (frozen) must not make the send buffer grow without end: once
// the unwritten bytes pass the reconnect buffer's size, sends are refused like lost messages.
TEST_F(NatsTransportTest, ASendIsRefusedWhenTheServerStopsReading) {
  auto transport = Connect();
  ASSERT_TRUE(transport);
  ASSERT_EQ(kill(server_.pid(), SIGSTOP), 0);
  wire::BranchRequest big = Request("tx-big", 0, "inventory");
  big.payload = {{"blob", std::string(64 * 1024, 'x')}};
  Status last = Status::Ok();
  for (int i = 0; i < 2000 && last.ok(); ++i) {  // up to 128 MiB
    last = transport->Send(big);
    (void)transport->Flush();
  }
  ASSERT_EQ(kill(server_.pid(), SIGCONT), 0);
  EXPECT_EQ(last.code(), StatusCode::kUnavailable) << last.ToString();
}

TEST_F(NatsTransportTest, DestroysCleanlyWhileServerIsDown) {
  server_.Stop();
  auto transport = Connect();
  ASSERT_TRUE(transport);
  EXPECT_TRUE(transport->Send(Request("tx-d", 0, "inventory")).ok());  // buffered
  transport.reset();  // must not hang or leave callbacks behind
}

TEST_F(NatsTransportTest, NoHandlerRunsAfterDestruction) {
  FakeParticipant inventory(server_.url(), "inventory");
  ASSERT_TRUE(inventory.ok());
  auto transport = Connect();
  ASSERT_TRUE(transport);
  std::atomic<bool> destroyed{false};
  std::atomic<bool> late_call{false};
  std::atomic<int> calls{0};
  Transport::Handlers handlers;
  handlers.on_reply = [&](InboundReply) {
    if (destroyed) late_call = true;
    std::this_thread::sleep_for(std::chrono::microseconds(200));  // a slowish handler
    ++calls;
  };
  transport->SetHandlers(handlers);
  for (int i = 0; i < 200; ++i) ASSERT_TRUE(transport->Send(Request("tx-x", i, "inventory")).ok());
  ASSERT_TRUE(transport->Flush().ok());
  ASSERT_TRUE(WaitFor([&] { return calls.load() > 0; }));

  transport.reset();
  destroyed = true;
  const int calls_at_destruction = calls.load();
  EXPECT_FALSE(WaitFor([&] { return late_call.load(); }, milliseconds(100)));
  EXPECT_EQ(calls.load(), calls_at_destruction);
}

}  // namespace
}  // namespace txc::transport
