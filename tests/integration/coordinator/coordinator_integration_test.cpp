// The coordinator's pieces together against a real nats-server: SQLite log, NATS transport,
// engine, and in-process SDK participants with their own SQLite databases.
#include <gtest/gtest.h>
#include <nats/nats.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "api/nats_api.h"
#include "engine/engine.h"
#include "engine/engine_service.h"
#include "log/sqlite_tx_log.h"
#include "nats_server.h"
#include "temp_dir.h"
#include "transport/nats_transport.h"
#include "txc/participant.h"
#include "wait_for.h"

namespace txc {
namespace {

using core::TxState;
using testing::TempDir;
using testing::WaitFor;

// One coordinator process's worth of objects.
struct Coordinator {
  Coordinator(const std::string& db, const std::string& nats_url) {
    auto l = log::SqliteTxLog::Open({.path = db});
    EXPECT_TRUE(l.ok()) << l.status().ToString();
    log = std::move(l).value();
    auto t = transport::NatsTransport::Connect({.url = nats_url});
    EXPECT_TRUE(t.ok()) << t.status().ToString();
    transport = std::move(t).value();
    core::RetryPolicy retry{core::Duration(500), core::Duration(20), core::Duration(200)};
    engine =
        std::make_unique<engine::Engine>(*log, *transport, clock, engine::EngineOptions{retry, {}});
    EXPECT_TRUE(engine->Start().ok());
    service = std::make_unique<engine::EngineService>(*engine, *log, *transport);
  }
  ~Coordinator() {
    engine->Stop();
    service->Stop();
    transport.reset();
    service.reset();
    engine.reset();
    log->Close();
  }

  Result<api::BeginResult> Begin(std::vector<std::string> participants, nlohmann::json payload,
                                 int timeout_ms = 5000) {
    api::BeginCommand cmd;
    cmd.timeout = core::Duration(timeout_ms);
    for (auto& p : participants) cmd.branches.push_back({p, payload, {}});
    return service->Begin(cmd);
  }

  engine::SystemClock clock;
  std::unique_ptr<log::SqliteTxLog> log;
  std::unique_ptr<transport::NatsTransport> transport;
  std::unique_ptr<engine::Engine> engine;
  std::unique_ptr<engine::EngineService> service;
};

// A participant that refuses a prepare whose payload says {"refuse": "<its name>"}.
std::unique_ptr<Participant> StartParticipant(const std::string& name, const std::string& db,
                                              const std::string& nats_url) {
  Participant::Options o;
  o.name = name;
  o.db_path = db;
  o.nats_url = nats_url;
  o.in_doubt_after = std::chrono::milliseconds(300);
  o.resolve_interval = std::chrono::milliseconds(100);
  auto p = Participant::Create(o);
  EXPECT_TRUE(p.ok()) << p.status().ToString();
  (*p)->OnPrepare([name](const BranchContext& ctx) {
    if (ctx.payload.value("refuse", "") == name) return HandlerResult::Refuse("no " + name);
    return HandlerResult::Ok();
  });
  EXPECT_TRUE((*p)->Start().ok());
  return std::move(p).value();
}

// The transaction once it is terminal, read from the log (an error if it is not within 10 s).
Result<core::Transaction> AwaitTerminal(Coordinator& c, const std::string& id) {
  Result<core::Transaction> tx = Status::NotFound(id);
  WaitFor([&] {
    tx = c.service->Get(id);
    return tx.ok() && core::IsTerminal(tx->state);
  });
  if (tx.ok() && !core::IsTerminal(tx->state)) {
    return Status::DeadlineExceeded(id + " is still " + core::TxStateName(tx->state));
  }
  return tx;
}

std::optional<TxState> StateOf(Coordinator& c, const std::string& id) {
  auto tx = c.service->Get(id);
  if (!tx.ok()) return std::nullopt;
  return tx->state;
}

std::string ParticipantState(Participant& p, const std::string& gid, int branch) {
  auto s = p.BranchState(gid, branch);
  return s.ok() && s->has_value() ? **s : "none";
}

class CoordinatorIntegration : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(nats_.Running());
    a_ = StartParticipant("alpha", dir_.File("alpha.db"), nats_.url());
    b_ = StartParticipant("beta", dir_.File("beta.db"), nats_.url());
    coord_ = std::make_unique<Coordinator>(dir_.File("txc.db"), nats_.url());
    ASSERT_TRUE(WaitFor([&] { return coord_->service->Ready().ok(); }));
  }

  testing::NatsServer nats_;
  TempDir dir_;
  std::unique_ptr<Participant> a_, b_;
  std::unique_ptr<Coordinator> coord_;
};

TEST_F(CoordinatorIntegration, CommitsAcrossTwoParticipants) {
  auto begun = coord_->Begin({"alpha", "beta"}, {{"x", 1}});
  ASSERT_TRUE(begun.ok()) << begun.status().ToString();
  auto done = AwaitTerminal(*coord_, begun->tx.id);
  ASSERT_TRUE(done.ok());
  EXPECT_EQ(done->state, TxState::kCommitted) << done->reason;
  EXPECT_EQ(ParticipantState(*a_, begun->tx.id, 0), "committed");
  EXPECT_EQ(ParticipantState(*b_, begun->tx.id, 1), "committed");
  ASSERT_EQ(done->branches.size(), 2u);
  EXPECT_EQ(done->branches[0].history.size(), 2u);  // prepare ok, commit ok
  EXPECT_GT(done->branches[0].history[0].latency_us, 0);
}

