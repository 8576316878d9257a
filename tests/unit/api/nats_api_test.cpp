// NatsApi: what a start request over NATS is answered, with a scripted service and the answers
// captured instead of published.
#include "api/nats_api.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "http_api_fixture.h"

namespace txc::api {
namespace {

using http_test::FakeService;
using http_test::kGood;
using nlohmann::json;

struct Answered {
  std::string reply;
  NatsApi::Headers headers;
  std::string body;
  int status() const {
    for (const auto& [k, v] : headers) {
      if (k == NatsApi::kStatusHeader) return std::stoi(v);
    }
    return 0;
  }
  json Body() const { return json::parse(body); }
};

class NatsApiTest : public ::testing::Test {
 protected:
  NatsApi::Options Options() {
    NatsApi::Options o;
    o.max_body_bytes = 4096;
    o.respond = [this](const std::string& reply, const NatsApi::Headers& headers,
                       std::string_view body) -> Status {
      if (too_large_for_nats_ && body.find("\"error\"") == std::string_view::npos) {
        return Status::ResourceExhausted("the answer exceeds the NATS server's max_payload");
      }
      answers_.push_back({reply, headers, std::string(body)});
      return Status::Ok();
    };
    o.flush = [this] { ++flushes_; };
    return o;
  }
  // The one answer to a request; fails the test if there is not exactly one.
  Answered Ask(NatsApi& api, std::string_view body, const NatsApi::Headers& headers = {}) {
    answers_.clear();
    api.Handle("_INBOX.abc.1", body, headers);
    EXPECT_EQ(answers_.size(), 1u);
    if (answers_.size() != 1) return {};
    EXPECT_EQ(answers_[0].reply, "_INBOX.abc.1");
    return answers_[0];
  }

