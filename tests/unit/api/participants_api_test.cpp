// GET /v1/participants and the liveness check before POST /v1/transactions, over real HTTP.
#include <gtest/gtest.h>
#include <httplib.h>

#include <memory>

#include "api/http_api.h"
#include "fake_clock.h"
#include "liveness/participant_registry.h"

namespace txc::api {
namespace {

using nlohmann::json;
using std::chrono::milliseconds;

// Counts Begin calls; everything else is unused here.
class CountingService : public TransactionService {
 public:
  Result<BeginResult> Begin(const BeginCommand&) override {
    ++begins;
    core::Transaction tx;
    tx.id = "tx1";
    return BeginResult{tx, true};
  }
  void BeginAsync(const BeginCommand& command, BeginDone done) override { done(Begin(command)); }
  Result<core::Transaction> Get(const std::string&) override { return Status::NotFound("none"); }
  Result<log::TxPage> List(const log::TxFilter&) override { return log::TxPage{}; }
  Result<core::Transaction> Abort(const std::string&, const std::string&) override {
    return Status::NotFound("none");
  }
  Result<core::Transaction> Retry(const std::string&) override { return Status::NotFound("none"); }
  Status Ready() override { return Status::Ok(); }

  int begins = 0;
};

class ParticipantsApiTest : public ::testing::Test {
 protected:
  void Start(HttpApi::Options o) {
    o.port = 0;
    api_ = std::make_unique<HttpApi>(service_, std::move(o));
    ASSERT_TRUE(api_->Start().ok());
    client_ = std::make_unique<httplib::Client>("127.0.0.1", api_->port());
  }

  json GetParticipants(int expected_status = 200) {
    auto r = client_->Get("/v1/participants");
    EXPECT_TRUE(r);
    if (!r) return json();
    EXPECT_EQ(r->status, expected_status) << r->body;
    EXPECT_EQ(r->get_header_value("Content-Type"), "application/json");
    return json::parse(r->body);
  }

  testing::FakeClock clock_;
  liveness::ParticipantRegistry registry_{clock_};
  CountingService service_;
  std::unique_ptr<HttpApi> api_;
  std::unique_ptr<httplib::Client> client_;
};

TEST_F(ParticipantsApiTest, ListsParticipantsWithTheirInstances) {
  HttpApi::Options o;
  o.participants = &registry_;
  Start(o);
  EXPECT_EQ(GetParticipants(), json::parse(R"({"participants":[]})"));

  registry_.ConnectionChanged(true);
  registry_.Heard({"order", "order-b", 1000, false});
  clock_.Advance(milliseconds(2500));
  registry_.Heard({"order", "order-a", 1000, false});
  registry_.Heard({"inventory", "inventory-1", 500, false});
  clock_.Advance(milliseconds(600));
  const std::string seen = core::ToIso8601(clock_.Now() - milliseconds(600));
  const int64_t seen_ms = core::ToMillis(clock_.Now() - milliseconds(600));

  const json body = GetParticipants();
  const json expected = {{"participants",
                          {{{"name", "inventory"},
                            {"live", true},
                            {"instances",
                             {{{"id", "inventory-1"},
                               {"live", true},
                               {"last_seen", seen},
                               {"last_seen_ms", seen_ms},
                               {"age_ms", 600},
                               {"interval_ms", 500}}}}},
                           {{"name", "order"},
                            {"live", true},
                            {"instances",
                             {{{"id", "order-a"},
                               {"live", true},
                               {"last_seen", seen},
                               {"last_seen_ms", seen_ms},
                               {"age_ms", 600},
                               {"interval_ms", 1000}},
                              {{"id", "order-b"},
                               {"live", false},  // 3.1 s of silence
                               {"last_seen", core::ToIso8601(clock_.Now() - milliseconds(3100))},
                               {"last_seen_ms", core::ToMillis(clock_.Now() - milliseconds(3100))},
                               {"age_ms", 3100},
                               {"interval_ms", 1000}}}}}}}};
  EXPECT_EQ(body, expected) << body.dump(2);
  EXPECT_EQ(body["participants"][0]["instances"][0]["last_seen"].get<std::string>().back(), 'Z');
}

TEST_F(ParticipantsApiTest, WithoutARegistryTheListIsUnavailable) {
  Start(HttpApi::Options{});
  const json body = GetParticipants(503);
  EXPECT_EQ(body["error"]["code"], "unavailable");
}

TEST_F(ParticipantsApiTest, AnAdmissionRefusalIsAnsweredBeforeAnythingIsBegun) {
  HttpApi::Options o;
  o.participants = &registry_;
  o.admit = [this](const BeginCommand& command) {
    std::vector<std::string> names;
    for (const auto& b : command.branches) names.push_back(b.participant);
    return registry_.CheckLive(names);
  };
  Start(o);
  registry_.ConnectionChanged(true);
  registry_.Heard({"order", "order-1", 1000, false});
  const std::string body =
      R"({"protocol":"2pc","branches":[{"participant":"order"},{"participant":"payments"}]})";

  // Within the grace period after connecting, nothing is refused.
  auto r = client_->Post("/v1/transactions", body, "application/json");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 201) << r->body;
  EXPECT_EQ(service_.begins, 1);

  clock_.Advance(milliseconds(3000));
  registry_.Heard({"order", "order-1", 1000, false});
  r = client_->Post("/v1/transactions", body, "application/json");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 409);
  const json refusal = {
      {"error",
       {{"code", "failed_precondition"},
        {"message", "participant \"payments\" has no live instance (no heartbeat within 3 s)"}}}};
  EXPECT_EQ(json::parse(r->body), refusal);
  EXPECT_EQ(service_.begins, 1) << "refused before the service saw it";

  // A malformed request is still a 400: parsing comes first.
  r = client_->Post("/v1/transactions", R"({"protocol":"2pc"})", "application/json");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 400);

  registry_.Heard({"payments", "payments-1", 1000, false});
  r = client_->Post("/v1/transactions", body, "application/json");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 201) << r->body;
  EXPECT_EQ(service_.begins, 2);
}

}  // namespace
}  // namespace txc::api