TEST_F(CoordinatorIntegration, AbortsWhenOneParticipantRefuses) {
  auto begun = coord_->Begin({"alpha", "beta"}, {{"refuse", "beta"}});
  ASSERT_TRUE(begun.ok());
  auto done = AwaitTerminal(*coord_, begun->tx.id);
  ASSERT_TRUE(done.ok());
  EXPECT_EQ(done->state, TxState::kAborted);
  EXPECT_NE(done->reason.find("no beta"), std::string::npos) << done->reason;
  EXPECT_EQ(ParticipantState(*a_, begun->tx.id, 0), "aborted");
  EXPECT_EQ(ParticipantState(*b_, begun->tx.id, 1), "aborted");
}

TEST_F(CoordinatorIntegration, UnknownParticipantAbortsFastWithNoResponders) {
  auto begun = coord_->Begin({"alpha", "nobody"}, {});
  ASSERT_TRUE(begun.ok());
  auto done = AwaitTerminal(*coord_, begun->tx.id);
  ASSERT_TRUE(done.ok());
  EXPECT_EQ(done->state, TxState::kAborted);
  EXPECT_NE(done->reason.find("no responders"), std::string::npos) << done->reason;
}

// Transactions keep flowing while nats-server restarts under them; every one ends, and each
// participant's outcome is the coordinator's.
TEST_F(CoordinatorIntegration, NatsServerRestartMidRunLosesNothing) {
  std::vector<std::string> ids;
  for (int i = 0; i < 60; ++i) {
    if (i == 20) {
      nats_.Stop();
    }
    if (i == 30) {
      ASSERT_TRUE(nats_.Start());
    }
    auto begun = coord_->Begin({"alpha", "beta"}, {{"refuse", i % 3 == 0 ? "alpha" : ""}},
                               /*timeout_ms=*/20000);
    ASSERT_TRUE(begun.ok()) << begun.status().ToString();
    ids.push_back(begun->tx.id);
  }
  for (const auto& id : ids) {
    ASSERT_TRUE(WaitFor(
        [&] {
          auto s = StateOf(*coord_, id);
          return s && core::IsTerminal(*s);
        },
        std::chrono::seconds(60)))
        << id;
    const TxState s = *StateOf(*coord_, id);
    const std::string expect = s == TxState::kCommitted ? "committed" : "aborted";
    // Participants that never saw the prepare (NATS down) have no record: also a valid abort.
    ASSERT_TRUE(WaitFor([&] {
      const std::string pa = ParticipantState(*a_, id, 0), pb = ParticipantState(*b_, id, 1);
      return (pa == expect || (expect == "aborted" && pa == "none")) &&
             (pb == expect || (expect == "aborted" && pb == "none"));
    })) << id
        << " alpha=" << ParticipantState(*a_, id, 0) << " beta=" << ParticipantState(*b_, id, 1);
  }
  EXPECT_GE(coord_->transport->reconnects(), 1);
}

// The coordinator is torn down with transactions in flight and started again on the same log:
// everything it had accepted finishes, consistently with what participants were told.
TEST_F(CoordinatorIntegration, CoordinatorRestartFinishesEverythingAccepted) {
  std::vector<std::string> ids;
  for (int i = 0; i < 40; ++i) {
    auto begun = coord_->Begin({"alpha", "beta"}, {{"refuse", i % 4 == 0 ? "beta" : ""}});
    ASSERT_TRUE(begun.ok());
    ids.push_back(begun->tx.id);
  }
  coord_.reset();  // stop mid-flight
  coord_ = std::make_unique<Coordinator>(dir_.File("txc.db"), nats_.url());
  for (const auto& id : ids) {
    ASSERT_TRUE(WaitFor(
        [&] {
          auto s = StateOf(*coord_, id);
          return s && core::IsTerminal(*s);
        },
        std::chrono::seconds(30)))
        << id;
    const std::string expect =
        *StateOf(*coord_, id) == TxState::kCommitted ? "committed" : "aborted";
    ASSERT_TRUE(WaitFor([&] {
      return ParticipantState(*a_, id, 0) == expect && ParticipantState(*b_, id, 1) == expect;
    })) << id
        << " expected " << expect;
  }
  EXPECT_EQ(coord_->engine->live_count(), 0u);
}