  FakeService service_;
  std::vector<Answered> answers_;
  int flushes_ = 0;
  bool too_large_for_nats_ = false;  // the fake NATS server refuses every transaction body
};

TEST_F(NatsApiTest, StartsATransactionAndAnswersWithItsStatusAndBody) {
  NatsApi api(service_, Options());
  Answered a = Ask(api, kGood);
  EXPECT_EQ(a.status(), 201);
  EXPECT_EQ(a.Body()["id"], "tx1");
  EXPECT_EQ(a.Body()["branches"][0]["participant"], "inv");
  EXPECT_EQ(service_.begin_async_calls, 1);
  EXPECT_FALSE(service_.last_begin.wait.has_value());  // no Txc-Wait: answered once logged
}

TEST_F(NatsApiTest, ReadsHeadersWhateverTheirCase) {
  NatsApi api(service_, Options());
  const std::string tp = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
  Answered a = Ask(api, kGood,
                   {{"idempotency-key", "order-7"}, {"Traceparent", tp}, {"TXC-WAIT", "decision"}});
  EXPECT_EQ(a.status(), 201);
  EXPECT_EQ(service_.last_begin.idempotency_key, "order-7");
  EXPECT_FALSE(service_.last_begin.request_hash.empty());
  EXPECT_EQ(service_.last_begin.traceparent, tp);
  ASSERT_TRUE(service_.last_begin.wait.has_value());
  EXPECT_TRUE(service_.last_begin.wait_for_decision);
  // The same key again is the earlier transaction: 200, as over HTTP.
  EXPECT_EQ(Ask(api, kGood, {{"Idempotency-Key", "order-7"}}).status(), 200);
}

TEST_F(NatsApiTest, WaitsForTheEndWithTxcWaitTrue) {
  NatsApi::Options o = Options();
  o.max_wait = core::Duration(7000);
  NatsApi api(service_, o);
  Answered a = Ask(api, kGood, {{"Txc-Wait", "true"}});
  EXPECT_EQ(a.Body()["state"], "committed");
  ASSERT_TRUE(service_.last_begin.wait.has_value());
  EXPECT_EQ(*service_.last_begin.wait, core::Duration(7000));  // capped by max_wait
  EXPECT_FALSE(service_.last_begin.wait_for_decision);
}

TEST_F(NatsApiTest, BadRequestsAreAnsweredAtOnceAndFlushed) {
  NatsApi api(service_, Options());
  struct Case {
    std::string body;
    NatsApi::Headers headers;
    int status;
    std::string message_has;
  };
  const std::vector<Case> cases = {
      {"{not json", {}, 400, "JSON"},
      {R"({"protocol":"2pc","branches":[]})", {}, 400, "branches"},
      {kGood, {{"Txc-Wait", "later"}}, 400, "wait must be"},
      {kGood, {{"Idempotency-Key", std::string(200, 'k')}}, 400, "Idempotency-Key"},
      {std::string(5000, ' '), {}, 413, "too large"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.body.substr(0, 40));
    const int flushes = flushes_;
    Answered a = Ask(api, c.body, c.headers);
    EXPECT_EQ(a.status(), c.status);
    EXPECT_NE(a.Body()["error"]["message"].get<std::string>().find(c.message_has),
              std::string::npos)
        << a.body;
    EXPECT_EQ(flushes_, flushes + 1);
  }
  EXPECT_EQ(service_.begin_async_calls, 0);
}

TEST_F(NatsApiTest, NeedsTheTokenWhenTheCoordinatorHasOne) {
  NatsApi::Options o = Options();
  o.api_token = "s3cret";
  NatsApi api(service_, o);
  EXPECT_EQ(Ask(api, kGood).status(), 401);
  EXPECT_EQ(Ask(api, kGood, {{"Authorization", "Bearer wrong!"}}).status(), 401);
  EXPECT_EQ(Ask(api, kGood, {{"Authorization", "s3cret"}}).status(), 401);
  EXPECT_EQ(service_.begin_async_calls, 0);
  EXPECT_EQ(Ask(api, kGood, {{"authorization", "Bearer s3cret"}}).status(), 201);
}

TEST_F(NatsApiTest, AdmissionAndServiceErrorsKeepTheirStatus) {
  NatsApi::Options o = Options();
  o.admit = [](const BeginCommand& cmd) {
    if (cmd.branches[0].participant == "gone") {
      return Status::FailedPrecondition("participant 'gone' has no live instance");
    }
    return Status::Ok();
  };
  NatsApi api(service_, o);
  Answered refused = Ask(api, R"({"protocol":"2pc","branches":[{"participant":"gone"}]})");
  EXPECT_EQ(refused.status(), 409);
  EXPECT_EQ(refused.Body()["error"]["code"], "failed_precondition");
  service_.begin_error = Status::Unavailable("the coordinator is shutting down");
  Answered down = Ask(api, kGood);
  EXPECT_EQ(down.status(), 503);
  EXPECT_EQ(down.Body()["error"]["message"], "the coordinator is shutting down");
}

TEST_F(NatsApiTest, AHeaderSentTwiceIsRefusedNotGuessed) {
  NatsApi api(service_, Options());
  Answered a = Ask(api, kGood, {{"Idempotency-Key", "a"}, {"idempotency-key", "b"}});
  EXPECT_EQ(a.status(), 400);
  EXPECT_NE(a.body.find("Idempotency-Key is sent twice"), std::string::npos) << a.body;
  EXPECT_EQ(service_.begin_async_calls, 0);
}

TEST_F(NatsApiTest, AnAnswerTooLargeForNatsStillNamesTheTransaction) {
  NatsApi api(service_, Options());
  too_large_for_nats_ = true;
  Answered a = Ask(api, kGood);
  EXPECT_EQ(a.status(), 413);
  EXPECT_EQ(a.Body()["error"]["code"], "resource_exhausted");
  EXPECT_NE(a.body.find("GET /v1/transactions/tx1"), std::string::npos) << a.body;
  EXPECT_EQ(service_.begin_async_calls, 1);  // it was started
}

TEST_F(NatsApiTest, AServiceThatThrowsIsAnswered500AndTheApiGoesOn) {
  NatsApi api(service_, Options());
  service_.throw_on_begin = true;
  EXPECT_EQ(Ask(api, kGood).status(), 500);
  service_.throw_on_begin = false;
  EXPECT_EQ(Ask(api, kGood).status(), 201);
}

}  // namespace
}  // namespace txc::api