// A client on NATS starts transactions with a request on txc.coordinator.begin, the API wired as
// main.cpp wires it (docs/protocol.md, "Starting a transaction over NATS").
class NatsApiIntegration : public CoordinatorIntegration {
 protected:
  void SetUp() override {
    CoordinatorIntegration::SetUp();
    transport::NatsTransport* t = coord_->transport.get();
    api::NatsApi::Options options;
    options.respond = [t](const std::string& reply, const api::NatsApi::Headers& h,
                          std::string_view body) { return t->Respond(reply, h, body); };
    options.flush = [t] { (void)t->Flush(); };
    api_ = std::make_unique<api::NatsApi>(*coord_->service, options);
    ASSERT_TRUE(t->ServeApi(std::string(wire::kBeginSubject),
                            [this](std::string reply, std::string body,
                                   transport::NatsTransport::Headers headers) {
                              api_->Handle(reply, body, headers);
                            })
                    .ok());
    ASSERT_EQ(natsConnection_ConnectTo(&client_, nats_.url().c_str()), NATS_OK);
  }
  void TearDown() override {
    coord_->transport->StopServingApi();
    coord_.reset();  // answers what is still open before api_ goes
    natsConnection_Destroy(client_);
  }

  struct Answer {
    int status = 0;
    nlohmann::json body;
  };
  Answer Ask(const std::string& body,
             const std::vector<std::pair<std::string, std::string>>& headers = {}) {
    natsMsg* request = nullptr;
    EXPECT_EQ(natsMsg_Create(&request, std::string(wire::kBeginSubject).c_str(), nullptr,
                             body.data(), static_cast<int>(body.size())),
              NATS_OK);
    for (const auto& [k, v] : headers) natsMsgHeader_Set(request, k.c_str(), v.c_str());
    natsMsg* reply = nullptr;
    const natsStatus s = natsConnection_RequestMsg(&reply, client_, request, 15000);
    natsMsg_Destroy(request);
    EXPECT_EQ(s, NATS_OK) << natsStatus_GetText(s);
    Answer a;
    if (s != NATS_OK) return a;
    const char* status = nullptr;
    if (natsMsgHeader_Get(reply, api::NatsApi::kStatusHeader, &status) == NATS_OK) {
      a.status = std::atoi(status);
    }
    a.body = nlohmann::json::parse(
        std::string(natsMsg_GetData(reply), static_cast<size_t>(natsMsg_GetDataLength(reply))));
    natsMsg_Destroy(reply);
    return a;
  }

  std::unique_ptr<api::NatsApi> api_;
  natsConnection* client_ = nullptr;
};

constexpr const char* kAlphaBeta =
    R"({"protocol":"2pc","branches":[{"participant":"alpha"},{"participant":"beta"}]})";

TEST_F(NatsApiIntegration, WaitsForTheOutcomeLikeThePostWithWaitTrue) {
  Answer a = Ask(kAlphaBeta, {{"Txc-Wait", "true"}});
  ASSERT_EQ(a.status, 201) << a.body;
  EXPECT_EQ(a.body["state"], "committed");
  const std::string id = a.body["id"];
  EXPECT_EQ(ParticipantState(*a_, id, 0), "committed");
  EXPECT_EQ(ParticipantState(*b_, id, 1), "committed");

  Answer refused = Ask(
      R"({"protocol":"2pc","branches":[{"participant":"alpha"},{"participant":"beta","payload":{"refuse":"beta"}}]})",
      {{"Txc-Wait", "true"}});
  ASSERT_EQ(refused.status, 201) << refused.body;
  EXPECT_EQ(refused.body["state"], "aborted");
  EXPECT_EQ(ParticipantState(*a_, refused.body["id"], 0), "aborted");
}

TEST_F(NatsApiIntegration, WithoutAWaitAnswersOnceTheStartIsLogged) {
  Answer a = Ask(kAlphaBeta);
  ASSERT_EQ(a.status, 201) << a.body;
  const std::string id = a.body["id"];
  EXPECT_NE(a.body["state"], "committed");  // answered before the participants were asked
  auto done = AwaitTerminal(*coord_, id);
  ASSERT_TRUE(done.ok());
  EXPECT_EQ(done->state, TxState::kCommitted);
}

TEST_F(NatsApiIntegration, ARetriedRequestGetsTheSameTransactionFromTheLog) {
  Answer first = Ask(kAlphaBeta, {{"Idempotency-Key", "order-42"}, {"Txc-Wait", "true"}});
  ASSERT_EQ(first.status, 201) << first.body;
  ASSERT_EQ(first.body["state"], "committed");
  // Finished: the engine no longer has it, so the answer comes from the log.
  Answer again = Ask(kAlphaBeta, {{"idempotency-key", "order-42"}, {"txc-wait", "true"}});
  EXPECT_EQ(again.status, 200) << again.body;
  EXPECT_EQ(again.body["id"], first.body["id"]);
  EXPECT_EQ(again.body["state"], "committed");
  Answer other = Ask(R"({"protocol":"2pc","branches":[{"participant":"alpha"}]})",
                     {{"Idempotency-Key", "order-42"}});
  EXPECT_EQ(other.status, 422) << other.body;
}

TEST_F(NatsApiIntegration, BadRequestsGetTheRestApisErrors) {
  Answer a = Ask(R"({"protocol":"2pc","branches":[{"participant":"no.dots"}]})");
  EXPECT_EQ(a.status, 400);
  EXPECT_EQ(a.body["error"]["code"], "invalid_argument");
  EXPECT_EQ(Ask("[]").status, 400);
}

}  // namespace
}  // namespace txc
